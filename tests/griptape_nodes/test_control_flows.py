"""Flows ordered by control connections, written as Griptape libraries write them, run from workflow
files Shared, Isolated in process, and Isolated through real workers on a real venv.

Each ``Step`` appends ``start <name>`` and ``end <name>`` to a log file, so the order in which the
nodes ran (and that one started only after the other ended) is read back from the file, whatever
process wrote it. Nothing connects the nodes by data where the order is tested: without the control
connections they would all start at once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from nodeisle.flow.workflow import load_workflow, run_workflow
from nodeisle.orchestrator.engine import build_orchestrator
from nodeisle.requests import RunFlowResult
from nodeisle.testing.inprocess import build_in_process_orchestrator
from tests.conftest import run, write_library

NODES = '''
import os
import time
from typing import Any

from griptape_nodes.exe_types.core_types import ControlParameterOutput, Parameter, ParameterMode
from griptape_nodes.exe_types.node_types import ControlNode, DataNode


def _log(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as file:
        file.write(f"{line} {os.getpid()}\\n")


class Step(ControlNode):
    """A step of a control chain: logs its start and end, may pause or fail, appends its name to text."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="log", type="str", tooltip="Order log", allowed_modes={ParameterMode.PROPERTY}))
        self.add_parameter(Parameter(name="pause", type="float", default_value=0.0, tooltip="Seconds"))
        self.add_parameter(Parameter(name="fail", type="bool", default_value=False, tooltip="Fail on purpose"))
        self.add_parameter(Parameter(name="text", input_types=["str"], type="str", default_value="", tooltip="In"))
        self.add_parameter(Parameter(name="result", output_type="str", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        log = self.get_parameter_value("log")
        _log(log, f"start {self.name}")
        time.sleep(self.get_parameter_value("pause"))
        if self.get_parameter_value("fail"):
            raise RuntimeError(f"{self.name} failed on purpose")
        self.parameter_output_values["result"] = self.get_parameter_value("text") + self.name
        _log(log, f"end {self.name}")


class Branch(ControlNode):
    """Griptape's if/else shape: two more control outputs, and get_next_control_output picks one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="condition", type="bool", default_value=True, tooltip="Which way"))
        self.add_parameter(Parameter(name="stop", type="bool", default_value=False, tooltip="Stop the flow here"))
        self.add_parameter(ControlParameterOutput(tooltip="When true", name="True"))
        self.add_parameter(ControlParameterOutput(tooltip="When false", name="False"))

    def process(self) -> None:
        self.stop_flow = self.get_parameter_value("stop")

    def get_next_control_output(self) -> Parameter | None:
        return self.get_parameter_by_name("True" if self.get_parameter_value("condition") else "False")


class Upper(DataNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="text", input_types=["str"], type="str", tooltip="In"))
        self.add_parameter(Parameter(name="result", output_type="str", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        self.parameter_output_values["result"] = self.get_parameter_value("text").upper()
'''
CLASSES = ["Step", "Branch", "Upper"]
LIBRARY = "Control Flows"


@pytest.fixture(params=["shared", "isolated", "isolated-subprocess"])
def mode(request: pytest.FixtureRequest, offline_home: Path) -> str:
    return str(request.param)


def run_file(tmp_path: Path, mode: str, nodes: list[dict[str, Any]], connections: list[tuple[str, str]]) -> Any:
    """Write a workflow file of these nodes (each Step logging to one file) and run it; (result, log
    lines). Checks that the nodes ran in the process the mode says."""
    library = write_library(tmp_path / "libs", LIBRARY, NODES, CLASSES)
    log = tmp_path / "order.log"
    for node in nodes:
        if node["type"] == "Step":
            node.setdefault("values", {})["log"] = str(log)
    path = tmp_path / "control.json"
    path.write_text(
        json.dumps(
            {
                "libraries": [str(library)],
                "nodes": [{"library": LIBRARY, **node} for node in nodes],
                "connections": [{"from": source, "to": target} for source, target in connections],
            }
        )
    )
    modes: Any = {LIBRARY: mode.removesuffix("-subprocess")}

    async def body() -> RunFlowResult:
        # isolated: the worker runtime in this process; isolated-subprocess: a real worker on a real venv
        orchestrator = build_in_process_orchestrator() if mode == "isolated" else build_orchestrator()
        async with orchestrator:
            return await run_workflow(orchestrator, load_workflow(path), modes)

    result = run(body(), timeout=180)
    lines = [line.rsplit(" ", 1) for line in (log.read_text().splitlines() if log.exists() else [])]
    pids = {int(pid) for _, pid in lines}
    # Shared and Isolated in process run the nodes here; through real workers, in one other process.
    if mode in ("shared", "isolated"):
        assert pids <= {os.getpid()}
    else:
        assert os.getpid() not in pids and len(pids) <= 1
    return result, [line for line, _ in lines]


def statuses(result: RunFlowResult) -> dict[str, str]:
    return {name: node.status for name, node in result.nodes.items()}


def test_a_control_chain_runs_in_chain_order_each_after_the_last_ended_and_data_flows_beside_it(
    tmp_path: Path, mode: str
) -> None:
    # Listed c, b, a: the chain a -> b -> c decides the order, not the file. a pauses, so without the
    # control connections b and c would start before a ended. up (data only) feeds c's text.
    nodes = [
        {"name": "c", "type": "Step"},
        {"name": "b", "type": "Step", "values": {"pause": 0.2}},
        {"name": "a", "type": "Step", "values": {"pause": 0.3}},
        {"name": "up", "type": "Upper"},
    ]
    connections = [("a.exec_out", "b.exec_in"), ("b.exec_out", "c.exec_in"), ("a.result", "up.text"),
                   ("up.result", "c.text")]
    result, log = run_file(tmp_path, mode, nodes, connections)
    assert result.status == "succeeded", result
    assert log == ["start a", "end a", "start b", "end b", "start c", "end c"]
    assert result.nodes["c"].outputs == {"result": "Ac"}  # a's "a", upper-cased by up, then c's own name
    assert result.nodes["b"].outputs == {"result": "b"}  # the control connection carried nothing


def test_a_failure_in_the_middle_of_a_chain_skips_the_rest_and_an_unconnected_branch_completes(
    tmp_path: Path, mode: str
) -> None:
    nodes = [
        {"name": "a", "type": "Step"},
        {"name": "b", "type": "Step", "values": {"fail": True}},
        {"name": "c", "type": "Step"},
        {"name": "after_c", "type": "Upper"},
        {"name": "lone", "type": "Step", "values": {"pause": 0.2}},
    ]
    connections = [("a.exec_out", "b.exec_in"), ("b.exec_out", "c.exec_in"), ("c.result", "after_c.text")]
    result, log = run_file(tmp_path, mode, nodes, connections)
    assert statuses(result) == {
        "a": "succeeded", "b": "failed", "c": "skipped", "after_c": "skipped", "lone": "succeeded"
    }
    b, c = result.nodes["b"].error, result.nodes["c"].error
    assert b is not None and "b failed on purpose" in b.message
    assert c is not None and (c.type, c.message) == ("Skipped", "upstream node 'b' did not succeed")
    assert result.status == "failed" and result.message == "2 of 5 nodes succeeded"
    assert "start c" not in log and "end lone" in log
    assert log.index("end a") < log.index("start b")


@pytest.mark.parametrize(
    ("values", "reached", "taken"),
    [
        ({"condition": False}, {"no"}, {"True": False, "False": True, "exec_out": False}),
        ({"condition": True}, {"yes", "after_yes", "shout"}, {"True": True, "False": False, "exec_out": False}),
        ({"stop": True}, set(), {"True": False, "False": False, "exec_out": False}),
    ],
    ids=["false", "true", "stop_flow"],
)
def test_a_branching_node_fires_the_control_output_it_chooses_and_the_other_branch_is_not_reached(
    tmp_path: Path, mode: str, values: dict[str, bool], reached: set[str], taken: dict[str, bool]
) -> None:
    nodes = [
        {"name": "if", "type": "Branch", "values": values},
        {"name": "yes", "type": "Step"},
        {"name": "after_yes", "type": "Step"},
        {"name": "shout", "type": "Upper"},
        {"name": "no", "type": "Step"},
    ]
    connections = [("if.True", "yes.exec_in"), ("yes.exec_out", "after_yes.exec_in"), ("yes.result", "shout.text"),
                   ("if.False", "no.exec_in")]
    result, log = run_file(tmp_path, mode, nodes, connections)
    assert result.status == "succeeded", result  # a branch not taken is no failure
    assert result.nodes["if"].outputs == taken
    branch = {"yes", "after_yes", "shout", "no"}
    assert {n for n in branch if result.nodes[n].status == "succeeded"} == reached
    for name in branch - reached:
        error = result.nodes[name].error
        assert result.nodes[name].status == "skipped" and error is not None and error.type == "NotReached"
        assert f"start {name}" not in log
    assert result.message == f"{1 + len(reached)} of 5 nodes succeeded, {4 - len(reached)} not reached"
    if "yes" not in reached:
        yes = result.nodes["yes"].error
        assert yes is not None and yes.message == "control output if.True did not fire"


# -- the layer's side, without an engine: what a node reports after process -------------------------
def test_what_a_node_reports_of_its_control_outputs_after_process() -> None:
    import asyncio

    from griptape_nodes.exe_types.core_types import ControlParameterOutput
    from griptape_nodes.exe_types.node_types import ControlNode, DataNode

    class Plain(ControlNode):
        def process(self) -> None:
            self.parameter_output_values["seen"] = True

    class Stops(ControlNode):
        def process(self) -> None:
            self.stop_flow = True

    class Picks(ControlNode):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.add_parameter(ControlParameterOutput(tooltip="other way", name="other"))

        async def aprocess(self) -> None:  # its own aprocess: the choice is still reported
            self.parameter_output_values["seen"] = True

        def get_next_control_output(self) -> Any:
            return self.get_parameter_by_name("other")

    class Data(DataNode):
        def process(self) -> None:
            pass

    def outputs(node: Any) -> dict[str, Any]:
        asyncio.run(node.aprocess())
        return dict(node.parameter_output_values)

    plain = Plain(name="plain")
    assert plain.get_next_control_output() is plain.get_parameter_by_name("exec_out")  # Griptape's default
    assert outputs(plain) == {"seen": True}  # its one control output fired: nothing extra
    assert outputs(Stops(name="stops")) == {"exec_out": False}
    assert outputs(Picks(name="picks")) == {"seen": True, "exec_out": False, "other": True}
    data = Data(name="data")
    assert data.get_next_control_output() is None and outputs(data) == {}
