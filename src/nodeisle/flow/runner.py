"""Running a flow: each node starts once its upstream nodes have finished; branches run concurrently.

A failed node marks everything downstream of it skipped and the run failed; other branches
still complete. Cancelling the run (``cancel`` is set, e.g. on Ctrl-C) cancels the executions in
flight, in their workers too, starts nothing new, and reports those nodes as cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nodeisle.flow.graph import Flow
from nodeisle.requests import NodeRunResult, RemoteError, RunFlowResult

if TYPE_CHECKING:
    from nodeisle.orchestrator.engine import Orchestrator


def _stopped(status: str, message: str) -> NodeRunResult:
    return NodeRunResult(status=status, error=RemoteError(type=status.capitalize(), message=message))


async def run_flow(orchestrator: Orchestrator, flow: Flow, cancel: asyncio.Event | None = None) -> RunFlowResult:
    graph = orchestrator.graph
    order = list(flow.nodes)
    upstream: dict[str, list[str]] = {name: [] for name in order}
    for connection in flow.connections:
        if connection.source_node_name not in upstream[connection.target_node_name]:
            upstream[connection.target_node_name].append(connection.source_node_name)
    loop = asyncio.get_running_loop()
    done: dict[str, asyncio.Future[NodeRunResult]] = {name: loop.create_future() for name in order}

    async def run_node(name: str) -> None:
        try:
            results = [await asyncio.shield(done[up]) for up in upstream[name]]
            blocked = [up for up, r in zip(upstream[name], results, strict=True) if r.status != "succeeded"]
            if blocked:
                done[name].set_result(_stopped("skipped", f"upstream node {blocked[0]!r} did not succeed"))
                return
            record = graph.node(name)
            inputs: dict[str, Any] = {}
            for connection in flow.connections:
                if connection.target_node_name != name:
                    continue
                outputs = graph.node(connection.source_node_name).outputs
                if connection.source_parameter_name in outputs:
                    inputs[connection.target_parameter_name] = outputs[connection.source_parameter_name]
            outcome = await orchestrator.execute(record, inputs)
        except asyncio.CancelledError:
            if not done[name].done():
                done[name].set_result(_stopped("cancelled", "the run was cancelled"))
            return
        except (Exception, SystemExit) as exc:  # a failure of the engine itself still ends as this node's error
            done[name].set_result(
                NodeRunResult(status="failed", error=RemoteError(type=type(exc).__name__, message=str(exc)))
            )
            return
        violations = [v.to_dict() for v in outcome.violations]
        if outcome.error is not None:
            done[name].set_result(NodeRunResult(status="failed", error=outcome.error, violations=violations))
        else:
            done[name].set_result(NodeRunResult(status="succeeded", outputs=outcome.outputs, violations=violations))

    tasks = [asyncio.create_task(run_node(name), name=f"node-{name}") for name in order]
    everything = asyncio.gather(*tasks)
    waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    try:
        pending: set[asyncio.Future[Any]] = {everything, waiter} if waiter else {everything}
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if not everything.done():  # cancelled: stop what runs, start nothing new
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await everything
    finally:
        if waiter is not None:
            waiter.cancel()
        for task in tasks:
            task.cancel()
    nodes = {name: done[name].result() for name in order}
    status, message = summarize(nodes)
    return RunFlowResult(succeeded=status == "succeeded", message=message, status=status, nodes=nodes)


def summarize(nodes: Mapping[str, NodeRunResult]) -> tuple[str, str]:
    """The status of a run with these node results, and its summary ("3 of 4 nodes succeeded")."""
    counts = {s: sum(1 for r in nodes.values() if r.status == s) for s in ("succeeded", "cancelled")}
    if counts["cancelled"]:
        status = "cancelled"
    elif counts["succeeded"] == len(nodes):
        status = "succeeded"
    else:
        status = "failed"
    message = f"{counts['succeeded']} of {len(nodes)} nodes succeeded"
    if counts["cancelled"]:
        message += f", {counts['cancelled']} cancelled"
    return status, message
