"""``nodeisle libraries python`` and what ``libraries list`` / ``envs rebuild`` do with it, as a user runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from nodeisle.orchestrator.interpreters import PythonFinder
from nodeisle.orchestrator.pythons import Interpreter
from tests.cli.test_main import nodeisle
from tests.conftest import require_runtime_wheel
from tests.orchestrator.test_interpreters import NAME, griptape_repo, python_of


@pytest.fixture(scope="module")
def machine() -> list[Interpreter]:
    return PythonFinder().found()


@pytest.fixture
def registered(tmp_path: Path, offline_home: Path, wheelhouse: Path) -> Path:
    """A library whose pyproject says ``~=3.12``, registered to run Isolated."""
    for minor in (12, 13):
        require_runtime_wheel(wheelhouse, (3, minor))
    manifest = griptape_repo(tmp_path, "~=3.12")
    assert nodeisle("libraries", "add", str(manifest.parent)).returncode == 0
    assert nodeisle("libraries", "mode", NAME, "isolated").returncode == 0
    return offline_home


def test_libraries_python_sets_a_version_list_shows_it_and_default_forgets_it(
    registered: Path, machine: list[Interpreter]
) -> None:
    py312 = python_of(machine, 12)
    newest = max((i for i in machine if i.release[:2] >= (3, 12)), key=lambda i: i.release)
    chosen = nodeisle("libraries", "python", NAME, "3.12")
    assert chosen.returncode == 0, chosen.stderr
    assert f"{NAME!r} will run Isolated on Python {py312.version} at {py312.path}" in chosen.stdout
    assert json.loads((registered / "settings.json").read_text())["library_pythons"] == {NAME: "3.12"}
    listed = nodeisle("libraries", "list")
    assert listed.returncode == 0, listed.stderr
    assert f"    python: {py312.describe()}: set by `nodeisle libraries python` (3.12)" in listed.stdout
    assert "    python setting: 3.12 (`nodeisle libraries python`)" in listed.stdout
    assert nodeisle("libraries", "python", NAME, "default").returncode == 0
    assert "library_pythons" not in json.loads((registered / "settings.json").read_text())
    [row] = json.loads(nodeisle("libraries", "list", "--json").stdout)
    assert row["python"].startswith(f"Python {newest.version} at {newest.path}")
    assert "the newest Python found that requires-python '~=3.12'" in row["python"]


def test_envs_rebuild_builds_on_the_librarys_python(registered: Path, machine: list[Interpreter]) -> None:
    py312 = python_of(machine, 12)
    assert nodeisle("libraries", "python", NAME, py312.path).returncode == 0
    rebuilt = nodeisle("envs", "rebuild", NAME)
    assert rebuilt.returncode == 0, rebuilt.stderr
    env = Path(rebuilt.stdout.strip().rsplit(" at ", 1)[1])
    version = subprocess.run(
        [str(env / "bin" / "python"), "-c", "import sys; print(*sys.version_info[:3], sep='.')"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert version == py312.version


def test_a_bad_python_value_or_an_unknown_library_is_refused_and_nothing_is_stored(registered: Path) -> None:
    wrong = nodeisle("libraries", "python", NAME, "python3.12")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "is neither a version (such as 3.12 or 3.12.1) nor an absolute path" in wrong.stderr
    unknown = nodeisle("libraries", "python", "Nope", "3.12")
    assert unknown.returncode == 2 and "no registered library named 'Nope'" in unknown.stderr
    assert "library_pythons" not in json.loads((registered / "settings.json").read_text())


def test_a_python_not_found_now_is_stored_with_a_warning(registered: Path) -> None:
    later = nodeisle("libraries", "python", NAME, "3.98")
    assert later.returncode == 0
    assert "warning:" in later.stderr and "matches no interpreter on this machine" in later.stderr
    assert json.loads((registered / "settings.json").read_text())["library_pythons"] == {NAME: "3.98"}
    [row] = json.loads(nodeisle("libraries", "list", "--json").stdout)
    assert (row["status"], row["python"], row["python_setting"]) == ("failed", None, "3.98")
    assert "its python setting '3.98' matches no interpreter" in row["problems"][0]


def test_a_library_pythons_entry_that_is_not_a_string_is_named_and_the_file_kept(home: Path) -> None:
    settings = home / "settings.json"
    settings.write_text(json.dumps({"libraries": [], "library_pythons": {"Lib": 3.12}}))
    result = nodeisle("libraries", "list")
    assert result.returncode == 2 and "settings.json" in result.stderr
    assert "library_pythons must map library names to a Python version or path" in result.stderr
    assert json.loads(settings.read_text())["library_pythons"] == {"Lib": 3.12}


# -- containment: `nodeisle libraries limits` --------------------------------------------------------
def test_libraries_limits_are_stored_listed_with_their_enforcement_and_cleared(tmp_path: Path, offline_home: Path) -> None:
    from tests.conftest import write_library

    folder = write_library(tmp_path, "Limited", "from nodeisle import BaseNode\nclass N(BaseNode):\n    pass\n", ["N"])
    assert nodeisle("libraries", "add", str(folder)).returncode == 0
    assert nodeisle("libraries", "mode", "Limited", "isolated").returncode == 0
    done = nodeisle("libraries", "limits", "Limited", "--memory", "256MiB", "--cpus", "1.5", "--max-processes", "64",
                    "--gpus", "0,1")
    assert done.returncode == 0, done.stderr
    assert "memory 256 MiB, cpus 1.5, max_processes 64; gpus: 0,1" in done.stdout and "enforced by " in done.stdout
    stored = json.loads((offline_home / "settings.json").read_text())["library_limits"]["Limited"]
    assert stored == {"memory": "256MiB", "cpus": 1.5, "max_processes": 64, "gpus": "0,1"}
    listed = nodeisle("libraries", "list")
    assert listed.returncode == 0, listed.stderr
    assert "limits: memory=256MiB, cpus=1.5, max_processes=64; enforced by cgroup" in listed.stdout
    assert "gpus: 0,1 (CUDA_VISIBLE_DEVICES" in listed.stdout
    row = json.loads(nodeisle("libraries", "list", "--json").stdout)[0]
    assert row["containment"]["mechanism"] in ("cgroup v2", "cgroup v1") and row["containment"]["reason"]
    bad = nodeisle("libraries", "limits", "Limited", "--memory", "lots")
    assert bad.returncode != 0 and "memory 'lots' is not a size" in bad.stderr
    assert nodeisle("libraries", "limits", "Limited", "--clear").returncode == 0
    assert "library_limits" not in json.loads((offline_home / "settings.json").read_text())


def test_libraries_sandbox_is_stored_listed_and_back_to_default(tmp_path: Path, offline_home: Path) -> None:
    import shutil

    from tests.conftest import write_library

    if shutil.which("bwrap") is None:
        pytest.skip("needs bubblewrap: apt-get install bubblewrap (scripts/containment-deps.sh)")
    folder = write_library(tmp_path, "Boxed", "from nodeisle import BaseNode\nclass N(BaseNode):\n    pass\n", ["N"])
    assert nodeisle("libraries", "add", str(folder)).returncode == 0
    assert nodeisle("libraries", "mode", "Boxed", "isolated").returncode == 0
    done = nodeisle("libraries", "sandbox", "Boxed", "on")
    assert done.returncode == 0 and "will run Isolated in a sandbox (no network)" in done.stdout
    assert json.loads((offline_home / "settings.json").read_text())["library_sandbox"] == {
        "Boxed": {"enabled": True, "network": False}}
    listed = nodeisle("libraries", "list")
    assert listed.returncode == 0, listed.stderr
    assert "sandbox: bubblewrap, no network, the bus over a Unix socket" in listed.stdout
    assert "Worker-" in listed.stdout and "(ready)" in listed.stdout  # it started in the sandbox
    assert nodeisle("libraries", "sandbox", "Boxed", "default").returncode == 0
    assert "library_sandbox" not in json.loads((offline_home / "settings.json").read_text())
