"""``nodeisle plan``, Shared overlays, envs keyed by what they resolve to, and ``envs lock`` (cli/envs.py), run as
a user runs them.

Offline: the wheels are built at test time (several versions of small packages, one depending on
another, one whose range the engine's own websockets does not satisfy) beside the session wheelhouse.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_main import nodeisle, workflow
from tests.conftest import write_library
from tests.wheels import build_wheel

ENGINE_WEBSOCKETS = importlib.metadata.version("websockets")

NODES = """
from nodeisle import BaseNode, Parameter, ParameterMode

class Ver(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("package", type="str", default_value="plandep",
                                     allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("version", type="str", allowed_modes={ParameterMode.OUTPUT}))

    def process(self):
        import importlib
        module = importlib.import_module(self.parameter_values["package"])
        self.parameter_output_values["version"] = module.__version__
"""


@pytest.fixture
def extra(tmp_path: Path) -> Path:
    """plandep 1.0 and 2.0, planneeds 1.0 (requires plandep>=2), oldws 1.0 (requires websockets<13)."""
    house = tmp_path / "extra-wheels"
    for version in ("1.0", "2.0"):
        build_wheel(house, "plandep", version)
    build_wheel(house, "planneeds", "1.0", requires=["plandep>=2"])
    build_wheel(house, "oldws", "1.0", requires=["websockets<13"])
    return house


@pytest.fixture
def plan_home(offline_home: Path, wheelhouse: Path, extra: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NODEISLE_FIND_LINKS", f"{wheelhouse}{os.pathsep}{extra}")
    return offline_home


def library(tmp_path: Path, name: str, pins: list[str], *, isolated: bool = False) -> Path:
    declarations = [{"type": "suggested_worker_mode", "mode": "WORKER"}] if isolated else []
    return write_library(tmp_path / "libs", name, NODES, ["Ver"], pins=pins, declarations=declarations)


def add(*folders: Path) -> None:
    for folder in folders:
        added = nodeisle("libraries", "add", str(folder))
        assert added.returncode == 0, added.stderr


def run_ver(tmp_path: Path, lib: str, package: str, *flags: str) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "libs" / lib.lower().replace(" ", "_")
    flow = workflow(tmp_path, {"libraries": [str(folder)], "nodes": [
        {"name": "v", "library": lib, "type": "Ver", "values": {"package": package}}]}, f"{lib}.json")
    verbose = [f for f in flags if f == "-v"]  # a global flag: before the command
    return nodeisle(*verbose, "run", str(flow), "--json", *(f for f in flags if f != "-v"))


def freeze() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout


def test_plan_names_both_sides_of_each_conflict_and_recommends_a_mode(plan_home: Path, tmp_path: Path) -> None:
    add(
        library(tmp_path, "Old Dep", ["plandep==1.0"]),
        library(tmp_path, "New Dep", ["plandep==2.0"]),
        library(tmp_path, "Any Dep", ["plandep>=1.0"]),  # accepts the 1.0 Old Dep claimed: no conflict
        library(tmp_path, "Needs New", ["planneeds==1.0"]),  # plandep 2.0 through planneeds
        library(tmp_path, "Old WS", ["websockets==12.0"]),
        library(tmp_path, "Iso One", ["tinyver==1.0"], isolated=True),
        library(tmp_path, "Iso Two", ["tinyver==1.0"], isolated=True),
        library(tmp_path, "Iso New", ["plandep==2.0"], isolated=True),
    )
    done = nodeisle("plan", "--json")
    assert done.returncode == 1, done.stderr  # there are conflicts
    plan = json.loads(done.stdout)
    messages = [c["message"] for c in plan["conflicts"]]
    assert "library 'Old Dep' pins plandep==1.0; library 'New Dep' pins plandep==2.0" in messages
    assert "library 'Old Dep' pins plandep==1.0; library 'Needs New' needs plandep==2.0 (through planneeds)" in messages
    assert f"library 'Old WS' pins websockets==12.0; the engine's environment has websockets {ENGINE_WEBSOCKETS}" in (
        messages)
    assert len(messages) == 3, messages  # Isolated libraries never conflict, and Any Dep accepts 1.0
    engine_side = next(c for c in plan["conflicts"] if c["package"] == "websockets")["sides"]
    assert engine_side[0] == {"library": "Old WS", "requirement": "websockets==12.0"}
    assert engine_side[1]["requirement"] == f"websockets=={ENGINE_WEBSOCKETS}" and "engine" in engine_side[1]
    libs = {lib["name"]: lib for lib in plan["libraries"]}
    assert set(libs["Old Dep"]) >= {"name", "mode", "can_run_shared", "recommended_mode", "reason"}
    assert (libs["Old Dep"]["can_run_shared"], libs["Old Dep"]["recommended_mode"]) == (True, "shared")
    assert "install into its own overlay" in libs["Old Dep"]["reason"] and libs["Old Dep"]["overlay"] == [
        "plandep==1.0"]
    assert (libs["New Dep"]["can_run_shared"], libs["New Dep"]["recommended_mode"]) == (False, "isolated")
    assert libs["New Dep"]["reason"].endswith("run it Isolated")
    assert libs["Any Dep"]["can_run_shared"] and libs["Any Dep"]["recommended_mode"] == "shared"
    assert libs["Iso One"]["mode"] == "isolated" and libs["Iso One"]["can_run_shared"]
    assert "it could run Shared" in libs["Iso One"]["reason"]
    assert not libs["Iso New"]["can_run_shared"] and "library 'Old Dep' pins plandep==1.0" in libs["Iso New"]["reason"]
    assert ["Iso One", "Iso Two"] in plan["env_groups"] and ["Iso New"] in plan["env_groups"]

    text = nodeisle("plan")
    assert text.returncode == 1
    assert "conflict: library 'Old Dep' pins plandep==1.0; library 'New Dep' pins plandep==2.0" in text.stdout
    assert "one env for: Iso One, Iso Two" in text.stdout


def test_plan_of_a_workflow_plans_only_its_libraries_in_its_modes(plan_home: Path, tmp_path: Path) -> None:
    old, new = library(tmp_path, "Old Dep", ["plandep==1.0"]), library(tmp_path, "New Dep", ["plandep==2.0"])
    flow = workflow(tmp_path, {"libraries": [str(old), str(new)], "library_modes": {"New Dep": "isolated"},
                               "nodes": []})
    done = nodeisle("plan", str(flow), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads(done.stdout)
    assert plan["conflicts"] == [] and [lib["mode"] for lib in plan["libraries"]] == ["shared", "isolated"]
    assert nodeisle("plan", str(tmp_path / "missing.json")).returncode == 2


def test_a_shared_library_with_missing_pins_runs_on_its_overlay_and_the_engine_env_is_unchanged(
    plan_home: Path, tmp_path: Path
) -> None:
    library(tmp_path, "Needs New", ["planneeds==1.0"])
    before = freeze()
    done = run_ver(tmp_path, "Needs New", "plandep", "--shared", "Needs New")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["nodes"]["v"]["outputs"]["version"] == "2.0"  # through planneeds, in its overlay
    assert freeze() == before  # byte for byte
    [overlay] = (plan_home / "overlays").iterdir()
    assert overlay.name.startswith("needs-new-") and {p.name for p in overlay.glob("*.dist-info")} == {
        "planneeds-1.0.dist-info", "plandep-2.0.dist-info"}
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("plandep")
    again = run_ver(tmp_path, "Needs New", "plandep", "-v", "--shared", "Needs New")
    assert again.returncode == 0 and "resolver: uv" not in again.stderr  # the unchanged manifest: no resolver run


def test_a_shared_library_whose_pins_conflict_with_the_engine_is_refused_by_every_route(
    plan_home: Path, tmp_path: Path
) -> None:
    add(library(tmp_path, "Old WS", ["oldws==1.0"], isolated=True))
    why = (f"library 'Old WS' needs websockets==12.0 (through oldws); the engine's environment has websockets "
           f"{ENGINE_WEBSOCKETS}")
    mode = nodeisle("libraries", "mode", "Old WS", "shared")
    assert mode.returncode == 2 and why in mode.stderr and "Run it Isolated" in mode.stderr, mode.stderr
    assert "Old WS" not in json.loads((plan_home / "settings.json").read_text()).get("library_modes", {})
    before = freeze()
    run = run_ver(tmp_path, "Old WS", "oldws", "--shared", "Old WS")
    assert run.returncode != 0 and why in run.stdout + run.stderr, run.stdout + run.stderr
    assert freeze() == before
    listed = nodeisle("libraries", "list")
    assert "[loaded]" in listed.stdout and "plan: cannot run Shared; recommended isolated" in listed.stdout
    assert nodeisle("libraries", "mode", "Old WS", "isolated").returncode == 0


def test_libraries_list_shows_the_refusal_and_one_line_per_conflict(plan_home: Path, tmp_path: Path) -> None:
    add(library(tmp_path, "Old Dep", ["plandep==1.0"]), library(tmp_path, "New Dep", ["plandep==2.0"]))
    listed = nodeisle("libraries", "list")
    assert listed.returncode == 0, listed.stderr
    conflict = "library 'Old Dep' pins plandep==1.0; library 'New Dep' pins plandep==2.0"
    assert listed.stdout.count(f"conflict: {conflict}") == 1, listed.stdout + listed.stderr
    assert f"problem: library 'New Dep': cannot run Shared: {conflict}. Run it Isolated" in listed.stdout
    assert "plan: cannot run Shared; recommended isolated" in listed.stdout
    rows = {r["name"]: r for r in json.loads(nodeisle("libraries", "list", "--json").stdout)}
    assert rows["Old Dep"]["status"] == "loaded" and rows["New Dep"]["status"] == "failed"
    assert rows["New Dep"]["plan"]["recommended_mode"] == "isolated"


def test_libraries_resolving_to_the_same_set_share_one_env(plan_home: Path, tmp_path: Path) -> None:
    for name in ("Iso One", "Iso Two"):
        library(tmp_path, name, ["tinyver==1.0"], isolated=True)
        done = run_ver(tmp_path, name, "tinyver")
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["nodes"]["v"]["outputs"]["version"] == "1.0"
    [env] = [p for p in (plan_home / "envs").iterdir() if p.is_dir()]
    listed = nodeisle("envs", "list")
    assert listed.stdout.startswith(f"{env.name}  used by: Iso One, Iso Two  ") and " MB  " in listed.stdout
    again = run_ver(tmp_path, "Iso One", "tinyver", "-v")
    assert again.returncode == 0 and "resolver: uv" not in again.stderr, again.stderr


def test_a_range_resolved_again_later_is_a_new_env_and_the_plan_says_so(
    plan_home: Path, tmp_path: Path, extra: Path
) -> None:
    (extra / "plandep-2.0-py3-none-any.whl").unlink()
    add(library(tmp_path, "Ranged", ["plandep>=1.0"], isolated=True))
    first = run_ver(tmp_path, "Ranged", "plandep")
    assert json.loads(first.stdout)["nodes"]["v"]["outputs"]["version"] == "1.0", first.stderr
    build_wheel(extra, "plandep", "2.0")  # a new release
    assert json.loads(run_ver(tmp_path, "Ranged", "plandep").stdout)["nodes"]["v"]["outputs"]["version"] == "1.0"
    plan = json.loads(nodeisle("plan", "--json").stdout)
    [note] = plan["notes"]
    assert "now resolve to another set than its env was built from (plandep 1.0 -> 2.0)" in note, note
    assert nodeisle("envs", "rebuild", "Ranged").returncode == 0
    assert json.loads(run_ver(tmp_path, "Ranged", "plandep").stdout)["nodes"]["v"]["outputs"]["version"] == "2.0"
    assert len([p for p in (plan_home / "envs").iterdir() if p.is_dir()]) == 2
    pruned = nodeisle("envs", "prune")
    assert pruned.returncode == 0 and len([p for p in (plan_home / "envs").iterdir() if p.is_dir()]) == 1


def test_envs_lock_keeps_the_set_and_a_locked_env_never_runs_the_resolver(
    plan_home: Path, tmp_path: Path, extra: Path
) -> None:
    (extra / "plandep-2.0-py3-none-any.whl").unlink()
    folder = library(tmp_path, "Ranged", ["plandep>=1.0"], isolated=True)
    add(folder)
    locked = nodeisle("envs", "lock", "Ranged")
    assert locked.returncode == 0, locked.stderr
    text = (folder / "nodeisle.lock").read_text()
    assert "plandep==1.0 \\\n    --hash=sha256:" in text and "websockets==" in text
    assert nodeisle("envs", "lock", "Nope").returncode == 2
    build_wheel(extra, "plandep", "2.0")
    import shutil

    shutil.rmtree(plan_home / "resolutions")  # nothing cached: only the lock can decide
    done = run_ver(tmp_path, "Ranged", "plandep", "-v")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["nodes"]["v"]["outputs"]["version"] == "1.0"
    assert "resolver: uv pip compile" not in done.stderr
    rebuilt = nodeisle("envs", "rebuild", "Ranged")
    assert rebuilt.returncode == 0 and "from " + str(folder / "nodeisle.lock") in rebuilt.stdout, rebuilt.stdout
