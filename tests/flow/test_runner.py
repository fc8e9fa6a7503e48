"""The flow runner with a fake ``execute``: no orchestrator, no libraries, no processes, no timing."""

from __future__ import annotations

import asyncio
from typing import Any

from nodeisle.flow.graph import Graph, NodeRecord
from nodeisle.flow.runner import NOT_REACHED, run_flow
from nodeisle.node.hosting import ExecutionOutcome
from nodeisle.node.spec import ParameterMode, ParameterSpec
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


# -- control connections ----------------------------------------------------------------------------
CONTROL_OUTPUTS = ("exec_out", "True", "False")


def control_graph(
    *names: str, control: tuple[tuple[str, str, str], ...] = (), data: tuple[tuple[str, str], ...] = ()
) -> Graph:
    """Nodes with exec_in, exec_out, True and False control parameters and a data x -> y; control
    ``("a", "True", "b")`` connects a.True to b.exec_in, data ``("a", "b")`` a.y to b.x."""
    graph = Graph()
    graph.create_flow("main")
    control_type = "parametercontroltype"
    for name in names:
        specs = [
            ParameterSpec("exec_in", control_type, allowed_modes=(ParameterMode.INPUT,)),
            *(ParameterSpec(o, control_type, allowed_modes=(ParameterMode.OUTPUT,)) for o in CONTROL_OUTPUTS),
            ParameterSpec("x"),
            ParameterSpec("y"),
        ]
        graph.add_node(NodeRecord(name, "main", "lib", "Cls", {}, specs))
    ends = [(s, o, t, "exec_in") for s, o, t in control] + [(s, "y", t, "x") for s, t in data]
    for source, output, target, input_ in ends:
        graph.connect(
            ConnectionInfo(
                source_node_name=source, source_parameter_name=output, target_node_name=target,
                target_parameter_name=input_,
            )
        )
    return graph


class Brancher(FakeExecute):
    """Like FakeExecute; a node named in ``choose`` writes its control outputs: True to the one chosen."""

    def __init__(self, choose: dict[str, str | None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choose = choose

    async def __call__(self, record: NodeRecord, inputs: dict[str, Any]) -> ExecutionOutcome:
        outcome = await super().__call__(record, inputs)
        if record.name in self.choose and outcome.error is None:
            chosen = self.choose[record.name]
            record.outputs.update({o: o == chosen for o in CONTROL_OUTPUTS})
            return ExecutionOutcome(dict(record.outputs), [])
        return outcome


def test_a_control_chain_runs_in_order_and_its_connections_carry_no_value() -> None:
    graph = control_graph("c", "b", "a", control=(("a", "exec_out", "b"), ("b", "exec_out", "c")))
    execute = FakeExecute()
    result = run(run_flow(graph, graph.flow("main"), execute))
    assert result.status == "succeeded"
    assert execute.calls == [("a", {}), ("b", {}), ("c", {})]  # the chain's order, not the flow's (c, b, a)


def test_a_failure_in_a_control_chain_skips_the_rest_while_an_unconnected_node_completes() -> None:
    graph = control_graph("a", "b", "c", "lone", control=(("a", "exec_out", "b"), ("b", "exec_out", "c")))
    result = run(run_flow(graph, graph.flow("main"), FakeExecute(fail={"b"})))
    assert {n: r.status for n, r in result.nodes.items()} == {
        "a": "succeeded", "b": "failed", "c": "skipped", "lone": "succeeded"
    }
    error = result.nodes["c"].error
    assert error is not None and (error.type, error.message) == ("Skipped", "upstream node 'b' did not succeed")
    assert result.status == "failed" and result.message == "2 of 4 nodes succeeded"


def test_the_control_output_a_node_writes_true_fires_and_the_other_branch_is_not_reached() -> None:
    graph = control_graph(
        "if", "yes", "no", "after_no",
        control=(("if", "True", "yes"), ("if", "False", "no")), data=(("no", "after_no"),),
    )
    execute = Brancher({"if": "True"})
    result = run(run_flow(graph, graph.flow("main"), execute))
    assert [name for name, _ in execute.calls] == ["if", "yes"]
    assert {n: r.status for n, r in result.nodes.items()} == {
        "if": "succeeded", "yes": "succeeded", "no": "skipped", "after_no": "skipped"
    }
    no, after_no = result.nodes["no"].error, result.nodes["after_no"].error
    assert no is not None and (no.type, no.message) == (NOT_REACHED, "control output if.False did not fire")
    assert after_no is not None and after_no.message == "upstream node 'no' was not reached"
    assert result.succeeded and result.message == "2 of 4 nodes succeeded, 2 not reached"
    assert result.nodes["if"].outputs["True"] is True


def test_a_node_that_writes_none_of_its_control_outputs_fires_them_all() -> None:
    graph = control_graph("a", "b", "c", control=(("a", "True", "b"), ("a", "False", "c")))
    result = run(run_flow(graph, graph.flow("main"), FakeExecute()))
    assert result.message == "3 of 3 nodes succeeded"


def test_data_and_control_connections_together_order_and_feed() -> None:
    # a orders b by control and feeds it by data; d (in the flow before a) also waits for a's data
    graph = control_graph("b", "d", "a", control=(("a", "exec_out", "b"),), data=(("a", "b"), ("a", "d")))
    execute = FakeExecute()
    result = run(run_flow(graph, graph.flow("main"), execute))
    assert result.status == "succeeded"
    assert [name for name, _ in execute.calls] == ["a", "b", "d"]
    assert dict(execute.calls)["b"] == {"x": "a()"}  # only the data connection carries a value


def test_cancelling_a_control_chain_cancels_the_running_node_and_the_rest_of_the_chain() -> None:
    graph = control_graph("a", "b", "c", control=(("a", "exec_out", "b"), ("b", "exec_out", "c")))
    execute = FakeExecute(hold={"b"})

    async def body() -> Any:
        cancel = asyncio.Event()
        running = asyncio.ensure_future(run_flow(graph, graph.flow("main"), execute, cancel))
        await execute.began("b").wait()
        cancel.set()
        return await running

    result = run(body(), timeout=10)
    assert {n: r.status for n, r in result.nodes.items()} == {"a": "succeeded", "b": "cancelled", "c": "cancelled"}
    assert result.status == "cancelled" and execute.cancelled == ["b"]
    assert [name for name, _ in execute.calls] == ["a", "b"]
