"""The secrets store and the worker's view of it, without processes: rules, format, masking."""

from __future__ import annotations

import json
import logging
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodeisle.config import dotenv as _dotenv
from nodeisle.config.secrets import SecretsError, SecretsStore, check_name
from nodeisle.config.views import SecretsView, ViewsLaunch, is_reserved
from nodeisle.orchestrator.workers import INHERITED_ENV, WorkerProvision
from nodeisle.requests import (
    GetSecretValueResult,
    RefreshSecretsRequest,
    SetSecretValueRequest,
)
from nodeisle.worker.runtime import LaunchConfig

SECRET = "s3cr3t-value-do-not-print"


def new_store(tmp_path: Path, environ: dict[str, str] | None = None) -> tuple[SecretsStore, dict[str, str]]:
    env = dict(environ or {})
    return SecretsStore(tmp_path / ".env", env), env


# -- the .env format ------------------------------------------------------------------------------
def test_dotenv_parses_exports_quotes_escapes_comments_and_multiline_values() -> None:
    text = (
        "# a comment\n"
        "export PLAIN=value  # trailing comment\n"
        "SINGLE='a $literal \\' quote'\n"
        'DOUBLE="line\\none \\"q\\" \\\\ end"  # comment\n'
        'MULTI="first\n'
        'second"\n'
        "EMPTY=\n"
        "SPACED = padded \n"
        "PLAIN=later wins\n"
    )
    assert _dotenv.parse(text).values() == {
        "PLAIN": "later wins",
        "SINGLE": "a $literal ' quote",
        "DOUBLE": 'line\none "q" \\ end',
        "MULTI": "first\nsecond",
        "EMPTY": "",
        "SPACED": "padded",
    }


def test_dotenv_reports_bad_lines_by_number_only() -> None:
    parsed = _dotenv.parse(f"GOOD=1\nnot an assignment {SECRET}\nX='a' trailing\nOPEN='{SECRET}\n")
    assert parsed.values() == {"GOOD": "1"}
    assert parsed.bad_lines == [2, 3, 4]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_value_written_reads_back_unchanged(value: str) -> None:
    document = _dotenv.DotenvDocument("# keep me\nOTHER=1\n")
    document.set("KEY", value)
    assert document.values() == {"OTHER": "1", "KEY": value}
    assert document.lines[0] == "# keep me"


def test_editing_keeps_comments_and_other_lines_and_removes_duplicates() -> None:
    document = _dotenv.DotenvDocument("# header\nA=1\nB='multi\nline'\nA=2\n\n# footer\n")
    document.set("A", "3")
    document.set("B", "plain")
    assert document.text() == "# header\nB=plain\nA=3\n\n# footer\n"
    assert document.delete("A") and not document.delete("A")
    assert document.text() == "# header\nB=plain\n\n# footer\n"


# -- names ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["PATH", "VIRTUAL_ENV", "PYTHONPATH", "NODEISLE_HOME", "LD_PRELOAD", "HOME"])
def test_names_that_steer_the_worker_cannot_be_secrets(name: str) -> None:
    with pytest.raises(SecretsError, match="reserved"):
        check_name(name)


@pytest.mark.parametrize(
    "name", ["HTTPS_PROXY", "http_proxy", "ALL_PROXY", "NO_PROXY", "PIP_INDEX_URL", "UV_INDEX_URL", "SSL_CERT_FILE",
             "REQUESTS_CA_BUNDLE", "CC", "LDFLAGS", "GIT_SSH_COMMAND"],
)
def test_names_that_steer_env_builds_or_the_network_cannot_be_secrets(name: str, tmp_path: Path) -> None:
    """Regression: a secret named HTTPS_PROXY was exported into the orchestrator's environment, reaching env builds."""
    with pytest.raises(SecretsError, match="only the operator's OS environment sets those"):
        check_name(name)
    environ: dict[str, str] = {}
    store = SecretsStore(tmp_path / ".env", environ=environ)
    (tmp_path / ".env").write_text(f"{name}=http://127.0.0.1:9\nPLAIN=1\n")  # a hand-edited file
    store.export(store.secret_names())
    assert environ == {"PLAIN": "1"}


def test_every_variable_a_worker_inherits_is_reserved() -> None:
    assert all(is_reserved(name) for name in (*INHERITED_ENV, "PATH", "VIRTUAL_ENV", "PYTHONUNBUFFERED"))


def test_an_invalid_name_says_what_a_name_may_contain(tmp_path: Path) -> None:
    store, _ = new_store(tmp_path)
    with pytest.raises(SecretsError, match="letters, digits and '_'"):
        store.set("1BAD-NAME", "x")


# -- the store --------------------------------------------------------------------------------------
def test_the_file_is_written_atomically_with_mode_0600(tmp_path: Path) -> None:
    store, _ = new_store(tmp_path)
    store.set("API_KEY", SECRET)
    path = tmp_path / ".env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _dotenv.parse(path.read_text()).values() == {"API_KEY": SECRET}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env", ".env.lock"]


def test_an_operator_variable_wins_over_the_file_and_survives_rereads_and_deletes(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TOKEN=from-file\n")
    store, env = new_store(tmp_path, {"TOKEN": "from-operator"})
    assert store.get("TOKEN") == "from-operator"
    (tmp_path / ".env").write_text("TOKEN=edited\n")  # someone edits the file; the next read re-reads it
    assert store.get("TOKEN") == "from-operator"
    assert store.delete("TOKEN")
    assert store.get("TOKEN") == "from-operator" and env["TOKEN"] == "from-operator"


def test_set_overrides_an_operator_value_and_warns_naming_the_key_not_the_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, _ = new_store(tmp_path, {"TOKEN": "from-operator"})
    assert store.set("TOKEN", SECRET) is True
    assert store.get("TOKEN") == SECRET
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'TOKEN'" in warnings[0].getMessage()
    assert SECRET not in caplog.text
    assert store.delete("TOKEN") and store.get("TOKEN") == "from-operator"  # the override ends with the delete


def test_set_of_a_key_the_operator_did_not_set_does_not_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store, _ = new_store(tmp_path)
    assert store.set("FRESH", "v") is False
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_unreadable_lines_are_reported_by_number_without_their_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / ".env").write_text(f"GOOD=1\n{SECRET} oops\n")
    store, _ = new_store(tmp_path)
    assert store.file_values() == {"GOOD": "1"}
    assert "ignoring line(s) 2" in caplog.text and SECRET not in caplog.text


def test_export_places_secrets_without_replacing_operator_values_and_unexport_restores(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=file-a\nTOKEN=file-token\n")
    store, env = new_store(tmp_path, {"TOKEN": "operator", "UNRELATED": "u"})
    store.export(store.secret_names())
    assert env == {"A": "file-a", "TOKEN": "operator", "UNRELATED": "u"}
    store.set("TOKEN", "api")
    store.export(store.secret_names())
    assert env["TOKEN"] == "api"
    store.unexport()
    assert env == {"TOKEN": "operator", "UNRELATED": "u"}


def test_concurrent_sets_from_threads_lose_no_secret(tmp_path: Path) -> None:
    store, _ = new_store(tmp_path)
    threads = [threading.Thread(target=lambda n=n: [store.set(f"K{n}_{i}", str(i)) for i in range(20)]) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.file_values()) == 80


# -- masking --------------------------------------------------------------------------------------
def test_nothing_that_carries_a_secret_shows_it_in_repr(tmp_path: Path) -> None:
    views = ViewsLaunch(granted={"API_KEY": SECRET}, operator_keys=("TOKEN",))
    carriers = [
        SetSecretValueRequest(key="API_KEY", value=SECRET),
        GetSecretValueResult(value=SECRET),
        RefreshSecretsRequest(values={"API_KEY": SECRET}),
        views,
        WorkerProvision(env={"API_KEY": SECRET}, launch={"views": views.to_dict()}),
        LaunchConfig(url="ws://x", token="t", worker_id="w", manifest="/m", views=views),
        new_store(tmp_path, {"API_KEY": SECRET})[0],
    ]
    for carrier in carriers:
        assert SECRET not in repr(carrier) and SECRET not in str(carrier), type(carrier).__name__
    assert "API_KEY" in repr(carriers[0])


# -- the worker's view ----------------------------------------------------------------------------
def test_a_worker_without_a_declaration_rereads_the_file_but_keeps_operator_values(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("A=1\nTOKEN=file\n")
    environ = {"TOKEN": "operator", "UNRELATED": "keep"}
    view = SecretsView(environ, path=str(path), operator_keys=["TOKEN"])
    view.refresh()
    assert environ == {"A": "1", "TOKEN": "operator", "UNRELATED": "keep"}
    path.write_text("B=2\n")  # A and TOKEN deleted from the file
    view.refresh()
    assert environ == {"B": "2", "TOKEN": "operator", "UNRELATED": "keep"}
    path.write_text("B=2\nTOKEN=api\n")
    view.refresh(handed={})  # the orchestrator says: TOKEN was overridden through the API
    assert environ["TOKEN"] == "api"
    path.write_text("B=2\n")
    view.refresh(handed={"TOKEN": "operator"})  # the override was deleted
    assert environ == {"B": "2", "TOKEN": "operator", "UNRELATED": "keep"}


def test_a_worker_with_a_declaration_holds_exactly_what_it_is_handed(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("OTHER=leak\n")
    environ = {"UNRELATED": "keep"}
    view = SecretsView(environ, path=None, granted={"ALLOWED": "1"})
    view.refresh()
    assert environ == {"UNRELATED": "keep", "ALLOWED": "1"}
    view.refresh(handed={})
    assert environ == {"UNRELATED": "keep"}


def test_a_worker_never_places_a_reserved_name_from_a_hand_edited_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PATH=/evil\nPYTHONPATH=/evil\nOK=1\n")
    environ = {"PATH": "/usr/bin"}
    SecretsView(environ, path=str(tmp_path / ".env")).refresh()
    assert environ == {"PATH": "/usr/bin", "OK": "1"}


def test_launch_views_round_trip_through_json() -> None:
    views = ViewsLaunch(
        config_path="/h/config.json",
        config_defaults={"a": 1},
        config_overrides={"b": [1]},
        secrets_path=None,
        operator_keys=("T",),
        granted={"K": "v"},
    )
    assert ViewsLaunch.from_dict(json.loads(json.dumps(views.to_dict()))) == views


# -- the command line -----------------------------------------------------------------------------
def test_secrets_list_never_prints_a_value(home: Path) -> None:
    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nodeisle.cli", *args], input=stdin, capture_output=True, text=True, timeout=60
        )

    assert cli("secrets", "set", "PIPED_KEY", stdin=SECRET + "\n").returncode == 0  # value on stdin, not argv
    assert cli("secrets", "set", "ARGV_KEY", SECRET).returncode == 0
    listed = cli("secrets", "list")
    as_json = cli("secrets", "list", "--json")
    assert "PIPED_KEY  (file)" in listed.stdout and "ARGV_KEY" in listed.stdout
    assert {e["name"] for e in json.loads(as_json.stdout)} == {"PIPED_KEY", "ARGV_KEY"}
    assert SECRET not in listed.stdout + listed.stderr + as_json.stdout + as_json.stderr
    assert _dotenv.parse((home / ".env").read_text()).values() == {"PIPED_KEY": SECRET, "ARGV_KEY": SECRET}
    assert cli("secrets", "delete", "ARGV_KEY").returncode == 0
    missing = cli("secrets", "delete", "ARGV_KEY")
    assert missing.returncode == 2 and "no secret named 'ARGV_KEY'" in missing.stderr


def test_a_secret_value_with_a_nul_character_is_refused_and_a_bom_does_not_hide_the_first_key(
    tmp_path: Path,
) -> None:
    from nodeisle.config.secrets import SecretsError, SecretsStore

    store = SecretsStore(tmp_path / ".env")
    with pytest.raises(SecretsError, match="NUL") as info:
        store.write_file_value("NUL_TOKEN", "abc\x00def")
    assert "abc" not in str(info.value)
    assert not (tmp_path / ".env").exists()
    (tmp_path / ".env").write_bytes(b"\xef\xbb\xbfFIRST_KEY=one\r\nSECOND=two\r\n")  # saved by a Windows editor
    assert store.file_values() == {"FIRST_KEY": "one", "SECOND": "two"}
