"""The isolation guide's code patterns, written with the Griptape API, run Shared and Isolated.

Each pattern of ``shared/seed/node-isolation-with-workers.txt`` is a node below, written twice: once
with nodeisle's API and once with Griptape's (``GriptapeNodes.handle_request``, keyword ``Parameter``).
Both libraries load into one engine, and every observation (which classes are dropped and why, the
warnings at load, each execution's outputs, error and strict-mode violations, the parameter list
afterwards) must be the same for both APIs, and must be what the guide's table of rules says for that
mode: the four rules fire for Griptape-API code exactly as for nodeisle-API code.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.requests import (
    CreateFlowRequest,
    CreateNodeRequest,
    ExecuteNodeRequest,
    ListParametersOnNodeRequest,
    ListRegisteredLibrariesRequest,
    RegisterLibraryRequest,
    Result,
    SetParameterValueRequest,
)
from nodeisle.testing.inprocess import build_in_process_orchestrator
from tests.conftest import run, write_library

# The same eight nodes, in nodeisle's API and in Griptape's. Between the two only the imports, the
# constructors and the request call differ; the bodies are the guide's patterns.
NODEISLE = '''
import nodeisle
from nodeisle import BaseNode, Parameter, ParameterMode
from nodeisle.requests import (
    AddParameterToNodeRequest, GetParameterValueRequest, RemoveParameterFromNodeRequest, SetParameterValueRequest,
)

OUT = {ParameterMode.OUTPUT}

def request(req):
    return nodeisle.handle_request(req)

def ok(answer):
    return answer.succeeded

def param(name, type="any", default=None, modes=None, validators=None):
    return Parameter(name, type=type, default_value=default, allowed_modes=modes, validators=validators)

def add_request(node, name):
    return AddParameterToNodeRequest(node_name=node, parameter_name=name, type="int", default_value=7)

def remove_request(node, name):
    return RemoveParameterFromNodeRequest(node_name=node, parameter_name=name)

def get_request(node, name):
    return GetParameterValueRequest(node_name=node, parameter_name=name)

def set_request(node, name, value):
    return SetParameterValueRequest(node_name=node, parameter_name=name, value=value)

class Node(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.declare()
'''

GRIPTAPE = '''
from griptape_nodes.exe_types.core_types import Parameter, ParameterMode
from griptape_nodes.exe_types.node_types import DataNode
from griptape_nodes.retained_mode.events.parameter_events import (
    AddParameterToNodeRequest, GetParameterValueRequest, RemoveParameterFromNodeRequest, SetParameterValueRequest,
)
from griptape_nodes.retained_mode.griptape_nodes import GriptapeNodes

OUT = {ParameterMode.OUTPUT}

def request(req):
    return GriptapeNodes.handle_request(req)

def ok(answer):
    return answer.succeeded()

def param(name, type="any", default=None, modes=None, validators=None):
    return Parameter(name=name, type=type, default_value=default, tooltip=name, validators=validators,
                     allowed_modes=modes or {ParameterMode.INPUT, ParameterMode.PROPERTY, ParameterMode.OUTPUT})

def add_request(node, name):
    return AddParameterToNodeRequest.create(node_name=node, name=name, type="int", default_value=7, tooltip=name)

def remove_request(node, name):
    return RemoveParameterFromNodeRequest(parameter_name=name, node_name=node)

def get_request(node, name):
    return GetParameterValueRequest(parameter_name=name, node_name=node)

def set_request(node, name, value):
    return SetParameterValueRequest(parameter_name=name, node_name=node, value=value)

class Node(DataNode):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.declare()
'''

PATTERNS = '''

class BusInInit(Node):
    """'No event-bus calls in __init__': reentrant-bus-in-init, an ERROR; the class is dropped."""
    def declare(self):
        request(get_request("peer", "value"))

class Validated(Node):
    """A validator on a Parameter: parameter-behaviors-dropped-in-schema at load; it still runs on execute."""
    def declare(self):
        def positive(parameter, value):
            if value is not None and value < 0:
                raise ValueError(f"{parameter.name} must be positive, got {value}")
        self.add_parameter(param("amount", "int", 1, validators=[positive]))
        self.add_parameter(param("twice", "int", modes=OUT))
    def process(self):
        self.parameter_output_values["twice"] = 2 * self.parameter_values["amount"]

class Mutator(Node):
    """add_parameter / remove_parameter_element inside process: parameter-mutation-during-aprocess."""
    def declare(self):
        self.add_parameter(param("gone", "int", 0))
        self.add_parameter(param("done", "bool", modes=OUT))
    def process(self):
        self.add_parameter(param("extra", "int", 0))
        self.remove_parameter_element(self.get_parameter_by_name("gone"))
        self.parameter_output_values["done"] = True

class Reacher(Node):
    """Reads a peer node's value during process: worker-reach-into-orchestrator when Isolated."""
    def declare(self):
        self.add_parameter(param("seen", "any", modes=OUT))
    def process(self):
        answer = request(get_request("peer", "value"))
        self.parameter_output_values["seen"] = answer.value if ok(answer) else None

class Grower(Node):
    """Mutates its parameter list the sanctioned way: requests to the orchestrator from process."""
    def declare(self):
        self.add_parameter(param("scratch", "int", 0))
        self.add_parameter(param("seen", "list", modes=OUT))
    def process(self):
        self.parameter_output_values["seen"] = [p.name for p in self.parameters]
        if self.get_parameter_by_name("grown") is None:
            assert ok(request(add_request(self.name, "grown")))
            assert ok(request(remove_request(self.name, "scratch")))

class Counter(Node):
    """Cross-call state in the orchestrator (SetParameterValueRequest); self.x and
    parameter_values[k] = v mid-execute do not survive to the next execute."""
    def declare(self):
        self.add_parameter(param("count", "int", 0))
        self.add_parameter(param("scribble", "int", 0))
        self.add_parameter(param("report", "dict", modes=OUT))
    def process(self):
        self.calls = getattr(self, "calls", 0) + 1
        count = self.parameter_values["count"] + 1
        assert ok(request(set_request(self.name, "count", count)))
        self.parameter_output_values["report"] = {"count": count, "calls": self.calls,
                                                  "scribble": self.parameter_values["scribble"]}
        self.parameter_values["scribble"] = 99

class Dynamic(Node):
    """The dynamic-pipeline pattern: after_value_set changes the parameter list during hydration, no rule fires."""
    def declare(self):
        self.add_parameter(param("kind", "str", "plain"))
        self.add_parameter(param("names", "list", modes=OUT))
    def after_value_set(self, parameter, value):
        if parameter.name == "kind" and value == "fancy" and self.get_parameter_by_name("flourish") is None:
            self.add_parameter(param("flourish", "str", "~"))
    def process(self):
        self.parameter_output_values["names"] = [p.name for p in self.parameters]

class Peer(Node):
    def declare(self):
        self.add_parameter(param("value", "int", 5))
    def process(self):
        pass
'''

CLASSES = ["BusInInit", "Validated", "Mutator", "Reacher", "Grower", "Counter", "Dynamic", "Peer"]
APIS = {"nodeisle": NODEISLE, "griptape": GRIPTAPE}


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


STRICT_LINE = re.compile(r"\[(WARNING|ERROR)\] ([a-z-]+) \((orchestrator|worker)\) Guide \w+/(\w+): (.*)")


@dataclass
class Observed:
    """Everything a user sees of one library, with the library's name taken out so two can be compared."""

    dropped: list[tuple[str, str]] = field(default_factory=list)
    # every strict-mode line logged, by the engine or a worker: (severity, rule, context, subject, text)
    strict_lines: list[tuple[str, ...]] = field(default_factory=list)
    runs: list[tuple[str, Any, str | None, list[tuple[str, str, str]]]] = field(default_factory=list)
    parameters: dict[str, list[str]] = field(default_factory=dict)


async def observe(o: Orchestrator, library: str, flow: str) -> Observed:
    seen = Observed()
    (info,) = [lib for lib in ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
               if lib.name == library]
    seen.dropped = [(d["class_name"], d["reason"]) for d in info.dropped]

    async def execute(node: str, **inputs: Any) -> None:
        result = await o.handle_async(ExecuteNodeRequest(node_name=f"{flow}_{node}", parameter_values=inputs))
        assert result.succeeded is (result.error is None), result.message
        violations = [(v["rule_id"], v["severity"], v["remediation"]) for v in result.violations]
        error = None if result.error is None else f"{result.error.type}: {result.error.message}"
        seen.runs.append((node, result.parameter_output_values, error, violations))

    for cls in CLASSES[1:]:
        ok(await o.handle_async(CreateNodeRequest(node_type=cls, node_name=f"{flow}_{cls}", flow_name=flow)))
    ok(await o.handle_async(CreateNodeRequest(node_type="Peer", node_name="peer", flow_name=flow)))
    await execute("Validated", amount=4)
    await execute("Validated", amount=-1)
    await execute("Mutator")
    await execute("Reacher")
    for _ in range(2):
        await execute("Grower")
        await execute("Counter")
    ok(await o.handle_async(SetParameterValueRequest(node_name=f"{flow}_Dynamic", parameter_name="kind",
                                                     value="fancy")))
    await execute("Dynamic")
    for cls in ("Mutator", "Grower", "Dynamic"):
        answer = ok(await o.handle_async(ListParametersOnNodeRequest(node_name=f"{flow}_{cls}")))
        seen.parameters[cls] = answer.parameter_names
    return seen


@pytest.fixture(params=["shared", "isolated", "isolated-subprocess"])
def mode(request: pytest.FixtureRequest, offline_home: Path) -> str:
    return str(request.param)


def test_the_guides_patterns_behave_the_same_with_either_api_and_as_the_guide_says(
    tmp_path: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    libraries = {api: write_library(tmp_path / api, f"Guide {api}", source + PATTERNS, CLASSES)
                 for api, source in APIS.items()}
    # Each API runs in its own engine, one after the other: both libraries name their peer node "peer".
    results: dict[str, Observed] = {}
    for api, path in libraries.items():
        caplog.clear()
        results[api] = run(_one(path, f"Guide {api}", mode), timeout=180)
        results[api].strict_lines = sorted(
            found.groups() for record in caplog.records if (found := STRICT_LINE.search(record.getMessage())))
    nodeisle, griptape = results["nodeisle"], results["griptape"]
    assert griptape == nodeisle, "the Griptape API must behave exactly as nodeisle's"
    _as_the_guide_says(nodeisle, isolated=mode != "shared")


async def _one(path: Path, library: str, mode: str) -> Observed:
    o = build_in_process_orchestrator() if mode == "isolated" else build_orchestrator()
    await o.__aenter__()
    try:
        ok(await o.handle_async(RegisterLibraryRequest(path=str(path), mode=mode.removesuffix("-subprocess"))))
        ok(await o.handle_async(CreateFlowRequest(flow_name="main")))
        seen = await observe(o, library, "main")
        await asyncio.sleep(0.3)  # a real worker's lines reach the log through its stderr pump
        return seen
    finally:
        await o.close()


def _as_the_guide_says(seen: Observed, *, isolated: bool) -> None:
    # reentrant-bus-in-init: ERROR in both modes, the class is dropped from the library schema
    ((dropped, reason),) = seen.dropped
    assert dropped == "BusInInit" and "GetParameterValueRequest was issued from __init__ of 'BusInInit'" in reason
    assert "Guideline: __init__ does no I/O and issues no event-bus requests." in reason
    context = "worker" if isolated else "orchestrator"
    lines = {line[:4] for line in seen.strict_lines}
    expected = {
        ("ERROR", "reentrant-bus-in-init", context, "BusInInit"),
        ("WARNING", "parameter-behaviors-dropped-in-schema", context, "Validated"),
        ("ERROR" if isolated else "WARNING", "parameter-mutation-during-aprocess", context, "main_Mutator"),
    }
    if isolated:  # worker-reach-into-orchestrator is n/a in the orchestrator
        expected |= {("WARNING", "worker-reach-into-orchestrator", "worker", f"main_{node}")
                     for node in ("Reacher", "Grower", "Counter")}
    assert lines == expected
    # parameter-behaviors-dropped-in-schema: a WARNING at load in both modes, and the validator still runs
    by_node: dict[str, list[tuple[Any, str | None, list[tuple[str, str, str]]]]] = {}
    for node, outputs, error, violations in seen.runs:
        by_node.setdefault(node, []).append((outputs, error, violations))
    (good, bad) = by_node["Validated"]
    assert good[:2] == ({"twice": 8}, None)
    assert bad[1] is not None and "amount must be positive, got -1" in bad[1]
    # parameter-mutation-during-aprocess: WARNING in the orchestrator, ERROR (a failed node) on the worker
    ((outputs, error, violations),) = by_node["Mutator"]
    assert {v[:2] for v in violations} == {("parameter-mutation-during-aprocess", "ERROR" if isolated else "WARNING")}
    assert (error is not None) is isolated and (outputs == {"done": True}) is not isolated
    assert seen.parameters["Mutator"] == ["gone", "done"], "an in-execute mutation never reaches the orchestrator"
    # worker-reach-into-orchestrator: n/a in the orchestrator, a WARNING on the worker, for reads and writes
    ((outputs, error, violations),) = by_node["Reacher"]
    assert outputs == {"seen": 5} and error is None
    assert [v[:2] for v in violations] == ([("worker-reach-into-orchestrator", "WARNING")] if isolated else [])
    # sanctioned mutation by request: the next execute sees the new parameter list
    first, second = by_node["Grower"]
    assert first[0] == {"seen": ["scratch", "seen"]} and second[0] == {"seen": ["seen", "grown"]}
    assert seen.parameters["Grower"] == ["seen", "grown"]
    reach = [("worker-reach-into-orchestrator", "WARNING")] * 2 if isolated else []
    assert [v[:2] for v in first[2]] == reach and second[2] == []
    # cross-call state: the request persists, self.x and parameter_values[k] = v do not
    first, second = by_node["Counter"]
    assert first[0] == {"report": {"count": 1, "calls": 1, "scribble": 0}}
    assert second[0] == {"report": {"count": 2, "calls": 1, "scribble": 0}}
    # hydration-time mutation is sanctioned: no rule fires
    ((outputs, error, violations),) = by_node["Dynamic"]
    assert error is None and violations == [] and "flourish" in outputs["names"]
    assert seen.parameters["Dynamic"] == ["kind", "names", "flourish"]
