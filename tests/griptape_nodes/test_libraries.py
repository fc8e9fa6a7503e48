"""Griptape-style libraries run through the orchestrator's requests, Shared and Isolated (in process).

The library below is written the way public Griptape libraries are: keyword-only ``__init__``,
``ParameterGroup`` with-blocks, a ``ControlNode``, a generator ``process`` (AsyncResult), and
``GriptapeNodes.handle_request`` for state that must outlive one execution.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.requests import (
    CreateFlowRequest,
    CreateNodeRequest,
    ExecuteNodeRequest,
    GetParameterDetailsRequest,
    ListParametersOnNodeRequest,
    ListRegisteredLibrariesRequest,
    RegisterLibraryRequest,
    Result,
    SetParameterValueRequest,
)
from nodeisle.testing.inprocess import build_in_process_orchestrator
from tests.conftest import run, write_library

NODES = '''
import asyncio
import threading
from typing import Any

from griptape_nodes.exe_types.core_types import Parameter, ParameterGroup, ParameterMode
from griptape_nodes.exe_types.node_types import AsyncResult, ControlNode, DataNode
from griptape_nodes.retained_mode.events.parameter_events import (
    AddParameterToNodeRequest,
    GetParameterValueRequest,
    SetParameterValueRequest,
    SetParameterValueResultSuccess,
)
from griptape_nodes.retained_mode.griptape_nodes import GriptapeNodes


class Greeting(DataNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.category = "text"
        self.description = "Greets someone"
        self.add_parameter(Parameter(name="who", input_types=["str"], type="str", default_value="world", tooltip="Who"))
        with ParameterGroup(name="Style") as style_group:
            Parameter(name="punctuation", type="str", default_value="!", tooltip="End mark",
                      allowed_modes={ParameterMode.PROPERTY})
            Parameter(name="prefix", type="str", tooltip="Optional prefix, no default",
                      allowed_modes={ParameterMode.INPUT, ParameterMode.PROPERTY})
        style_group.ui_options = {"collapsed": True}
        self.add_node_element(style_group)
        self.add_parameter(Parameter(name="greeting", output_type="str", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))
        self.add_parameter(Parameter(name="value_names", output_type="list", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        prefix = self.parameter_values.get("prefix", "")
        who = self.get_parameter_value("who")
        self.parameter_output_values["greeting"] = f"{prefix}Hello, {who}{self.parameter_values['punctuation']}"
        self.parameter_output_values["value_names"] = sorted(self.parameter_values)


class Double(ControlNode):
    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, metadata)
        self.add_parameter(Parameter(name="value", type="int", default_value=1, tooltip="In",
                                     allowed_modes={ParameterMode.INPUT, ParameterMode.PROPERTY}))
        self.add_parameter(Parameter(name="doubled", output_type="int", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        self.parameter_output_values["doubled"] = 2 * self.get_parameter_value("value")


def _off_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False


class SlowJob(DataNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="n", type="int", default_value=4, tooltip="In"))
        for out in ("result", "caught", "off_loop"):
            self.add_parameter(Parameter(name=out, type="any", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def _fail(self) -> None:
        raise ValueError("the job failed on purpose")

    def process(self) -> AsyncResult:
        result = yield lambda: (_off_loop(), self.get_parameter_value("n") * 10)
        try:
            yield self._fail
            caught = "nothing"
        except ValueError as exc:
            caught = str(exc)
        self.parameter_output_values["off_loop"] = result[0] and _off_loop()
        self.parameter_output_values["result"] = result[1]
        self.parameter_output_values["caught"] = caught


class Counter(DataNode):
    """Keeps its count the way the guide says: a SetParameterValueRequest to the engine."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="count", type="int", default_value=0, tooltip="State"))
        self.add_parameter(Parameter(name="count_out", type="int", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))
        self.add_parameter(Parameter(name="read_back", type="int", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        count = self.get_parameter_value("count") + 1
        result = GriptapeNodes.handle_request(
            SetParameterValueRequest(parameter_name="count", node_name=self.name, value=count)
        )
        assert isinstance(result, SetParameterValueResultSuccess) and result.succeeded(), result.result_details
        got = GriptapeNodes.handle_request(GetParameterValueRequest(parameter_name="count"))  # the current node
        assert got.succeeded(), got.result_details
        self.parameter_output_values["count_out"] = count
        self.parameter_output_values["read_back"] = got.value


class Grower(DataNode):
    """Adds a parameter to its own authoritative node from process(), as in the guide."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="added", type="bool", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    async def aprocess(self) -> None:
        request = AddParameterToNodeRequest.create(
            node_name=self.name, name="extra", input_types=["int"], default_value=7, tooltip="grown",
            allowed_modes={ParameterMode.INPUT},
        )
        result = await GriptapeNodes.ahandle_request(request)
        self.parameter_output_values["added"] = result.succeeded()
'''
CLASSES = ["Greeting", "Double", "SlowJob", "Counter", "Grower"]


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return write_library(tmp_path / "libs", "Griptape Style", NODES, CLASSES)


@pytest.fixture(params=["shared", "isolated", "isolated-subprocess"])
def mode(request: pytest.FixtureRequest, offline_home: Path) -> str:
    return str(request.param)


async def start(library: Path, mode: str) -> Orchestrator:
    # isolated: the worker runtime in this process; isolated-subprocess: a real worker on a real venv,
    # which gets griptape_nodes with nodeisle's runtime (orchestrator/runtime_copy.py)
    orchestrator = build_in_process_orchestrator() if mode == "isolated" else build_orchestrator()
    mode = mode.removesuffix("-subprocess")
    await orchestrator.__aenter__()
    ok(await orchestrator.handle_async(RegisterLibraryRequest(path=str(library), mode=mode)))
    ok(await orchestrator.handle_async(CreateFlowRequest(flow_name="main")))
    return orchestrator


async def execute(o: Orchestrator, name: str, **inputs: Any) -> dict[str, Any]:
    result = ok(await o.handle_async(ExecuteNodeRequest(node_name=name, parameter_values=inputs)))
    assert result.error is None, result.error
    return dict(result.parameter_output_values)


async def create(o: Orchestrator, node_type: str, name: str) -> None:
    ok(await o.handle_async(CreateNodeRequest(node_type=node_type, node_name=name, flow_name="main")))


def test_every_griptape_style_class_loads_in_every_mode(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            libraries = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            (info,) = [lib for lib in libraries if lib.name == "Griptape Style"]
            assert info.dropped == [] and sorted(info.node_types) == sorted(CLASSES)
            assert info.effective_mode == mode.removesuffix("-subprocess")
        finally:
            await o.close()

    run(body())


def test_group_parameters_are_the_nodes_and_unset_none_defaults_stay_absent(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Greeting", "greet")
            names = ok(await o.handle_async(ListParametersOnNodeRequest(node_name="greet"))).parameter_names
            assert names == ["who", "punctuation", "prefix", "greeting", "value_names"]
            outputs = await execute(o, "greet")
            assert outputs["greeting"] == "Hello, world!"  # prefix: no value, None default -> .get(.., "")
            assert outputs["value_names"] == ["punctuation", "who"]  # the non-None defaults, materialized
            ok(await o.handle_async(SetParameterValueRequest(node_name="greet", parameter_name="prefix", value=">> ")))
            outputs = await execute(o, "greet", who="nodeisle")
            assert outputs["greeting"] == ">> Hello, nodeisle!"
            assert outputs["value_names"] == ["prefix", "punctuation", "who"]
        finally:
            await o.close()

    run(body())


def test_a_control_node_has_exec_in_and_exec_out_and_runs(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Double", "double")
            names = ok(await o.handle_async(ListParametersOnNodeRequest(node_name="double"))).parameter_names
            assert names[:2] == ["exec_in", "exec_out"]
            for name, modes in (("exec_in", ["INPUT"]), ("exec_out", ["OUTPUT"])):
                details = ok(await o.handle_async(GetParameterDetailsRequest(node_name="double", parameter_name=name)))
                assert details.type == "parametercontroltype" and details.allowed_modes == modes
            assert await execute(o, "double", value=21) == {"doubled": 42}
        finally:
            await o.close()

    run(body())


def test_a_generator_process_runs_its_callables_off_the_loop_and_gets_results_and_errors_back(
    library: Path, mode: str
) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "SlowJob", "job")
            outputs = await execute(o, "job", n=5)
            assert outputs == {"result": 50, "caught": "the job failed on purpose", "off_loop": True}
        finally:
            await o.close()

    run(body())


def test_set_parameter_value_request_through_griptape_nodes_keeps_state_across_executions(
    library: Path, mode: str
) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Counter", "counter")
            assert await execute(o, "counter") == {"count_out": 1, "read_back": 1}
            assert await execute(o, "counter") == {"count_out": 2, "read_back": 2}
        finally:
            await o.close()

    run(body())


def test_add_parameter_request_from_aprocess_changes_the_authoritative_node(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Grower", "grower")
            assert await execute(o, "grower") == {"added": True}
            names = ok(await o.handle_async(ListParametersOnNodeRequest(node_name="grower"))).parameter_names
            assert names == ["added", "extra"]
            details = ok(await o.handle_async(GetParameterDetailsRequest(node_name="grower", parameter_name="extra")))
            assert (details.type, details.default_value, details.allowed_modes) == ("int", 7, ["INPUT"])
        finally:
            await o.close()

    run(body())
