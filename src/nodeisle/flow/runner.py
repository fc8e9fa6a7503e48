"""Running a flow: each node starts once its upstream nodes have finished; branches run concurrently.

A failed node marks everything downstream of it skipped and the run failed; other branches
still complete. Control connections (``exec_out -> exec_in``) carry no value and only order the
nodes; a node that says which control outputs it fired (by writing them among its outputs, as
the ``griptape_nodes`` layer does for ``get_next_control_output``) leaves the nodes behind the
others not reached. Cancelling the run (``cancel`` is set, e.g. on Ctrl-C) cancels the executions in
flight, in their workers too, starts nothing new, and reports those nodes as cancelled.

What may start and what is skipped is decided by the pure :class:`~nodeisle.flow.scheduling.Schedule`;
this module does the asyncio: one task per running node, its inputs from the upstream outputs, and
the cancellation. Nodes run through the ``execute`` callable it is given (the orchestrator's
``execute``), so it knows nothing of hosts, workers or the orchestrator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from nodeisle.flow.graph import Flow, Graph, NodeRecord, is_control
from nodeisle.flow.scheduling import ControlEdge, Edge, NodeStatus, Schedule, Skip
from nodeisle.node.spec import ParameterMode
from nodeisle.requests import NodeRunResult, RemoteError, RunFlowResult

if TYPE_CHECKING:
    from nodeisle.node.hosting import ExecutionOutcome

#: Runs one node with its stored values overlaid by the inputs, and stores its outputs on the record.
Execute = Callable[[NodeRecord, dict[str, Any]], Awaitable["ExecutionOutcome"]]
#: Told each node's status as it changes: queued (all, at the start), running, then its final result.
Report = Callable[[str, NodeRunResult], None]

_CANCELLED = "the run was cancelled"

#: The error type of a node skipped because its branch was not taken (not a failure of the run).
NOT_REACHED = "NotReached"


def _stopped(status: NodeStatus, message: str) -> NodeRunResult:
    return NodeRunResult(status=status.value, error=RemoteError(type=status.value.capitalize(), message=message))


def _skipped(skip: Skip) -> NodeRunResult:
    error = RemoteError(type=NOT_REACHED if skip.not_reached else "Skipped", message=skip.reason)
    return NodeRunResult(status=NodeStatus.SKIPPED.value, error=error)


def _edges(graph: Graph, flow: Flow) -> list[Edge]:
    """The flow's connections as the schedule takes them, in connection order."""
    return [
        ControlEdge(c.source_node_name, c.source_parameter_name, c.target_node_name)
        if graph.is_control(c)
        else (c.source_node_name, c.target_node_name)
        for c in flow.connections
    ]


def fired_outputs(record: NodeRecord, outputs: dict[str, Any]) -> list[str] | None:
    """The control outputs a node fired: those it wrote a true value to, if it wrote any of them;
    None (all of them) if it wrote none, which is what a node with one ``exec_out`` does."""
    control = [s.name for s in record.specs if is_control(s) and s.has_mode(ParameterMode.OUTPUT)]
    written = [name for name in control if name in outputs]
    return [name for name in written if outputs[name]] if written else None


def _inputs(graph: Graph, flow: Flow, name: str) -> dict[str, Any]:
    """The values the data connections into ``name`` carry: its upstream nodes' latest outputs."""
    inputs: dict[str, Any] = {}
    for connection in flow.connections:
        if connection.target_node_name != name or graph.is_control(connection):
            continue
        outputs = graph.node(connection.source_node_name).outputs
        if connection.source_parameter_name in outputs:
            inputs[connection.target_parameter_name] = outputs[connection.source_parameter_name]
    return inputs


async def _run_node(graph: Graph, flow: Flow, name: str, execute: Execute) -> NodeRunResult:
    try:
        record = graph.node(name)
        outcome = await execute(record, _inputs(graph, flow, name))
    except asyncio.CancelledError:
        return _stopped(NodeStatus.CANCELLED, _CANCELLED)
    except (Exception, SystemExit) as exc:  # a failure of the engine itself still ends as this node's error
        error = RemoteError(type=type(exc).__name__, message=str(exc))
        return NodeRunResult(status=NodeStatus.FAILED.value, error=error)
    violations = [v.to_dict() for v in outcome.violations]
    peak = outcome.peak_memory
    if outcome.error is not None:
        return NodeRunResult(
            status=NodeStatus.FAILED.value, error=outcome.error, violations=violations, peak_memory=peak
        )
    return NodeRunResult(
        status=NodeStatus.SUCCEEDED.value, outputs=outcome.outputs, violations=violations, peak_memory=peak
    )


def _silent(_name: str, _result: NodeRunResult) -> None:
    """The default :data:`Report`: nobody watches this run."""


class _Results(dict[str, NodeRunResult]):
    """The run's final results by node; storing one also reports it."""

    def __init__(self, report: Report) -> None:
        super().__init__()
        self.report = report

    def __setitem__(self, name: str, result: NodeRunResult) -> None:
        super().__setitem__(name, result)
        self.report(name, result)


async def run_flow(
    graph: Graph, flow: Flow, execute: Execute, cancel: asyncio.Event | None = None, report: Report | None = None
) -> RunFlowResult:
    """Run every node of ``flow`` along its connections, each through ``execute``; ``report`` sees each status."""
    plan = Schedule(flow.nodes, _edges(graph, flow))
    position = {name: i for i, name in enumerate(plan.nodes)}
    tell = report or _silent
    for name in plan.nodes:
        tell(name, NodeRunResult(status=NodeStatus.QUEUED.value))
    results = _Results(tell)
    running: dict[asyncio.Task[NodeRunResult], str] = {}

    def collect(tasks: Iterable[asyncio.Task[NodeRunResult]]) -> None:
        """Record finished tasks' results, in flow order, and the skips they decide."""
        for task in sorted(tasks, key=lambda t: position[running[t]]):
            name = running.pop(task)
            # A task cancelled before its first step never ran its node.
            result = _stopped(NodeStatus.CANCELLED, _CANCELLED) if task.cancelled() else task.result()
            results[name] = result
            record = graph.nodes.get(name)  # None if the node was deleted while it ran
            fired = fired_outputs(record, result.outputs) if record is not None else None
            for skip in plan.finish(name, NodeStatus(result.status), fired):
                results[skip.node] = _skipped(skip)

    waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    try:
        while waiter is None or not waiter.done():
            for name in plan.ready():
                plan.start(name)
                tell(name, NodeRunResult(status=NodeStatus.RUNNING.value))
                running[asyncio.create_task(_run_node(graph, flow, name, execute), name=f"node-{name}")] = name
            if not running:
                break
            waiting: set[asyncio.Future[Any]] = {*running, waiter} if waiter is not None else set(running)
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            collect(task for task in running if task in done)
        if not plan.finished:  # cancelled: stop what runs, start nothing new
            for name in plan.cancel():
                results[name] = _stopped(NodeStatus.CANCELLED, _CANCELLED)
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running)
            collect(list(running))
    finally:
        if waiter is not None:
            waiter.cancel()
        for task in running:
            task.cancel()
    summary = plan.summary()
    return RunFlowResult(
        succeeded=summary.succeeded,
        message=summary.message,
        status=summary.status.value,
        nodes={name: results[name] for name in plan.nodes},
    )
