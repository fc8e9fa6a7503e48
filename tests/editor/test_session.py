"""The editor's session: workflow files in the CLI's format, and library choices kept like the CLI's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodeisle.config.settings import Settings
from nodeisle.editor.session import EditorError, EditorSession, options_of
from nodeisle.flow.workflow import load_workflow, run_workflow
from nodeisle.orchestrator.engine import build_orchestrator
from nodeisle.orchestrator.events import LibraryChanged
from nodeisle.requests import CreateConnectionRequest, CreateNodeRequest, RunFlowResult, SetParameterValueRequest
from tests.conftest import EXAMPLES, TEXT_TOOLS, run, write_library

TEXT_FLOW = EXAMPLES / "workflows" / "text.json"


def test_open_builds_the_flow_without_running_it_and_save_writes_what_the_cli_runs(home: Path, tmp_path: Path) -> None:
    saved = tmp_path / "out" / "copy.json"

    async def body() -> tuple[dict[str, object], RunFlowResult]:
        async with build_orchestrator() as orchestrator:
            session = EditorSession(orchestrator)
            await session.start(None)
            assert (await session.open_workflow(str(TEXT_FLOW))) == {"problems": []}
            view = session.snapshot()
            assert all(not node["outputs"] for node in view["nodes"])  # type: ignore[index, union-attr]
            await orchestrator.handle_async(SetParameterValueRequest(node_name="greet", parameter_name="text",
                                                                     value="from the editor"))
            assert session.save_workflow(str(saved), {"greet": {"x": 1, "y": 2}, "gone": {"x": 0, "y": 0}}) == {
                "path": str(saved)}
        async with build_orchestrator() as orchestrator:
            return view, await run_workflow(orchestrator, load_workflow(saved))

    view, result = run(body())
    assert view["flow"] == "text" and view["workflow"] == str(TEXT_FLOW)
    original = json.loads(TEXT_FLOW.read_text())
    document = json.loads(saved.read_text())
    [library] = document["libraries"]
    assert not Path(library).is_absolute() and (saved.parent / library).resolve() == TEXT_TOOLS.resolve()
    assert document["library_modes"] == {"Text Tools": "shared"}
    assert [n["name"] for n in document["nodes"]] == [n["name"] for n in original["nodes"]]
    assert document["connections"] == original["connections"]
    assert document["editor"] == {"positions": {"greet": {"x": 1, "y": 2}}}
    assert result.status == "succeeded", result.message
    assert result.nodes["greet"].outputs == {"result": "from the editor"}


def test_a_saved_flow_built_in_the_editor_reopens_with_its_positions(home: Path, tmp_path: Path) -> None:
    saved = tmp_path / "built.json"

    async def body() -> dict[str, object]:
        async with build_orchestrator() as orchestrator:
            session = EditorSession(orchestrator)
            await session.start(None)
            await session.add_library(str(TEXT_TOOLS))
            for name in ("a", "b"):
                await orchestrator.handle_async(CreateNodeRequest(node_type="Echo", node_name=name, flow_name="editor"))
            await orchestrator.handle_async(CreateConnectionRequest(
                source_node_name="a", source_parameter_name="result", target_node_name="b", target_parameter_name="text"))
            session.save_workflow(str(saved), {"a": {"x": 5, "y": 6}, "b": {"x": 7, "y": 8}})
        async with build_orchestrator() as orchestrator:
            session = EditorSession(orchestrator)
            await session.start(saved)
            return session.snapshot()

    view = run(body())
    assert view["positions"] == {"a": {"x": 5, "y": 6}, "b": {"x": 7, "y": 8}}
    assert [n["name"] for n in view["nodes"]] == ["a", "b"]  # type: ignore[index, union-attr]
    assert view["connections"] == [{"source_node_name": "a", "source_parameter_name": "result",
                                    "target_node_name": "b", "target_parameter_name": "text"}]
    assert Settings.load(home).libraries == [str(TEXT_TOOLS / "griptape-nodes-library.json")]  # like `libraries add`


def test_mode_choices_persist_and_incompatible_stays_shared(home: Path, tmp_path: Path) -> None:
    locked = write_library(tmp_path, "Locked", "", [], declarations=[
        {"type": "worker_mode_compatibility", "compatibility": "INCOMPATIBLE"}])

    async def body() -> None:
        async with build_orchestrator() as orchestrator:
            session = EditorSession(orchestrator)
            await session.start(None)
            await session.add_library(str(locked))
            refused = await session.set_mode("Locked", "isolated")
            assert not refused.succeeded and "INCOMPATIBLE" in refused.message
            view = session.snapshot()["libraries"][0]  # type: ignore[index]
            assert "worker_mode_compatibility INCOMPATIBLE" in view["mode_locked"]
            with pytest.raises(EditorError, match="library 'Locked': "):
                await session.set_mode("Locked", "sideways")
            with pytest.raises(EditorError, match=r"a workflow file ends in \.json"):
                session.save_workflow(str(tmp_path / "flow.txt"))
            with pytest.raises(EditorError, match=r"nope\.json"):
                await session.open_workflow(str(tmp_path / "nope.json"))

    run(body())
    assert Settings.load(home).library_modes == {}


def test_remove_library_deletes_its_nodes_stops_it_and_unregisters_it(home: Path) -> None:
    async def body() -> tuple[dict[str, object], list[object]]:
        seen: list[object] = []
        async with build_orchestrator() as orchestrator:
            session = EditorSession(orchestrator)
            await session.start(None)
            await session.add_library(str(TEXT_TOOLS))
            await orchestrator.handle_async(CreateNodeRequest(node_type="Echo", node_name="e", flow_name="editor"))
            orchestrator.events.subscribe(seen.append)
            removed = await session.remove_library("Text Tools")
            assert session.snapshot()["libraries"] == [] and session.snapshot()["nodes"] == []
            with pytest.raises(EditorError, match="no library named 'Text Tools' is registered"):
                await session.remove_library("Text Tools")
            return removed, seen

    removed, seen = run(body())
    assert removed == {"removed": "Text Tools", "deleted_nodes": ["e"]}
    assert Settings.load(home).libraries == []
    changed = [e for e in seen if isinstance(e, LibraryChanged)]
    assert len(changed) == 1 and changed[0].removed and changed[0].library.name == "Text Tools"


def test_options_choices_are_read_back_from_the_schema() -> None:
    behaviors = {"style": ("converter str", "trait Options(choices=['a', 'b'])"), "n": ("trait Options(choices=[1, 2])",),
                 "odd": ("trait Options(choices=[<object>])",), "plain": ("validator check",)}
    assert options_of(behaviors) == {"style": ["a", "b"], "n": [1, 2]}
