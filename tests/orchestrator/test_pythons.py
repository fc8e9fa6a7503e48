"""The rule that picks an Isolated library's Python (orchestrator/pythons.py), on made-up interpreters."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodeisle.orchestrator.pythons import (
    Interpreter,
    NoInterpreter,
    RequiresPython,
    choose,
    parse_python_setting,
    parse_requires_python,
)

FILE = Path("/libs/example/pyproject.toml")
ORCHESTRATOR = Interpreter("/opt/py311/bin/python3", "3.11.7", source="orchestrator")
PY310 = Interpreter("/usr/bin/python3.10", "3.10.13", source="PATH")
PY312 = Interpreter("/home/u/.pyenv/versions/3.12.1/bin/python", "3.12.1", source="pyenv")
PY3123 = Interpreter("/usr/bin/python3.12", "3.12.3", source="PATH")
PY313 = Interpreter("/home/u/.local/share/uv/python/cpython-3.13.0/bin/python3", "3.13.0", source="uv")
FOUND = (PY310, PY312, PY313)


def needs(specifier: str) -> RequiresPython:
    return parse_requires_python(specifier, FILE)


def test_without_a_requirement_the_orchestrators_python_is_used() -> None:
    choice = choose("Lib", None, ORCHESTRATOR, FOUND)
    assert choice.interpreter == ORCHESTRATOR and choice.is_orchestrators and choice.warning is None


def test_a_requirement_the_orchestrator_satisfies_keeps_its_python_though_newer_ones_exist() -> None:
    choice = choose("Lib", needs(">=3.10"), ORCHESTRATOR, FOUND)
    assert choice.is_orchestrators
    assert "requires-python '>=3.10' in /libs/example/pyproject.toml" in choice.why


@pytest.mark.parametrize(
    ("specifier", "expected"),
    [("~=3.12", PY313), (">=3.12", PY313), ("==3.12.*", PY312), (">=3.12,<3.13", PY312), ("<3.11,>=3.10", None)],
)
def test_an_unsatisfied_requirement_picks_the_newest_allowed_interpreter_at_least_the_runtime_minimum(
    specifier: str, expected: Interpreter | None
) -> None:
    if expected is None:  # 3.10 is allowed, but the worker runtime needs 3.11
        with pytest.raises(NoInterpreter, match="no interpreter found on this machine does"):
            choose("Lib", needs(specifier), ORCHESTRATOR, FOUND)
        return
    choice = choose("Lib", needs(specifier), ORCHESTRATOR, FOUND)
    assert choice.interpreter == expected and not choice.is_orchestrators
    assert choice.why == f"the newest Python found that requires-python {specifier!r} in {FILE} allows"


def test_the_newest_patch_release_wins_whatever_its_source() -> None:
    assert choose("Lib", needs("==3.12.*"), ORCHESTRATOR, [PY312, PY3123]).interpreter == PY3123


def test_ties_prefer_a_final_gil_cpython_build_then_the_order_of_sources() -> None:
    rc = Interpreter("/a/python3.13", "3.13.0rc2", source="PATH")
    final_uv = Interpreter("/b/python3", "3.13.0", source="uv")
    final_path = Interpreter("/c/python3.13", "3.13.0", source="PATH")
    threads = Interpreter("/d/python3.13t", "3.13.0", source="PATH", freethreaded=True)
    pypy = Interpreter("/e/pypy3", "3.13.0", implementation="pypy", source="PATH")
    requirement = needs(">=3.13")
    assert choose("Lib", requirement, ORCHESTRATOR, [rc, threads, pypy, final_uv]).interpreter == final_uv
    assert choose("Lib", requirement, ORCHESTRATOR, [final_uv, final_path]).interpreter == final_path
    assert choose("Lib", needs(">=3.12"), ORCHESTRATOR, [rc]).interpreter == rc  # pre-releases match, as in pip


def test_no_match_names_the_requirement_its_file_what_was_found_and_the_fixes() -> None:
    with pytest.raises(NoInterpreter) as caught:
        choose("My Lib", needs(">=3.99"), ORCHESTRATOR, FOUND)
    message = str(caught.value)
    assert "it needs Python >=3.99 (requires-python '>=3.99' in /libs/example/pyproject.toml)" in message
    assert "the orchestrator's Python 3.11.7 does not satisfy" in message
    for interpreter in (ORCHESTRATOR, *FOUND):
        assert interpreter.describe() in message
    assert "Python 3.13.0 at /home/u/.local/share/uv/python/cpython-3.13.0/bin/python3 (uv)" in message
    assert f"{PY310.describe()} [older than 3.11: not for the worker runtime]" in message
    assert "install a Python that satisfies it" in message
    assert "`nodeisle libraries python 'My Lib' VERSION|PATH`" in message


def test_the_install_hint_names_the_first_minor_version_the_requirement_allows() -> None:
    with pytest.raises(NoInterpreter, match=r"`uv python install 3\.12`"):
        choose("Lib", needs("~=3.12"), ORCHESTRATOR, [PY310])


def test_a_version_setting_picks_the_newest_interpreter_of_that_version_even_against_the_requirement() -> None:
    assert choose("Lib", needs("~=3.12"), ORCHESTRATOR, [*FOUND, PY3123], parse_python_setting("3.12")).interpreter == PY3123
    exact = choose("Lib", None, ORCHESTRATOR, [*FOUND, PY3123], parse_python_setting("3.12.1"))
    assert exact.interpreter == PY312 and "set by `nodeisle libraries python` (3.12.1)" in exact.why
    own = choose("Lib", needs("~=3.12"), ORCHESTRATOR, FOUND, parse_python_setting("3.11"))
    assert own.is_orchestrators
    assert own.warning == (
        "library 'Lib': its python setting '3.11' picks Python 3.11.7, which requires-python '~=3.12' in "
        "/libs/example/pyproject.toml does not allow; using it as set"
    )


def test_a_version_setting_that_matches_nothing_or_only_too_old_interpreters_is_named() -> None:
    with pytest.raises(NoInterpreter) as caught:
        choose("Lib", None, ORCHESTRATOR, FOUND, parse_python_setting("3.14"))
    assert "its python setting '3.14' matches no interpreter on this machine" in str(caught.value)
    assert "install it (`uv python install 3.14`)" in str(caught.value)
    with pytest.raises(NoInterpreter, match=r"older than Python 3\.11, the oldest the worker runtime runs on"):
        choose("Lib", None, ORCHESTRATOR, FOUND, parse_python_setting("3.10"))


def test_a_path_setting_is_the_interpreter_probed_at_that_path() -> None:
    pinned = Interpreter("/opt/custom/bin/python3", "3.12.9", source="setting")
    choice = choose("Lib", needs("~=3.12"), ORCHESTRATOR, [pinned], parse_python_setting("/opt/custom/bin/python3"))
    assert choice.interpreter == pinned and choice.warning is None


@pytest.mark.parametrize("text", ["3", "python3.12", "bin/python", "", "latest"])
def test_a_python_setting_is_a_version_or_an_absolute_path(text: str) -> None:
    with pytest.raises(ValueError, match=r"neither a version .* nor an absolute path"):
        parse_python_setting(text)


@pytest.mark.parametrize(("value", "why"), [(312, "must be a string"), ("3.12+", "is not a version specifier")])
def test_a_bad_requires_python_names_its_file_and_field(value: object, why: str) -> None:
    with pytest.raises(ValueError, match=why) as caught:
        parse_requires_python(value, FILE)
    assert str(caught.value).startswith(f"{FILE}: [project] requires-python")
