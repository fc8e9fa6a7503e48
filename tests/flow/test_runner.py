"""The flow runner with a fake ``execute``: no orchestrator, no libraries, no processes, no timing."""

from __future__ import annotations

import asyncio
from typing import Any

from nodeisle.flow.graph import Graph, NodeRecord
from nodeisle.flow.runner import run_flow
from nodeisle.node.hosting import ExecutionOutcome
from nodeisle.node.spec import ParameterSpec
from nodeisle.requests import ConnectionInfo, RemoteError
from tests.conftest import run


def graph_of(*names: str, connections: tuple[tuple[str, str], ...] = ()) -> Graph:
    """Nodes with an input ``x`` and an output ``y``; ``("a", "b")`` connects a.y to b.x."""
    graph = Graph()
    graph.create_flow("main")
    for name in names:
        graph.add_node(NodeRecord(name, "main", "lib", "Cls", {}, [ParameterSpec("x"), ParameterSpec("y")]))
    for source, target in connections:
        graph.connect(
            ConnectionInfo(
                source_node_name=source, source_parameter_name="y", target_node_name=target, target_parameter_name="x"
            )
        )
    return graph


class FakeExecute:
    """Records each call; a node named in ``fail`` fails, one in ``hold`` waits until released."""

    def __init__(self, fail: set[str] | None = None, hold: set[str] | None = None) -> None:
        self.fail = fail or set()
        self.gates = {name: asyncio.Event() for name in hold or ()}
        self.started: dict[str, asyncio.Event] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.cancelled: list[str] = []

    def began(self, name: str) -> asyncio.Event:
        return self.started.setdefault(name, asyncio.Event())

    async def __call__(self, record: NodeRecord, inputs: dict[str, Any]) -> ExecutionOutcome:
        self.calls.append((record.name, inputs))
        self.began(record.name).set()
        if record.name in self.gates:
            try:
                await self.gates[record.name].wait()
            except asyncio.CancelledError:
                self.cancelled.append(record.name)
                raise
        if record.name in self.fail:
            return ExecutionOutcome({}, [], RemoteError(type="ValueError", message=f"{record.name} failed"))
        record.outputs = {"y": f"{record.name}({inputs.get('x', '')})"}
        return ExecutionOutcome(dict(record.outputs), [])


def test_outputs_flow_along_connections_and_every_node_succeeds() -> None:
    graph = graph_of("a", "b", "c", connections=(("a", "b"), ("b", "c")))
    execute = FakeExecute()
    result = run(run_flow(graph, graph.flow("main"), execute))
    assert result.succeeded and result.status == "succeeded" and result.message == "3 of 3 nodes succeeded"
    assert execute.calls == [("a", {}), ("b", {"x": "a()"}), ("c", {"x": "b(a())"})]
    assert result.nodes["c"].outputs == {"y": "c(b(a()))"}


def test_branches_run_concurrently() -> None:
    graph = graph_of("left", "right", "join", connections=(("left", "join"),))
    execute = FakeExecute(hold={"left", "right"})

    async def body() -> Any:
        running = asyncio.ensure_future(run_flow(graph, graph.flow("main"), execute))
        await execute.began("left").wait()
        await execute.began("right").wait()  # both started while neither has finished
        execute.gates["left"].set()
        execute.gates["right"].set()
        return await running

    assert run(body(), timeout=10).status == "succeeded"


def test_a_failed_node_skips_its_downstream_and_the_other_branch_completes() -> None:
    graph = graph_of("boom", "after", "later", "independent", connections=(("boom", "after"), ("after", "later")))
    result = run(run_flow(graph, graph.flow("main"), FakeExecute(fail={"boom"})))
    assert result.status == "failed" and result.message == "1 of 4 nodes succeeded"
    assert [r.status for r in result.nodes.values()] == ["failed", "skipped", "skipped", "succeeded"]
    after = result.nodes["after"].error
    assert after is not None and after.type == "Skipped" and after.message == "upstream node 'boom' did not succeed"
    later = result.nodes["later"].error
    assert later is not None and later.message == "upstream node 'after' did not succeed"


def test_an_engine_failure_in_execute_is_that_nodes_error() -> None:
    graph = graph_of("a", "b", connections=(("a", "b"),))

    async def broken(record: NodeRecord, inputs: dict[str, Any]) -> ExecutionOutcome:
        raise SystemExit(3)

    result = run(run_flow(graph, graph.flow("main"), broken))
    error = result.nodes["a"].error
    assert error is not None and error.type == "SystemExit" and error.message == "3"
    assert result.nodes["b"].status == "skipped"


def test_cancelling_stops_what_runs_starts_nothing_new_and_reports_them_cancelled() -> None:
    graph = graph_of("quick", "slow", "after", connections=(("slow", "after"),))
    execute = FakeExecute(hold={"slow"})

    async def body() -> Any:
        cancel = asyncio.Event()
        running = asyncio.ensure_future(run_flow(graph, graph.flow("main"), execute, cancel))
        await execute.began("slow").wait()
        cancel.set()
        return await running

    result = run(body(), timeout=10)
    assert result.status == "cancelled" and result.message == "1 of 3 nodes succeeded, 2 cancelled"
    assert {name: r.status for name, r in result.nodes.items()} == {
        "quick": "succeeded", "slow": "cancelled", "after": "cancelled"
    }
    slow = result.nodes["slow"].error
    assert slow is not None and slow.type == "Cancelled" and slow.message == "the run was cancelled"
    assert execute.cancelled == ["slow"]  # the execution in flight was cancelled
    assert [name for name, _ in execute.calls] == ["quick", "slow"]  # after never started


def test_an_empty_flow_succeeds() -> None:
    graph = graph_of()
    result = run(run_flow(graph, graph.flow("main"), FakeExecute()))
    assert result.status == "succeeded" and result.nodes == {} and result.message == "0 of 0 nodes succeeded"
