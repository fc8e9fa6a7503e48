"""A library's requires-python, the interpreters on this machine, and libraries whose requirement the
orchestrator's Python misses: Isolated through real workers on a matching Python, Shared with a warning.

The machine (and CI) has Python 3.11 (the orchestrator), 3.12 and 3.13; a test that needs one that is
absent is skipped naming it. Workers on 3.12 and 3.13 install websockets offline from the wheelhouse
(scripts/test.sh downloads those wheels).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from nodeisle.config.settings import Settings
from nodeisle.errors import LibraryError
from nodeisle.manifest import load_manifest
from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.orchestrator.interpreters import PythonFinder, candidates, probe, read_requires_python
from nodeisle.orchestrator.pythons import Interpreter
from nodeisle.requests import (
    CreateFlowRequest,
    CreateNodeRequest,
    ExecuteNodeRequest,
    ListRegisteredLibrariesRequest,
    RegisterLibraryRequest,
    ReloadLibraryRequest,
    Result,
)
from tests.conftest import require_runtime_wheel, run, write_library

# Written like public Griptape libraries: a DataNode with an output parameter.
NODES = """
import sys

from griptape_nodes.exe_types.core_types import Parameter, ParameterMode
from griptape_nodes.exe_types.node_types import DataNode


class WhichPython(DataNode):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="version", output_type="list", tooltip="sys.version_info",
                                     allowed_modes={ParameterMode.OUTPUT}))
        self.add_parameter(Parameter(name="executable", output_type="str", tooltip="sys.executable",
                                     allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        self.parameter_output_values["version"] = list(sys.version_info[:3])
        self.parameter_output_values["executable"] = sys.executable
"""
PYPROJECT = """[project]
name = "griptape-nodes-library-which-python"
version = "0.1.0"
description = "Reports the Python its nodes run on."
requires-python = "{requires}"
dependencies = []

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"""
NAME = "Which Python"


def griptape_repo(root: Path, requires: str | None) -> Path:
    """A library laid out as public Griptape ones are: a repository with pyproject.toml at its root and
    the library one folder down. Returns the manifest's path."""
    repo = root / "griptape-nodes-library-which-python"
    (repo / ".git").mkdir(parents=True)
    if requires is not None:
        (repo / "pyproject.toml").write_text(PYPROJECT.format(requires=requires))
    return write_library(repo, NAME, NODES, ["WhichPython"]) / "griptape-nodes-library.json"


@pytest.fixture(scope="module")
def machine() -> list[Interpreter]:
    return PythonFinder().found()


def python_of(machine: list[Interpreter], minor: int) -> Interpreter:
    found = [i for i in machine if i.release[:2] == (3, minor) and i.implementation == "cpython"]
    if not found:
        pytest.fail(f"no CPython 3.{minor} on this machine (PATH, pyenv, uv); this test runs a worker on it: "
                    f"install one (`uv python install 3.{minor}`)")
    return max(found, key=lambda i: i.release)


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


async def which(o: Orchestrator, manifest: Path, mode: str) -> tuple[list[int], str, str]:
    """Register the library in ``mode``, run its node: (version, executable, LibraryInfo.python)."""
    ok(await o.handle_async(RegisterLibraryRequest(path=str(manifest), mode=mode)))
    return await rerun(o)


async def rerun(o: Orchestrator) -> tuple[list[int], str, str]:
    if "main" not in o.graph.flows:
        ok(await o.handle_async(CreateFlowRequest(flow_name="main")))
        ok(await o.handle_async(CreateNodeRequest(node_type="WhichPython", node_name="which", flow_name="main")))
    result = ok(await o.handle_async(ExecuteNodeRequest(node_name="which")))
    assert result.error is None, result.error
    (info,) = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
    outputs = result.parameter_output_values
    return outputs["version"], outputs["executable"], info.python


# -- the pyproject walk -----------------------------------------------------------------------------
def test_the_nearest_pyproject_decides_and_the_walk_stops_at_the_repository_root(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    (outer / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.99"\n')
    manifest = griptape_repo(outer, None)
    assert read_requires_python(manifest) is None  # above the repository root: not the library's
    repo_file = manifest.parents[1] / "pyproject.toml"
    repo_file.write_text(PYPROJECT.format(requires="~=3.12"))
    found = read_requires_python(manifest)
    assert found is not None and (found.specifier, found.file) == ("~=3.12", repo_file)
    (manifest.parent / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    assert read_requires_python(manifest) is None  # the nearest file has none: no requirement


def test_the_walk_never_reads_the_home_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "libs" / "lib").mkdir(parents=True)
    (home / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.99"\n')
    manifest = home / "libs" / "lib" / "griptape-nodes-library.json"
    assert read_requires_python(manifest, home) is None
    assert read_requires_python(manifest, tmp_path / "elsewhere") is not None


def test_an_unreadable_pyproject_fails_an_isolated_library_and_is_a_warning_shared(tmp_path: Path) -> None:
    manifest = griptape_repo(tmp_path, None)
    bad = manifest.parents[1] / "pyproject.toml"
    bad.write_text('[project]\nrequires-python = ">=3.12\n')
    library = load_manifest(manifest)
    with pytest.raises(LibraryError) as caught:
        PythonFinder().choose(library, None)
    assert str(bad) in str(caught.value) and "line 2" in str(caught.value)
    assert "fix the file, or remove its requires-python" in str(caught.value)
    (warning,) = PythonFinder().shared_warnings(library, None)
    assert str(bad) in warning and "its requires-python is not checked" in warning


# -- finding interpreters ---------------------------------------------------------------------------
def _executable(path: Path, text: str = "#!/bin/sh\nexit 127\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_candidates_come_from_path_then_pyenv_then_uv_and_pyenv_shims_are_passed_over(tmp_path: Path) -> None:
    on_path = [_executable(tmp_path / "bin" / name) for name in ("python3", "python3.12", "python3.13t", "pythonw")]
    _executable(tmp_path / "pyenv" / "shims" / "python3.12")
    pyenv = _executable(tmp_path / "pyenv" / "versions" / "3.12.1" / "bin" / "python")
    uv = _executable(tmp_path / "uv" / "cpython-3.13.0-linux-x86_64-gnu" / "bin" / "python3")
    environ = {"PATH": f"{tmp_path / 'bin'}:{tmp_path / 'pyenv' / 'shims'}", "PYENV_ROOT": str(tmp_path / "pyenv")}
    assert list(candidates(environ, tmp_path / "uv")) == [
        ("PATH", str(on_path[0])), ("PATH", str(on_path[1])), ("pyenv", str(pyenv)), ("uv", str(uv)),
    ]


def test_a_program_that_fails_its_probe_is_passed_over_and_links_to_one_interpreter_count_once(
    tmp_path: Path, machine: list[Interpreter], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = python_of(machine, 12)
    shim = _executable(tmp_path / "a" / "python3.13")  # like a pyenv shim of a version that is not active
    for link in (tmp_path / "a" / "python3.12", tmp_path / "b" / "python3"):
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(real.path)
    monkeypatch.setenv("PATH", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    with pytest.raises(ValueError, match="failed with exit code 127"):
        probe(str(shim), "PATH")
    (only,) = PythonFinder(uv_bin=str(tmp_path / "no-uv")).found()
    assert (only.version, only.source, os.path.realpath(only.path)) == (real.version, "PATH", os.path.realpath(real.path))


# -- through real workers ---------------------------------------------------------------------------
@pytest.fixture
def wheels_for_newer_pythons(offline_home: Path, wheelhouse: Path) -> Path:
    for minor in (12, 13):
        require_runtime_wheel(wheelhouse, (3, minor))
    return offline_home


def test_a_library_needing_3_12_runs_isolated_on_the_newest_matching_python(
    tmp_path: Path, wheels_for_newer_pythons: Path, machine: list[Interpreter]
) -> None:
    python_of(machine, 12)
    newest = max((i for i in machine if i.release[:2] >= (3, 12) and i.implementation == "cpython"),
                 key=lambda i: i.release)
    manifest = griptape_repo(tmp_path, "~=3.12")

    async def body() -> None:
        async with build_orchestrator() as o:
            version, executable, python = await which(o, manifest, "isolated")
            assert tuple(version) == newest.release and tuple(version) >= (3, 12)
            assert executable.startswith(str(wheels_for_newer_pythons / "envs"))  # the library's own env
            runtime = Path(executable).parents[1] / "runtime"  # compiled for the env's Python, not ours
            tag = f"cpython-{version[0]}{version[1]}"
            assert len(list(runtime.rglob(f"*.{tag}.pyc"))) == len(list(runtime.rglob("*.py")))
            assert f"Python {newest.version} at {newest.path}" in python
            assert f"requires-python '~=3.12' in {manifest.parents[1] / 'pyproject.toml'}" in python

    run(body(), timeout=120)


def test_shared_it_runs_on_the_orchestrators_python_with_a_warning_naming_the_requirement(
    tmp_path: Path, offline_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = griptape_repo(tmp_path, "~=3.12")
    caplog.set_level(logging.WARNING, logger="nodeisle.library")

    async def body() -> None:
        async with build_orchestrator() as o:
            version, executable, python = await which(o, manifest, "shared")
            assert tuple(version) == tuple(sys.version_info[:3]) and executable == sys.executable
            assert "runs Shared, in the orchestrator's process" in python

    run(body())
    (warning,) = [r.getMessage() for r in caplog.records if "needs Python" in r.getMessage()]
    assert warning.startswith(
        f"library {NAME!r} needs Python ~=3.12 (requires-python '~=3.12' in {manifest.parents[1] / 'pyproject.toml'}) "
        f"but runs Shared, on the orchestrator's Python {sys.version_info[0]}.{sys.version_info[1]}."
    )
    assert f"nodeisle libraries mode {NAME!r} isolated" in warning


def test_no_matching_interpreter_fails_the_load_naming_the_requirement_what_was_found_and_the_fix(
    tmp_path: Path, offline_home: Path, machine: list[Interpreter]
) -> None:
    manifest = griptape_repo(tmp_path, ">=3.99")

    async def body() -> None:
        async with build_orchestrator() as o:
            result = await o.handle_async(RegisterLibraryRequest(path=str(manifest), mode="isolated"))
            assert not result.succeeded
            message = result.message
            assert f"requires-python '>=3.99' in {manifest.parents[1] / 'pyproject.toml'}" in message
            assert "no interpreter found on this machine does" in message
            for interpreter in machine:
                assert interpreter.describe() in message
            assert "install a Python that satisfies it" in message
            assert f"`nodeisle libraries python {NAME!r} VERSION|PATH`" in message
            assert o.envs.list() == []  # nothing was built
            (info,) = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            assert info.status == "failed" and info.problems[0] == message

    run(body())


def test_the_python_setting_pins_a_version_or_a_path_and_switching_rebuilds_then_reuses(
    tmp_path: Path, wheels_for_newer_pythons: Path, machine: list[Interpreter]
) -> None:
    py312, py313 = python_of(machine, 12), python_of(machine, 13)
    manifest = griptape_repo(tmp_path, "~=3.12")
    settings = Settings.load(wheels_for_newer_pythons)
    settings.library_pythons[NAME] = "3.12"

    async def body() -> None:
        async with build_orchestrator(settings=settings) as o:
            version, first_env, python = await which(o, manifest, "isolated")
            assert tuple(version) == py312.release and "set by `nodeisle libraries python` (3.12)" in python
            settings.library_pythons[NAME] = py313.path
            ok(await o.handle_async(ReloadLibraryRequest(library_name=NAME)))
            version, second_env, python = await rerun(o)
            assert tuple(version) == py313.release and f"({py313.path})" in python
            assert Path(second_env).parents[1] != Path(first_env).parents[1]  # another env: the key has the Python
            settings.library_pythons[NAME] = "3.12"
            ok(await o.handle_async(ReloadLibraryRequest(library_name=NAME)))
            assert (await rerun(o))[1] == first_env
            assert len(o.envs.list()) == 2

    run(body(), timeout=150)


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        ("python3.12", "python setting 'python3.12' is neither a version"),
        ("/no/such/python3", "its python setting '/no/such/python3' is not a usable interpreter"),
        ("3.98", "its python setting '3.98' matches no interpreter on this machine"),
    ],
)
def test_a_bad_python_setting_fails_the_isolated_load_naming_it_and_the_fix(
    tmp_path: Path, offline_home: Path, setting: str, why: str
) -> None:
    manifest = griptape_repo(tmp_path, None)
    settings = Settings.load(offline_home)
    settings.library_pythons[NAME] = setting

    async def body() -> None:
        async with build_orchestrator(settings=settings) as o:
            result = await o.handle_async(RegisterLibraryRequest(path=str(manifest), mode="isolated"))
            assert not result.succeeded and why in result.message, result.message
            assert f"nodeisle libraries python {NAME!r}" in result.message

    run(body())
