"""PlanRequest (what the editor shows beside the Shared/Isolated choice) and Shared overlays through the engine."""

from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path

import pytest

from nodeisle.orchestrator.engine import build_orchestrator
from nodeisle.requests import (
    CreateNodeRequest,
    ExecuteNodeRequest,
    PlanRequest,
    PlanResult,
    RegisterLibraryRequest,
    SetLibraryModeRequest,
)
from tests.conftest import run, write_library
from tests.wheels import build_wheel

NODES = """
from nodeisle import BaseNode, Parameter, ParameterMode

class Ver(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("version", type="str", allowed_modes={ParameterMode.OUTPUT}))

    def process(self):
        import plandep
        self.parameter_output_values["version"] = plandep.__version__
"""


@pytest.fixture
def libs(offline_home: Path, wheelhouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    extra = tmp_path / "extra-wheels"
    for version in ("1.0", "2.0"):
        build_wheel(extra, "plandep", version)
    monkeypatch.setenv("NODEISLE_FIND_LINKS", f"{wheelhouse}{os.pathsep}{extra}")
    return {
        name: write_library(tmp_path / "libs", name, NODES, ["Ver"], pins=[pin])
        for name, pin in (("Old Dep", "plandep==1.0"), ("New Dep", "plandep==2.0"))
    }


def test_plan_request_answers_what_a_mode_switch_would_do(libs: dict[str, Path]) -> None:
    async def body() -> None:
        async with build_orchestrator() as o:
            assert (await o.handle_async(RegisterLibraryRequest(path=str(libs["Old Dep"])))).succeeded
            assert (await o.handle_async(RegisterLibraryRequest(path=str(libs["New Dep"]), mode="isolated"))).succeeded
            now = await o.handle_async(PlanRequest())
            assert isinstance(now, PlanResult) and now.succeeded and now.conflicts == []
            assert [lib["recommended_mode"] for lib in now.libraries] == ["shared", "isolated"]
            would = await o.handle_async(PlanRequest(modes={"New Dep": "SHARED"}))  # any case, as elsewhere
            assert isinstance(would, PlanResult)
            assert [c["message"] for c in would.conflicts] == [
                "library 'Old Dep' pins plandep==1.0; library 'New Dep' pins plandep==2.0"]
            assert would.message == "2 libraries, 1 conflict"
            # The switch itself is refused at load, naming the same conflict and the fix.
            switched = await o.handle_async(SetLibraryModeRequest(library_name="New Dep", mode="shared"))
            assert not switched.succeeded and "cannot run Shared: library 'Old Dep' pins plandep==1.0" in switched.message
            assert "Run it Isolated" in switched.message

    run(body(), timeout=120)


def test_a_shared_library_imports_its_overlay_and_the_engine_env_is_untouched(libs: dict[str, Path]) -> None:
    before = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}

    async def body() -> None:
        async with build_orchestrator() as o:
            assert (await o.handle_async(RegisterLibraryRequest(path=str(libs["New Dep"]), mode="shared"))).succeeded
            node = await o.handle_async(CreateNodeRequest(node_type="Ver"))
            done = await o.handle_async(ExecuteNodeRequest(node_name=node.node_name))  # type: ignore[attr-defined]
            assert done.parameter_output_values == {"version": "2.0"}, done.message  # type: ignore[attr-defined]

    try:
        run(body(), timeout=120)
        after = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions(
            path=[p for p in sys.path if "overlays" not in p])}
        assert after == before
    finally:  # the overlay was put on this test process's sys.path: take it off again
        sys.path[:] = [p for p in sys.path if "overlays" not in p]
        sys.modules.pop("plandep", None)
