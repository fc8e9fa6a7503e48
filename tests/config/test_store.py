"""The config store: typed settings, precedence, atomic serialized writes, corrupt files left alone."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from nodeisle.config.defaults import PROBE_TIMEOUT
from nodeisle.config.store import (
    SETTINGS,
    ConfigEntry,
    ConfigError,
    ConfigStore,
    EngineConfig,
    Source,
    parse_flags,
)
from nodeisle.orchestrator.engine import build_orchestrator
from nodeisle.requests import GetConfigValueRequest, ResetConfigRequest, SetConfigValueRequest
from tests.conftest import REPO, run


def store(tmp_path: Path, environ: dict[str, str] | None = None, flags: dict[str, object] | None = None) -> ConfigStore:
    return ConfigStore(tmp_path / "config.json", environ=environ or {}, flags=flags)


def test_precedence_is_defaults_then_file_then_environment_then_flags(tmp_path: Path) -> None:
    assert store(tmp_path).entry("broadcast_timeout").source is Source.DEFAULT
    store(tmp_path).set("broadcast_timeout", 2.0)
    assert store(tmp_path).entry("broadcast_timeout").value == 2.0
    env = {"NODEISLE_BROADCAST_TIMEOUT": "3"}
    assert store(tmp_path, env).entry("broadcast_timeout").value == 3.0
    assert store(tmp_path, env).entry("broadcast_timeout").source is Source.ENVIRONMENT
    flagged = store(tmp_path, env, parse_flags(["broadcast_timeout=4"]))
    assert (flagged.get("broadcast_timeout"), flagged.entry("broadcast_timeout").source) == (4.0, Source.FLAG)


def test_every_setting_has_a_default_an_environment_variable_and_documentation(tmp_path: Path) -> None:
    docs = (REPO / "docs" / "config.md").read_text()
    for setting in SETTINGS:
        assert setting.from_json(setting.default) == setting.default or setting.default is None
        assert setting.env == f"NODEISLE_{setting.key.upper()}"
        assert f"`{setting.key}`" in docs and setting.env in docs, setting.key
    assert [e.key for e in store(tmp_path).entries()] == sorted(s.key for s in SETTINGS)


def test_a_library_setting_is_stored_nested_and_read_by_its_dotted_key(tmp_path: Path) -> None:
    config = store(tmp_path)
    config.set("libraries.My Lib.v1.greeting", {"text": "hi"})
    assert json.loads(config.path.read_text()) == {"libraries": {"My Lib.v1": {"greeting": {"text": "hi"}}}}
    assert config.get("libraries.My Lib.v1.greeting") == {"text": "hi"}
    assert config.get("libraries.My Lib.v1.unset") is None
    assert config.reset("libraries.My Lib.v1.greeting") == ["libraries.My Lib.v1.greeting"]
    assert json.loads(config.path.read_text()) == {}


def test_an_unknown_key_is_refused_with_the_list_of_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'brodcast_timeout'.*broadcast_timeout") as info:
        store(tmp_path).set("brodcast_timeout", 1)
    assert info.value.key == "brodcast_timeout"
    with pytest.raises(ConfigError, match=r"libraries\.<library name>\.<setting>"):
        store(tmp_path).get("libraries.nodots")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("broadcast_timeout", -1, "greater than 0"),
        ("broadcast_timeout", True, "number of seconds"),
        ("crash_limit", 1.5, "whole number"),
        ("offline", "maybe", "1/true/yes/on"),
        ("find_links", [""], "list of folder paths"),
        ("libraries.L.x", object(), "JSON value"),
    ],
)
def test_a_bad_value_names_the_key_its_type_and_what_is_expected(
    tmp_path: Path, key: str, value: object, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        store(tmp_path).set(key, value)
    assert repr(key) in str(info.value)
    assert not (tmp_path / "config.json").exists()


def test_a_string_for_a_typed_setting_is_read_as_the_command_line_reads_it(tmp_path: Path) -> None:
    config = store(tmp_path)
    assert config.set("broadcast_timeout", "2.5") == 2.5
    assert config.set("offline", "yes") is True
    assert config.set("find_links", f"/a{os.pathsep}/b") == ("/a", "/b")
    assert config.get("find_links") == ["/a", "/b"]


def test_a_bad_environment_variable_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NODEISLE_OFFLINE='perhaps'"):
        store(tmp_path, {"NODEISLE_OFFLINE": "perhaps"})


def test_a_flag_without_an_equals_sign_says_how_to_write_it() -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_flags(["broadcast_timeout"])
    assert parse_flags(["libraries.L.x=[1, 2]", "libraries.L.y=plain text"]) == {
        "libraries.L.x": [1, 2],
        "libraries.L.y": "plain text",
    }


def test_a_corrupt_file_error_names_file_line_and_column_and_the_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    text = '{\n  "offline": true,\n  "broadcast_timeout": ,\n}\n'
    path.write_text(text)
    config = store(tmp_path)
    for action in (lambda: config.get("offline"), lambda: config.set("offline", False), lambda: config.reset()):
        with pytest.raises(ConfigError) as info:
            action()
        assert (info.value.path, info.value.line, info.value.column) == (path, 3, 24)
        assert f"{path}: line 3 column 24" in str(info.value) and "does not overwrite it" in str(info.value)
    assert path.read_text() == text


def test_a_wrongly_typed_value_in_the_file_names_the_file_the_key_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"probe_timeout": "soon"}')
    with pytest.raises(ConfigError, match=r"config\.json: 'probe_timeout' \(seconds\).*nodeisle config reset"):
        store(tmp_path).get("probe_timeout")


def test_an_unknown_key_in_the_file_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "config.json").write_text('{"colour": "blue", "offline": true}')
    config = store(tmp_path)
    assert config.get("offline") is True and "colour" not in {e.key for e in config.entries()}
    assert any("ignoring unknown key 'colour'" in r.getMessage() for r in caplog.records)
    config.set("offline", False)
    assert json.loads(config.path.read_text()) == {"colour": "blue", "offline": False}  # kept as written


def test_writes_are_atomic_renames_that_leave_no_temporary_files(tmp_path: Path) -> None:
    config = store(tmp_path)
    config.set("offline", True)
    inode = config.path.stat().st_ino
    config.set("offline", False)
    assert config.path.stat().st_ino != inode  # replaced, not rewritten in place
    assert stat.S_IMODE(config.path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "config.json.lock"]


def test_reset_removes_one_key_or_every_key(tmp_path: Path) -> None:
    config = store(tmp_path)
    config.set("offline", True)
    config.set("libraries.L.a", 1)
    assert config.reset("offline") == ["offline"] and config.reset("offline") == []
    assert config.reset() == ["libraries.L.a"]
    assert config.entry("offline").source is Source.DEFAULT


def test_concurrent_writers_in_threads_and_processes_lose_no_update(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from nodeisle.config.store import ConfigStore
        store = ConfigStore(Path(sys.argv[1]), environ={})
        for i in range(25):
            store.set(f"libraries.P{sys.argv[2]}.k{i}", i)
        """
    )
    path = tmp_path / "config.json"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(n)]) for n in range(3)]
    config = store(tmp_path)

    def write(n: int) -> None:
        for i in range(25):
            config.set(f"libraries.T{n}.k{i}", i)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(p.wait(timeout=60) == 0 for p in procs)
    libraries = json.loads(path.read_text())["libraries"]
    assert sorted(libraries) == ["P0", "P1", "P2", "T0", "T1", "T2"]
    assert all(len(values) == 25 for values in libraries.values())


def test_the_engine_config_is_the_table_defaults_under_the_layers_frozen(tmp_path: Path) -> None:
    assert [f.name for f in dataclasses.fields(EngineConfig)] == [s.key for s in SETTINGS]
    defaults = EngineConfig.defaults()
    assert store(tmp_path).snapshot() == defaults
    assert (defaults.probe_timeout, defaults.execution_timeout, defaults.find_links) == (PROBE_TIMEOUT, 600.0, ())
    config = store(tmp_path, {"NODEISLE_FIND_LINKS": "/from/env", "NODEISLE_EXECUTION_TIMEOUT": "9"}, {"probe_timeout": 3})
    config.set("crash_limit", 7)
    snapshot = config.snapshot()
    assert snapshot.find_links == ("/from/env",)
    assert (snapshot.execution_timeout, snapshot.crash_limit, snapshot.probe_timeout) == (9.0, 7, 3.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.crash_limit = 1  # type: ignore[misc]


def test_the_orchestrator_reads_its_tunables_from_the_engine_config(home: Path) -> None:
    async def body() -> None:
        async with build_orchestrator(config_flags={"execution_timeout": 9}) as o:
            assert o.config.execution_timeout == 9.0 and o.config.probe_timeout == PROBE_TIMEOUT
            assert not hasattr(o.settings, "execution_timeout")

    run(body(), timeout=30)


# -- through the orchestrator -----------------------------------------------------------------------
def test_config_requests_get_set_and_reset_through_the_orchestrator(home: Path) -> None:
    async def body() -> None:
        async with build_orchestrator() as o:
            set_ = await o.handle_async(SetConfigValueRequest(key="libraries.L.greeting", value="hi"))
            assert set_.succeeded and "no workers running" in set_.message
            got = await o.handle_async(GetConfigValueRequest(key="libraries.L.greeting"))
            assert got.value == "hi"  # type: ignore[attr-defined]
            assert (await o.handle_async(ResetConfigRequest(key="libraries.L.greeting"))).succeeded
            got = await o.handle_async(GetConfigValueRequest(key="libraries.L.greeting"))
            assert got.value is None  # type: ignore[attr-defined]
            bad = await o.handle_async(SetConfigValueRequest(key="offline", value="perhaps"))
            assert not bad.succeeded and "1/true/yes/on" in bad.message

    run(body(), timeout=30)


def test_setting_a_key_the_environment_decides_says_so(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODEISLE_BROADCAST_TIMEOUT", "3")

    async def body() -> None:
        async with build_orchestrator() as o:
            result = await o.handle_async(SetConfigValueRequest(key="broadcast_timeout", value=1))
            assert result.succeeded and "NODEISLE_BROADCAST_TIMEOUT (environment) still decides" in result.message
            got = await o.handle_async(GetConfigValueRequest(key="broadcast_timeout"))
            assert got.value == 3.0  # type: ignore[attr-defined]

    run(body(), timeout=30)


def test_the_command_line_lists_sets_and_resets_with_flags_on_top(home: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "nodeisle.cli", *args], capture_output=True, text=True, timeout=60)

    assert cli("config", "set", "broadcast_timeout", "2").returncode == 0
    listed = json.loads(cli("-c", "offline=on", "config", "list", "--json").stdout)
    by_key = {e["key"]: e for e in listed}
    assert by_key["broadcast_timeout"] == {"key": "broadcast_timeout", "value": 2.0, "source": "file"}
    assert by_key["offline"] == {"key": "offline", "value": True, "source": "flag"}
    assert cli("config", "get", "broadcast_timeout").stdout.strip() == "2.0"
    assert cli("config", "reset").returncode == 0
    assert cli("config", "get", "broadcast_timeout").stdout.strip() == "5.0"
    bad = cli("config", "set", "broadcast_timeout", "soon")
    assert bad.returncode == 2 and "expected a number of seconds" in bad.stderr


def test_settings_json_holds_only_libraries_and_a_tunable_there_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from nodeisle.config.settings import Settings

    (tmp_path / "settings.json").write_text('{"libraries": [], "execution_timeout": 1200}')
    settings = Settings.load(tmp_path)
    assert not hasattr(settings, "execution_timeout")
    assert any("nodeisle config set execution_timeout" in r.getMessage() for r in caplog.records)
    settings.save()
    assert json.loads((tmp_path / "settings.json").read_text()) == {"libraries": [], "library_modes": {}}


def test_library_defaults_are_the_lowest_layer_and_the_first_library_decides(tmp_path: Path) -> None:
    config = store(tmp_path, {"NODEISLE_BROADCAST_TIMEOUT": "3"})
    config.set_library_defaults("Farm", {"libraries.farm.region": "us", "libraries.farm.id": "f"})
    config.set_library_defaults("Other", {"libraries.farm.region": "jp", "libraries.other.x": 1})
    assert (config.get("libraries.farm.region"), config.entry("libraries.farm.region").source) == ("us", Source.DEFAULT)
    config.set("libraries.farm.region", "eu")
    assert config.entry("libraries.farm.region") == ConfigEntry("libraries.farm.region", "eu", Source.FILE)
    assert json.loads(config.path.read_text()) == {"libraries": {"farm": {"region": "eu"}}}  # defaults stay unwritten
    keys = [e.key for e in config.entries() if e.key.startswith("libraries.")]
    assert keys == ["libraries.farm.id", "libraries.farm.region", "libraries.other.x"]
    assert config.defaults()["libraries.farm.id"] == "f" and config.defaults()["broadcast_timeout"] != 3.0
    config.set_library_defaults("Farm", {})
    assert config.get("libraries.farm.id") is None and config.get("libraries.farm.region") == "eu"
