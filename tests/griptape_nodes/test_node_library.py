"""griptape_nodes.node_library: the library objects hooks receive, and the request handlers' rules."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from griptape_nodes.node_library import _loader
from griptape_nodes.node_library.advanced_node_library import AdvancedNodeLibrary
from griptape_nodes.node_library.library_registry import Library, LibraryRegistry, LibrarySchema
from griptape_nodes.retained_mode.events.base_events import RequestPayload, ResultPayloadSuccess
from griptape_nodes.retained_mode.events.config_events import GetConfigValueRequest
from griptape_nodes.retained_mode.griptape_nodes import GriptapeNodes
from nodeisle.manifest import LibraryManifest, load_manifest
from nodeisle.node.loading import HookFailed
from tests.griptape_nodes.fixture_libraries import manifest


@dataclass
class PingRequest(RequestPayload):
    text: str


@dataclass
class PingResult(ResultPayloadSuccess):
    echo: str


def library_manifest(tmp_path: Path, name: str, **extra: Any) -> LibraryManifest:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    (folder / "nodes.py").write_text("")
    data = manifest(name, [("Thing", "nodes.py")], **extra)
    (folder / "griptape-nodes-library.json").write_text(json.dumps(data))
    return load_manifest(folder)


def hooks_for(m: LibraryManifest, handlers: list[Any]) -> _loader.AdvancedHooks:
    class Advanced(AdvancedNodeLibrary):
        unregistered = 0

        def get_request_handlers(self) -> list[Any]:
            return handlers

        def before_library_unregistered(self, library_data: LibrarySchema, library: Library) -> None:
            Advanced.unregistered += 1

    return _loader.AdvancedHooks(m, Advanced())


def test_library_data_has_griptape_field_names(tmp_path: Path) -> None:
    m = library_manifest(tmp_path, "Schema Lib", settings=[{"category": "cat", "contents": {"k": 1}}],
                         advanced_library_path="adv.py")
    data = LibrarySchema.from_manifest(m)
    assert (data.name, data.library_schema_version, data.metadata.library_version) == ("Schema Lib", "0.10.0", "1.2.3")
    assert data.metadata.dependencies is not None and data.metadata.dependencies.pip_dependencies == []
    assert data.categories[0]["color"].icon == "Palette" and data.nodes[0].metadata.display_name == "Thing"
    assert data.settings is not None and data.settings[0].contents == {"k": 1}
    assert data.advanced_library_path == "adv.py" and data.workflows is None
    with pytest.raises(AttributeError, match=r"LibrarySchema\.components: nodeisle's griptape_nodes"):
        _ = data.components
    assert getattr(data, "components", None) is None


def test_handlers_answer_sync_and_async_and_go_with_the_library(tmp_path: Path) -> None:
    async def async_ping(request: PingRequest) -> PingResult:
        await asyncio.sleep(0)
        return PingResult(echo=request.text * 2, result_details="ok")

    hooks = hooks_for(library_manifest(tmp_path, "Ping Lib"), [(PingRequest, async_ping)])
    hooks.before_nodes_loaded()
    hooks.after_nodes_loaded({})
    assert LibraryRegistry.get_library("Ping Lib").get_registered_request_handler_types() == [PingRequest]
    result = GriptapeNodes.handle_request(PingRequest(text="a"))  # no loop here: run on one of its own
    assert isinstance(result, PingResult) and result.echo == "aa"

    async def from_a_loop() -> tuple[Any, Any]:
        return GriptapeNodes.handle_request(PingRequest(text="b")), await GriptapeNodes.ahandle_request(
            PingRequest(text="c"))

    sync_on_loop, awaited = asyncio.run(from_a_loop())
    assert (sync_on_loop.echo, awaited.echo) == ("bb", "cc")
    hooks.unload()
    assert type(hooks.instance).unregistered == 1  # type: ignore[attr-defined]
    with pytest.raises(NotImplementedError, match="no handler for PingRequest in this process"):
        GriptapeNodes.handle_request(PingRequest(text="gone"))
    assert "Ping Lib" not in LibraryRegistry.list_libraries()


def test_a_request_type_has_one_handler_and_griptape_requests_are_the_engines(tmp_path: Path) -> None:
    first = hooks_for(library_manifest(tmp_path, "First"), [(PingRequest, lambda r: PingResult(echo="1"))])
    first.before_nodes_loaded()
    first.after_nodes_loaded({})
    try:
        second = hooks_for(library_manifest(tmp_path, "Second"), [(PingRequest, lambda r: PingResult(echo="2"))])
        with pytest.raises(HookFailed, match="PingRequest already has a handler, registered by library 'First'"):
            second.after_nodes_loaded({})
        own = hooks_for(library_manifest(tmp_path, "Own"), [(GetConfigValueRequest, lambda r: None)])
        with pytest.raises(HookFailed, match="GetConfigValueRequest is one of Griptape's own requests"):
            own.after_nodes_loaded({})
        assert GriptapeNodes.handle_request(PingRequest(text="x")).echo == "1"  # type: ignore[attr-defined]
    finally:
        first.unload()


def test_a_handler_that_returns_no_result_payload_is_named(tmp_path: Path) -> None:
    hooks = hooks_for(library_manifest(tmp_path, "Sloppy"), [(PingRequest, lambda r: {"echo": r.text})])
    hooks.after_nodes_loaded({})
    try:
        with pytest.raises(TypeError, match="library 'Sloppy' registered for PingRequest returned dict"):
            GriptapeNodes.handle_request(PingRequest(text="x"))
    finally:
        hooks.unload()
    assert type(hooks.instance).unregistered == 1  # type: ignore[attr-defined]
