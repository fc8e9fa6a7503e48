"""Running a flow: each node starts once its upstream nodes have finished; branches run concurrently.

A failed node marks everything downstream of it skipped and the run failed; other branches
still complete. Cancelling the run (``cancel`` is set, e.g. on Ctrl-C) cancels the executions in
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

from nodeisle.flow.graph import Flow, Graph, NodeRecord
from nodeisle.flow.scheduling import NodeStatus, Schedule
from nodeisle.requests import NodeRunResult, RemoteError, RunFlowResult

if TYPE_CHECKING:
    from nodeisle.node.hosting import ExecutionOutcome

#: Runs one node with its stored values overlaid by the inputs, and stores its outputs on the record.
Execute = Callable[[NodeRecord, dict[str, Any]], Awaitable["ExecutionOutcome"]]
#: Told each node's status as it changes: queued (all, at the start), running, then its final result.
Report = Callable[[str, NodeRunResult], None]

_CANCELLED = "the run was cancelled"


def _stopped(status: NodeStatus, message: str) -> NodeRunResult:
    return NodeRunResult(status=status.value, error=RemoteError(type=status.value.capitalize(), message=message))


def _inputs(graph: Graph, flow: Flow, name: str) -> dict[str, Any]:
    """The values the connections into ``name`` carry: its upstream nodes' latest outputs."""
    inputs: dict[str, Any] = {}
    for connection in flow.connections:
        if connection.target_node_name != name:
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
    if outcome.error is not None:
        return NodeRunResult(status=NodeStatus.FAILED.value, error=outcome.error, violations=violations)
    return NodeRunResult(status=NodeStatus.SUCCEEDED.value, outputs=outcome.outputs, violations=violations)


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
    plan = Schedule(flow.nodes, ((c.source_node_name, c.target_node_name) for c in flow.connections))
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
            for skip in plan.finish(name, NodeStatus(result.status)):
                results[skip.node] = _stopped(NodeStatus.SKIPPED, f"upstream node {skip.upstream!r} did not succeed")

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
