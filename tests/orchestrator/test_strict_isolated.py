"""Strict mode through a real worker: where its lines appear, and whose requests count."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.requests import (
    CreateNodeRequest,
    ExecuteNodeRequest,
    ListRegisteredLibrariesRequest,
    RegisterLibraryRequest,
    Result,
    RunFlowRequest,
    SetParameterValueRequest,
)
from nodeisle.testing.inprocess import build_in_process_orchestrator
from tests.conftest import run, write_library

NODES = '''
import nodeisle
from nodeisle import BaseNode, Parameter, ParameterMode
from nodeisle.requests import ListFlowsRequest, SetParameterValueRequest

IN, OUT = {ParameterMode.INPUT, ParameterMode.PROPERTY}, {ParameterMode.OUTPUT}

class Noisy(BaseNode):
    """One mutation (twice, same call) and one read inside process."""
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("out", type="str", allowed_modes=OUT))
    def process(self):
        nodeisle.handle_request(ListFlowsRequest())
        for _ in range(2):
            if self.get_parameter_by_name("extra") is None:
                self.add_parameter(Parameter("extra", type="str"))

class Counter(BaseNode):
    """Writes its own count back; its hook runs again in the worker when the orchestrator applies it."""
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("count", type="int", default_value=0, allowed_modes=IN))
        self.add_parameter(Parameter("seen", type="int", default_value=0, allowed_modes=IN))
        self.add_parameter(Parameter("next", type="int", allowed_modes=OUT))
    def after_value_set(self, parameter, value):
        if parameter.name == "count" and self.get_parameter_by_name(f"mark_{value}") is None:
            self.add_parameter(Parameter(f"mark_{value}", type="int", allowed_modes=OUT))
    def process(self):
        count = self.parameter_values["count"] + 1
        answer = nodeisle.handle_request(SetParameterValueRequest(node_name=self.name, parameter_name="count",
                                                                  value=count))
        assert answer.succeeded, answer.message
        self.parameter_output_values["next"] = count
'''


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


async def start(path: Path, *, in_process: bool = False) -> Orchestrator:
    """``in_process``: the worker runtime in this process over the in-memory bus (nodeisle.testing.inprocess)."""
    orchestrator = build_in_process_orchestrator() if in_process else build_orchestrator()
    await orchestrator.__aenter__()
    ok(await orchestrator.handle_async(RegisterLibraryRequest(path=str(path), mode="isolated")))
    return orchestrator


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return write_library(tmp_path, "Strict Worker", NODES, ["Noisy", "Counter"])


def test_worker_violations_reach_the_orchestrator_log_once_each_with_the_worker_prefix(
        library: Path, offline_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nodeisle.worker")

    async def body() -> tuple[str, list[dict[str, str]]]:
        o = await start(library)
        try:
            ok(await o.handle_async(CreateNodeRequest(node_type="Noisy", node_name="noisy")))
            result = await o.handle_async(ExecuteNodeRequest(node_name="noisy"))
            [info] = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            await asyncio.sleep(0.3)  # the stderr pump logs asynchronously
            return str(info.worker_id), result.violations
        finally:
            await o.close()

    worker_id, violations = run(body(), timeout=120)
    assert [(v["rule_id"], v["severity"]) for v in violations] == [
        ("worker-reach-into-orchestrator", "WARNING"), ("parameter-mutation-during-aprocess", "ERROR")]
    lines = [r.getMessage() for r in caplog.records if r.name == "nodeisle.worker" and "nodeisle.strict_mode" in
             r.getMessage() and "Strict Worker/noisy" in r.getMessage()]
    prefix = f"Worker-{worker_id} [Strict Worker] "
    assert lines == [
        f"{prefix}WARNING nodeisle.strict_mode: [WARNING] worker-reach-into-orchestrator (worker) "
        "Strict Worker/noisy: ListFlowsRequest forwarded to the orchestrator during aprocess. Fix: "
        + violations[0]["remediation"],
        f"{prefix}ERROR nodeisle.strict_mode: [ERROR] parameter-mutation-during-aprocess (worker) "
        "Strict Worker/noisy: add_parameter('extra') called during process(); the change applies only to this "
        "execution's transient node. Fix: " + violations[1]["remediation"],
    ]
    orchestrator_side = [r for r in caplog.records if r.name == "nodeisle.strict_mode"]
    assert orchestrator_side == [], "a worker's violation is logged by the worker only, not again by the orchestrator"


def test_only_the_nodes_own_request_counts_not_what_the_framework_does_for_it(
        library: Path, offline_home: Path) -> None:
    """The run issues ExecuteNodeRequest, the write replays the hook in the worker: none of that counts."""

    async def body() -> None:
        o = await start(library, in_process=True)  # strict mode in the worker's context, no subprocess
        try:
            ok(await o.handle_async(CreateNodeRequest(node_type="Counter", node_name="counter")))
            ok(await o.handle_async(SetParameterValueRequest(node_name="counter", parameter_name="seen", value=1)))
            flow = ok(await o.handle_async(RunFlowRequest(flow_name=o.graph.node("counter").flow)))
            node = flow.nodes["counter"]
            assert node.status == "succeeded" and node.outputs == {"next": 1}
            assert [(v["rule_id"], v["message"]) for v in node.violations] == [
                ("worker-reach-into-orchestrator",
                 "SetParameterValueRequest forwarded to the orchestrator during aprocess.")]
            again = ok(await o.handle_async(ExecuteNodeRequest(node_name="counter")))
            assert again.parameter_output_values == {"next": 2} and len(again.violations) == 1
        finally:
            await o.close()

    run(body(), timeout=120)
