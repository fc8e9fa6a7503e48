"""Connection hooks through the orchestrator: a connection made or removed runs the target node's
``after_incoming_connection[_removed]`` where its library runs (Shared, Isolated in process, and
Isolated in a real worker), and what the hook does to the parameter list is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.requests import (
    CreateConnectionRequest,
    CreateFlowRequest,
    CreateNodeRequest,
    DeleteConnectionRequest,
    DeleteNodeRequest,
    ExecuteNodeRequest,
    GetParameterDetailsRequest,
    ListConnectionsForNodeRequest,
    ListParametersOnNodeRequest,
    RegisterLibraryRequest,
    Result,
    RunFlowRequest,
)
from nodeisle.testing.inprocess import build_in_process_orchestrator
from tests.conftest import run, write_library

NODES = '''
from nodeisle import BaseNode, Parameter, ParameterMode

class Source(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("out", type="str", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        self.parameter_output_values["out"] = "hi"

class Sink(BaseNode):
    """Adds a parameter describing what feeds `a` while it is connected."""
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("a", type="any", allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("seen", type="any", allowed_modes={ParameterMode.OUTPUT}))
    def after_incoming_connection(self, source_node, source_parameter, target_parameter):
        described = (f"{source_node.name}:{source_node.class_name}.{source_parameter.name}({source_parameter.type}) "
                     f"of {source_node.library} with {[p.name for p in source_node.parameters]}")
        self.add_parameter(Parameter("via_" + target_parameter.name, type="str", default_value=described,
                                     allowed_modes={ParameterMode.PROPERTY}))
    def after_incoming_connection_removed(self, source_node, source_parameter, target_parameter):
        self.remove_parameter_element("via_" + target_parameter.name)
    def process(self):
        self.parameter_output_values["seen"] = [self.parameter_values.get("a"), sorted(p.name for p in self.parameters)]

class Refuser(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("a", type="any", allowed_modes={ParameterMode.INPUT}))
    def after_incoming_connection(self, source_node, source_parameter, target_parameter):
        raise ValueError(f"{type(self).__name__} takes nothing from {source_node.class_name}")
    def process(self):
        pass

class Clinger(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("a", type="any", allowed_modes={ParameterMode.INPUT}))
    def after_incoming_connection_removed(self, source_node, source_parameter, target_parameter):
        raise RuntimeError("let go of nothing")
    def process(self):
        pass
'''
CLASSES = ["Source", "Sink", "Refuser", "Clinger"]


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return write_library(tmp_path / "libs", "Hooked", NODES, CLASSES)


@pytest.fixture(params=["shared", "isolated", "isolated-subprocess"])
def mode(request: pytest.FixtureRequest, offline_home: Path) -> str:
    return str(request.param)


async def start(library: Path, mode: str) -> Orchestrator:
    orchestrator = build_in_process_orchestrator() if mode == "isolated" else build_orchestrator()
    await orchestrator.__aenter__()
    ok(await orchestrator.handle_async(RegisterLibraryRequest(path=str(library), mode=mode.removesuffix("-subprocess"))))
    ok(await orchestrator.handle_async(CreateFlowRequest(flow_name="main")))
    for node_type, name in (("Source", "src"), ("Sink", "sink"), ("Refuser", "refuser"), ("Clinger", "clinger")):
        ok(await orchestrator.handle_async(CreateNodeRequest(node_type=node_type, node_name=name, flow_name="main")))
    return orchestrator


def link(target: str) -> dict[str, str]:
    return {"source_node_name": "src", "source_parameter_name": "out", "target_node_name": target,
            "target_parameter_name": "a"}


async def names(o: Orchestrator, node: str) -> list[str]:
    return list(ok(await o.handle_async(ListParametersOnNodeRequest(node_name=node))).parameter_names)


def test_the_hooks_change_the_parameter_list_when_a_connection_is_made_and_removed(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            ok(await o.handle_async(CreateConnectionRequest(**link("sink"))))
            assert await names(o, "sink") == ["a", "seen", "via_a"]
            details = ok(await o.handle_async(GetParameterDetailsRequest(node_name="sink", parameter_name="via_a")))
            assert details.default_value == "src:Source.out(str) of Hooked with ['out']"
            run_result = ok(await o.handle_async(RunFlowRequest(flow_name="main")))
            assert run_result.nodes["sink"].outputs["seen"] == ["hi", ["a", "seen", "via_a"]]
            ok(await o.handle_async(DeleteConnectionRequest(**link("sink"))))
            assert await names(o, "sink") == ["a", "seen"]
            outputs = ok(await o.handle_async(ExecuteNodeRequest(node_name="sink"))).parameter_output_values
            assert outputs["seen"] == [None, ["a", "seen"]]
            ok(await o.handle_async(CreateConnectionRequest(**link("sink"))))
            ok(await o.handle_async(DeleteNodeRequest(node_name="src")))  # its connections go, and their hooks run
            assert await names(o, "sink") == ["a", "seen"]
        finally:
            await o.close()

    run(body())


def test_a_failing_hook_fails_the_request_naming_node_and_library_and_leaves_the_graph_as_it_was(
    library: Path, mode: str
) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            refused = await o.handle_async(CreateConnectionRequest(**link("refuser")))
            assert not refused.succeeded
            assert "node 'refuser' (Refuser of library 'Hooked')" in refused.message
            assert "after_incoming_connection raised ValueError: Refuser takes nothing from Source" in refused.message
            incoming = ok(await o.handle_async(ListConnectionsForNodeRequest(node_name="refuser"))).incoming
            assert incoming == []
            ok(await o.handle_async(CreateConnectionRequest(**link("clinger"))))  # it only hooks removal
            kept = await o.handle_async(DeleteConnectionRequest(**link("clinger")))
            assert not kept.succeeded
            assert "after_incoming_connection_removed raised RuntimeError: let go of nothing" in kept.message
            incoming = ok(await o.handle_async(ListConnectionsForNodeRequest(node_name="clinger"))).incoming
            assert [c.source_node_name for c in incoming] == ["src"]
            deleted = ok(await o.handle_async(DeleteNodeRequest(node_name="src")))  # deleted even so, and said why
            assert "after_incoming_connection_removed raised RuntimeError: let go of nothing" in deleted.message
            assert ok(await o.handle_async(ListConnectionsForNodeRequest(node_name="clinger"))).incoming == []
        finally:
            await o.close()

    run(body())


def test_only_classes_that_override_a_hook_have_it_in_their_schema(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            schemas = o.registry.states["Hooked"].schemas
            assert {name: schemas[name].hooks for name in CLASSES} == {
                "Source": (),
                "Sink": ("after_incoming_connection", "after_incoming_connection_removed"),
                "Refuser": ("after_incoming_connection",),
                "Clinger": ("after_incoming_connection_removed",),
            }
        finally:
            await o.close()

    run(body())


UPSTREAM = '''
from nodeisle import BaseNode, Parameter, ParameterMode

class Emitter(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("out", type="str", allowed_modes={ParameterMode.OUTPUT}))
        self.add_parameter(Parameter("extra", type="int", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        self.parameter_output_values["out"] = "from the orchestrator"
'''


def test_the_source_may_be_another_librarys_node_in_another_process(
    library: Path, tmp_path: Path, offline_home: Path
) -> None:
    upstream = write_library(tmp_path / "up", "Upstream", UPSTREAM, ["Emitter"])

    async def body() -> None:
        async with build_orchestrator() as o:
            ok(await o.handle_async(RegisterLibraryRequest(path=str(upstream), mode="shared")))
            ok(await o.handle_async(RegisterLibraryRequest(path=str(library), mode="isolated")))
            ok(await o.handle_async(CreateFlowRequest(flow_name="main")))
            ok(await o.handle_async(CreateNodeRequest(node_type="Emitter", node_name="emit", flow_name="main")))
            ok(await o.handle_async(CreateNodeRequest(node_type="Sink", node_name="sink", flow_name="main")))
            ok(await o.handle_async(CreateConnectionRequest(
                source_node_name="emit", source_parameter_name="out", target_node_name="sink", target_parameter_name="a")))
            details = ok(await o.handle_async(GetParameterDetailsRequest(node_name="sink", parameter_name="via_a")))
            assert details.default_value == "emit:Emitter.out(str) of Upstream with ['out', 'extra']"
            result = ok(await o.handle_async(RunFlowRequest(flow_name="main")))
            assert result.nodes["sink"].outputs["seen"] == ["from the orchestrator", ["a", "seen", "via_a"]]

    run(body())
