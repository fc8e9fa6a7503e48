"""Running a flow: each node starts once its upstream nodes have finished; branches run concurrently.

A failed node marks everything downstream of it skipped and the run failed; other branches
still complete.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from nodeisle.orchestrator.graph import Flow
from nodeisle.requests import NodeRunResult, RemoteError, RunFlowResult

if TYPE_CHECKING:
    from nodeisle.orchestrator.engine import Orchestrator


async def run_flow(orchestrator: Orchestrator, flow: Flow) -> RunFlowResult:
    graph = orchestrator.graph
    upstream: dict[str, set[str]] = {name: set() for name in flow.nodes}
    for connection in flow.connections:
        upstream[connection.target_node_name].add(connection.source_node_name)
    done: dict[str, asyncio.Future[NodeRunResult]] = {
        name: asyncio.get_running_loop().create_future() for name in flow.nodes
    }

    async def run_node(name: str) -> None:
        results = [await done[up] for up in sorted(upstream[name])]
        blocked = [up for up, r in zip(sorted(upstream[name]), results, strict=True) if r.status != "succeeded"]
        if blocked:
            done[name].set_result(
                NodeRunResult(
                    status="skipped",
                    error=RemoteError(type="Skipped", message=f"upstream node {blocked[0]!r} did not succeed"),
                )
            )
            return
        record = graph.node(name)
        inputs: dict[str, Any] = {}
        for connection in flow.connections:
            if connection.target_node_name != name:
                continue
            outputs = graph.node(connection.source_node_name).outputs
            if connection.source_parameter_name in outputs:
                inputs[connection.target_parameter_name] = outputs[connection.source_parameter_name]
        try:
            outcome = await orchestrator.execute(record, inputs)
        except Exception as exc:  # a failure of the engine itself still ends as this node's error
            done[name].set_result(
                NodeRunResult(status="failed", error=RemoteError(type=type(exc).__name__, message=str(exc)))
            )
            return
        violations = [v.to_dict() for v in outcome.violations]
        if outcome.error is not None:
            done[name].set_result(NodeRunResult(status="failed", error=outcome.error, violations=violations))
        else:
            done[name].set_result(NodeRunResult(status="succeeded", outputs=outcome.outputs, violations=violations))

    tasks = [asyncio.create_task(run_node(name), name=f"node-{name}") for name in flow.nodes]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    nodes = {name: done[name].result() for name in flow.nodes}
    failed = [n for n, r in nodes.items() if r.status != "succeeded"]
    status = "failed" if failed else "succeeded"
    message = f"{len(nodes) - len(failed)} of {len(nodes)} nodes succeeded"
    return RunFlowResult(succeeded=not failed, message=message, status=status, nodes=nodes)
