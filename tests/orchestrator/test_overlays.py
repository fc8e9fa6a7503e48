"""Shared libraries' pins at load: satisfied (nothing runs), missing (an overlay), in conflict (refused)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nodeisle.errors import LibraryError
from nodeisle.manifest import LibraryManifest, load_manifest
from nodeisle.orchestrator.envs import EnvManager
from nodeisle.orchestrator.overlays import SharedDeps
from tests.conftest import write_library
from tests.wheels import build_wheel


@pytest.fixture
def deps(tmp_path: Path, wheelhouse: Path) -> SharedDeps:
    extra = tmp_path / "extra"
    for version in ("1.0", "2.0"):
        build_wheel(extra, "ovdep", version)
    envs = EnvManager(tmp_path / "home" / "envs", find_links=[str(wheelhouse), str(extra)], offline=True)
    return SharedDeps(envs.resolver, tmp_path / "home" / "overlays")


def manifest(tmp_path: Path, name: str, pins: list[str]) -> LibraryManifest:
    return load_manifest(write_library(tmp_path / "libs", name, "", [], pins=pins))


def test_satisfied_pins_need_no_overlay_and_run_no_resolver(deps: SharedDeps, tmp_path: Path) -> None:
    import importlib.metadata

    pins = [f"websockets=={importlib.metadata.version('websockets')}", "packaging>=20"]
    assert deps.prepare(manifest(tmp_path, "Fine", pins)) == []
    assert deps.resolver.runs == []


def test_missing_pins_go_to_an_overlay_that_leaves_sys_path_when_the_library_stops(
    deps: SharedDeps, tmp_path: Path
) -> None:
    [overlay] = deps.prepare(manifest(tmp_path, "Missing", ["ovdep==1.0"]))
    assert (Path(overlay) / "ovdep" / "__init__.py").is_file()
    assert deps.resolver.runs == ["install", "compile", "install"]  # the dry run, who-needs-what, the overlay
    sys.path.append(overlay)
    try:
        import ovdep  # type: ignore[import-not-found]

        assert ovdep.__version__ == "1.0"
    finally:
        deps.release("Missing")
    assert overlay not in sys.path and "ovdep" not in sys.modules
    deps.resolver.runs.clear()
    assert deps.prepare(manifest(tmp_path, "Missing", ["ovdep==1.0"])) == [overlay]
    assert deps.resolver.runs == []  # the dry run's answer and the overlay are both kept
    deps.release("Missing")


def test_a_later_shared_library_that_contradicts_an_earlier_one_is_refused(deps: SharedDeps, tmp_path: Path) -> None:
    deps.prepare(manifest(tmp_path, "First", ["ovdep==1.0"]))
    with pytest.raises(LibraryError) as refused:
        deps.prepare(manifest(tmp_path, "Second", ["ovdep==2.0"]))
    assert str(refused.value) == (
        "library 'Second': cannot run Shared: library 'First' pins ovdep==1.0; library 'Second' pins ovdep==2.0. "
        "Run it Isolated: `nodeisle libraries mode Second isolated` (or `--isolated Second` for one run)")
    deps.release("First")
    assert deps.prepare(manifest(tmp_path, "Second", ["ovdep==2.0"]))  # First has stopped
    deps.release("Second")
    assert not [p for p in sys.path if "overlays" in p]
