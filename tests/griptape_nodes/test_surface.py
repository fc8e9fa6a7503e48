"""The node and parameter surface of Griptape-style libraries, run through the orchestrator Shared,
Isolated in process and Isolated in real workers.

The library is written the way public Griptape libraries are: a ``SuccessFailureNode`` whose status
parameters sit in their "Status" group beside a ``ParameterGroup`` of settings, the ``Parameter*``
types with traits (``Options``, ``Slider``, ``Clamp`` through ``min_val``/``max_val``), a
``ParameterMessage``, a ``SeedParameter``, ``validate_before_node_run``, and ``ParameterList`` inputs
fed by several connections (their children made by ``ensure_length``, or by
``after_incoming_connection`` keeping one free slot).
"""

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
    ExecuteNodeRequest,
    GetParameterDetailsRequest,
    ListParametersOnNodeRequest,
    RegisterLibraryRequest,
    Result,
    RunFlowRequest,
    SetParameterValueRequest,
)
from nodeisle.testing.inprocess import build_in_process_orchestrator
from tests.conftest import run, write_library

NODES = '''
from typing import Any

from griptape_nodes.exe_types.core_types import (
    Parameter,
    ParameterGroup,
    ParameterList,
    ParameterMessage,
    ParameterMode,
)
from griptape_nodes.exe_types.node_types import BaseNode, ControlNode, DataNode, SuccessFailureNode
from griptape_nodes.exe_types.param_components.seed_parameter import SeedParameter
from griptape_nodes.exe_types.param_types.parameter_bool import ParameterBool
from griptape_nodes.exe_types.param_types.parameter_float import ParameterFloat
from griptape_nodes.exe_types.param_types.parameter_int import ParameterInt
from griptape_nodes.exe_types.param_types.parameter_string import ParameterString
from griptape_nodes.traits.options import Options

STYLES = ["plain", "title", "upper"]


class Text(DataNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(ParameterString(name="value", tooltip="The text", default_value=""))
        self.add_parameter(ParameterString(name="text", tooltip="The text out", allow_input=False, allow_property=False))

    def process(self) -> None:
        self.parameter_output_values["text"] = self.get_parameter_value("value")


class Shorten(SuccessFailureNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_node_element(ParameterMessage(name="about", variant="info", value="Shortens text to a few words."))
        self.add_parameter(ParameterString(name="text", tooltip="Text to shorten", multiline=True,
                                           placeholder_text="Type here", allow_output=False))
        with ParameterGroup(name="Settings") as settings:
            ParameterInt(name="max_words", tooltip="Words to keep", default_value=3, min_val=1, max_val=5)
            ParameterString(name="style", tooltip="Style", default_value="plain", traits={Options(choices=STYLES)})
            ParameterFloat(name="ratio", tooltip="Share kept", default_value=0.5, slider=True, min_val=0.0, max_val=1.0)
            ParameterBool(name="strict", tooltip="Fail on empty text", default_value=True)
        settings.ui_options = {"collapsed": False}
        self.add_node_element(settings)
        self._seed = SeedParameter(self)
        self._seed.add_input_parameters()
        self.add_parameter(ParameterString(name="short", tooltip="Shortened", allow_input=False, allow_property=False))
        self._create_status_parameters(result_details_tooltip="What happened",
                                       result_details_placeholder="Details appear here")

    def after_value_set(self, parameter: Parameter, value: Any) -> None:
        self._seed.after_value_set(parameter, value)

    def validate_before_node_run(self) -> list[Exception] | None:
        problems = super().validate_before_node_run() or []
        if self.get_parameter_value("style") == "title" and self.get_parameter_value("max_words") > 4:
            problems.append(ValueError("a title keeps at most 4 words"))
        return problems or None

    def process(self) -> None:
        self._clear_execution_status()
        self._seed.preprocess()
        try:
            words = (self.get_parameter_value("text") or "").split()
            if not words and self.get_parameter_value("strict"):
                raise ValueError("nothing to shorten")
            kept = " ".join(words[: self.get_parameter_value("max_words")])
            style = self.get_parameter_value("style")
            kept = kept.title() if style == "title" else kept.upper() if style == "upper" else kept
        except ValueError as exc:
            self._set_status_results(was_successful=False, result_details=f"Failed: {exc}")
            self._handle_failure_exception(exc)
            return
        self.parameter_output_values["short"] = kept
        self._set_status_results(was_successful=True,
                                 result_details=f"kept {len(kept.split())} words, seed {self._seed.get_seed()}")


class Log(ControlNode):
    def process(self) -> None:
        pass


class Join(DataNode):
    """Joins the texts fed into its list, one connection per item; `inputs` sets how many items."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(ParameterInt(name="inputs", tooltip="How many texts", default_value=0,
                                        allowed_modes={ParameterMode.PROPERTY}))
        self.texts = ParameterList(name="texts", input_types=["str"], tooltip="Texts", allowed_modes={ParameterMode.INPUT})
        self.add_parameter(self.texts)
        self.add_parameter(Parameter(name="joined", output_type="str", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def after_value_set(self, parameter: Parameter, value: Any) -> None:
        if parameter.name == "inputs":
            self.texts.ensure_length(value, display_name_prefix="Text")

    def process(self) -> None:
        self.parameter_output_values["joined"] = " + ".join(self.get_parameter_list_value("texts"))


class Gather(BaseNode):
    """Always one free slot in its list: connecting the last child adds another, removing one drops it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.items = ParameterList(name="items", input_types=["str"], tooltip="Items", allowed_modes={ParameterMode.INPUT})
        self.add_parameter(self.items)
        self.items.add_child_parameter()
        self.add_parameter(Parameter(name="count", output_type="int", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))
        self.add_parameter(Parameter(name="items_out", output_type="list", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def after_incoming_connection(self, source_node: Any, source_parameter: Parameter, target_parameter: Parameter) -> None:
        children = self.items.get_child_parameters()
        if children and target_parameter.name == children[-1].name:
            self.items.append_child_parameter()

    def after_incoming_connection_removed(self, source_node: Any, source_parameter: Parameter, target_parameter: Parameter) -> None:
        if self.items.is_child_name(target_parameter.name) and len(self.items) > 1:
            self.remove_parameter_element_by_name(target_parameter.name)

    def process(self) -> None:
        items = self.get_parameter_value("items")
        self.parameter_output_values["count"] = len(items)
        self.parameter_output_values["items_out"] = items
'''
CLASSES = ["Text", "Shorten", "Log", "Join", "Gather"]


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return write_library(tmp_path / "libs", "Griptape Surface", NODES, CLASSES)


@pytest.fixture(params=["shared", "isolated", "isolated-subprocess"])
def mode(request: pytest.FixtureRequest, offline_home: Path) -> str:
    return str(request.param)


async def start(library: Path, mode: str) -> Orchestrator:
    orchestrator = build_in_process_orchestrator() if mode == "isolated" else build_orchestrator()
    await orchestrator.__aenter__()
    ok(await orchestrator.handle_async(RegisterLibraryRequest(path=str(library), mode=mode.removesuffix("-subprocess"))))
    ok(await orchestrator.handle_async(CreateFlowRequest(flow_name="main")))
    return orchestrator


async def create(o: Orchestrator, node_type: str, name: str) -> None:
    ok(await o.handle_async(CreateNodeRequest(node_type=node_type, node_name=name, flow_name="main")))


async def names(o: Orchestrator, node: str) -> list[str]:
    return list(ok(await o.handle_async(ListParametersOnNodeRequest(node_name=node))).parameter_names)


async def set_value(o: Orchestrator, node: str, parameter: str, value: Any) -> Result:
    return await o.handle_async(SetParameterValueRequest(node_name=node, parameter_name=parameter, value=value))


async def connect(o: Orchestrator, source: str, target: str, parameter: str, *, remove: bool = False) -> None:
    kind = DeleteConnectionRequest if remove else CreateConnectionRequest
    ok(await o.handle_async(kind(source_node_name=source, source_parameter_name="text", target_node_name=target,
                                 target_parameter_name=parameter)))


def test_a_success_failure_node_reports_through_its_status_parameters(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Shorten", "short")
            assert await names(o, "short") == [
                "exec_in", "exec_out", "failure", "text", "max_words", "style", "ratio", "strict",
                "randomize_seed", "seed", "short", "was_successful", "result_details",
            ]
            for name, modes in (("was_successful", ["OUTPUT"]), ("failure", ["OUTPUT"]), ("text", ["INPUT", "PROPERTY"])):
                details = ok(await o.handle_async(GetParameterDetailsRequest(node_name="short", parameter_name=name)))
                assert details.allowed_modes == modes
            result = ok(await o.handle_async(ExecuteNodeRequest(node_name="short", parameter_values={
                "text": "the quick brown fox jumps", "max_words": 9})))  # Clamp: 9 becomes 5
            assert result.parameter_output_values == {
                "short": "the quick brown fox jumps", "was_successful": True, "result_details": "kept 5 words, seed 42",
                "exec_out": True, "failure": False,  # which control output fires: "Succeeded"
            }
            ok(await set_value(o, "short", "style", "shouting"))  # Options: an unknown choice becomes the first
            outputs = ok(await o.handle_async(ExecuteNodeRequest(node_name="short", parameter_values={
                "text": "a b c", "max_words": 2, "style": "upper"}))).parameter_output_values
            assert outputs["short"] == "A B"
            failed = await o.handle_async(ExecuteNodeRequest(node_name="short", parameter_values={"text": ""}))
            assert not failed.succeeded and failed.error is not None
            assert (failed.error.type, failed.error.message) == ("ValueError", "nothing to shorten")
            refused = await set_value(o, "short", "ratio", 1.5)  # Slider: out of range is refused
            assert not refused.succeeded and "Value out of range" in refused.message
        finally:
            await o.close()

    run(body())


def test_with_the_failure_output_connected_a_failure_is_reported_not_raised(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Shorten", "short")
            await create(o, "Log", "log")
            ok(await o.handle_async(CreateConnectionRequest(
                source_node_name="short", source_parameter_name="failure", target_node_name="log",
                target_parameter_name="exec_in")))
            result = ok(await o.handle_async(ExecuteNodeRequest(node_name="short", parameter_values={"text": " "})))
            outputs = result.parameter_output_values
            assert (outputs["was_successful"], outputs["result_details"]) == (False, "Failed: nothing to shorten")
            assert "short" not in outputs and (outputs["exec_out"], outputs["failure"]) == (False, True)
            # the layer asked whether the failure output is connected, not the library's code: no reach-in
            assert result.violations == []
        finally:
            await o.close()

    run(body())


def test_a_parameter_that_accepts_any_input_takes_a_connection_of_another_type(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Gather", "gather")
            await create(o, "Shorten", "short")
            await create(o, "Join", "join")
            link = {"source_node_name": "gather", "source_parameter_name": "count"}
            ok(await o.handle_async(CreateConnectionRequest(**link, target_node_name="short", target_parameter_name="text")))
            details = ok(await o.handle_async(GetParameterDetailsRequest(node_name="short", parameter_name="text")))
            assert details.type == "str"  # ParameterString: type str, input_types ["any"]
            result = ok(await o.handle_async(RunFlowRequest(flow_name="main")))
            assert result.nodes["short"].outputs["short"] == "0"  # the int, made a string by the converter
            refused = await o.handle_async(CreateConnectionRequest(**link, target_node_name="join", target_parameter_name="texts"))
            assert not refused.succeeded and "type 'int' does not match 'list[str]'" in refused.message
        finally:
            await o.close()

    run(body())


def test_a_success_failure_node_takes_its_failure_path_in_a_control_flow(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Shorten", "short")
            for name in ("ok", "bad"):
                await create(o, "Log", name)
            for output, target in (("exec_out", "ok"), ("failure", "bad")):
                ok(await o.handle_async(CreateConnectionRequest(
                    source_node_name="short", source_parameter_name=output, target_node_name=target,
                    target_parameter_name="exec_in")))
            ok(await set_value(o, "short", "text", ""))
            result = ok(await o.handle_async(RunFlowRequest(flow_name="main")))
            statuses = {name: result.nodes[name].status for name in ("short", "bad", "ok")}
            assert statuses == {"short": "succeeded", "bad": "succeeded", "ok": "skipped"}
            assert result.nodes["ok"].error is not None and result.nodes["ok"].error.type == "NotReached"
            ok(await set_value(o, "short", "text", "all good"))
            result = ok(await o.handle_async(RunFlowRequest(flow_name="main")))
            assert (result.nodes["ok"].status, result.nodes["bad"].status) == ("succeeded", "skipped")
        finally:
            await o.close()

    run(body())


def test_validate_before_node_run_fails_the_node_with_its_messages_before_process(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Shorten", "short")
            failed = await o.handle_async(ExecuteNodeRequest(node_name="short", parameter_values={
                "text": "x", "style": "title", "max_words": 5}))
            assert not failed.succeeded and failed.error is not None
            assert failed.error.type == "NodeValidationError"
            assert failed.error.message == "Node 'short' encountered problems: ValueError: a title keeps at most 4 words"
        finally:
            await o.close()

    run(body())


def test_randomizing_the_seed_makes_it_an_output_and_gives_a_fresh_one(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Shorten", "short")
            ok(await set_value(o, "short", "randomize_seed", "yes"))  # ParameterBool reads "yes" as True
            details = ok(await o.handle_async(GetParameterDetailsRequest(node_name="short", parameter_name="seed")))
            assert details.allowed_modes == ["OUTPUT"]
            outputs = ok(await o.handle_async(ExecuteNodeRequest(node_name="short", parameter_values={
                "text": "a b"}))).parameter_output_values
            seed = int(outputs["result_details"].rsplit(" ", 1)[1])
            assert 0 <= seed < 2**32 and outputs["seed"] == seed  # published as the seed's output
        finally:
            await o.close()

    run(body())


def test_a_parameter_list_is_fed_by_several_connections_one_per_child(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Join", "join")
            ok(await set_value(o, "join", "inputs", 3))
            children = [n for n in await names(o, "join") if n.startswith("texts_ParameterListUniqueParamID_")]
            assert children == [f"texts_ParameterListUniqueParamID_{i}" for i in range(3)]  # a workflow can name them
            details = ok(await o.handle_async(GetParameterDetailsRequest(node_name="join", parameter_name="texts")))
            assert details.type == "list[str]"
            for i, child in enumerate(children):
                await create(o, "Text", f"t{i}")
                ok(await set_value(o, f"t{i}", "value", f"w{i}"))
                await connect(o, f"t{i}", "join", child)
            result = ok(await o.handle_async(RunFlowRequest(flow_name="main")))
            assert result.nodes["join"].outputs == {"joined": "w0 + w1 + w2"}
        finally:
            await o.close()

    run(body())


def test_a_connection_hook_keeps_one_free_slot_in_a_parameter_list(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Gather", "gather")

            async def slots() -> list[str]:
                return [n for n in await names(o, "gather") if n.startswith("items_ParameterListUniqueParamID_")]

            (first,) = await slots()
            for i in range(2):
                await create(o, "Text", f"t{i}")
                ok(await set_value(o, f"t{i}", "value", f"item{i}"))
                await connect(o, f"t{i}", "gather", (await slots())[-1])
            assert len(await slots()) == 3 and (await slots())[0] == first
            result = ok(await o.handle_async(RunFlowRequest(flow_name="main")))
            assert result.nodes["gather"].outputs == {"count": 2, "items_out": ["item0", "item1"]}
            await connect(o, "t0", "gather", first, remove=True)
            assert await slots() == ["items_ParameterListUniqueParamID_1", "items_ParameterListUniqueParamID_2"]
            result = ok(await o.handle_async(RunFlowRequest(flow_name="main")))
            assert result.nodes["gather"].outputs == {"count": 1, "items_out": ["item1"]}
        finally:
            await o.close()

    run(body())


def test_a_workflow_file_connects_to_the_numbered_children_of_a_parameter_list(
    library: Path, mode: str, tmp_path: Path
) -> None:
    import json

    from nodeisle.flow.workflow import load_workflow, run_workflow

    child = "join.texts_ParameterListUniqueParamID_{}".format
    workflow = tmp_path / "join.json"
    workflow.write_text(json.dumps({
        "libraries": [str(library)],
        "library_modes": {"Griptape Surface": mode.removesuffix("-subprocess")},
        "nodes": [
            {"name": "a", "type": "Text", "values": {"value": "left"}},
            {"name": "b", "type": "Text", "values": {"value": "right"}},
            {"name": "join", "type": "Join", "values": {"inputs": 2}},
        ],
        "connections": [{"from": "a.text", "to": child(0)}, {"from": "b.text", "to": child(1)}],
    }))

    async def body() -> None:
        orchestrator = build_in_process_orchestrator() if mode == "isolated" else build_orchestrator()
        async with orchestrator as o:
            result = await run_workflow(o, load_workflow(workflow))
            assert result.succeeded, result.message
            assert result.nodes["join"].outputs == {"joined": "left + right"}

    run(body())
