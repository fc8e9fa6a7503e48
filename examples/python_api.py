"""Drive nodeisle from Python: register a library, build a flow, run it and print its outputs.

Run it from anywhere: ``python examples/python_api.py`` (``--isolated`` runs Text Tools in a worker,
which builds its virtualenv first). The engine home is ``$NODEISLE_HOME``, else ``~/.config/nodeisle``.
docs/python-api.md explains each step.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import nodeisle
from nodeisle.orchestrator.engine import build_orchestrator
from nodeisle.requests import (
    CreateConnectionRequest,
    CreateFlowRequest,
    CreateNodeRequest,
    GetParameterValueRequest,
    ListNodesInFlowRequest,
    RegisterLibraryRequest,
    Request,
    Result,
    RunFlowRequest,
    RunFlowResult,
    SetParameterValueRequest,
)

TEXT_TOOLS = Path(__file__).resolve().parent / "libraries" / "text_tools"


def ok(result: Result) -> Any:
    """The result, or exit with its message: a failed request is an answer, not an exception."""
    if not result.succeeded:
        raise SystemExit(f"error: {type(result).__name__}: {result.message}")
    return result


async def main(mode: str) -> int:
    async with build_orchestrator() as orchestrator:

        async def ask(request: Request) -> Any:
            return ok(await orchestrator.handle_async(request))

        await ask(RegisterLibraryRequest(path=str(TEXT_TOOLS), mode=mode))
        flow = (await ask(CreateFlowRequest(flow_name="demo"))).flow_name
        for node_type, name in (("Echo", "greet"), ("Upper", "shout"), ("Repeat", "repeat")):
            await ask(CreateNodeRequest(node_type=node_type, library_name="Text Tools", node_name=name, flow_name=flow))
        await ask(SetParameterValueRequest(node_name="greet", parameter_name="text", value="hello from python"))
        # "3" goes through Repeat's converter (int) and validator (>= 1), where the library runs.
        await ask(SetParameterValueRequest(node_name="repeat", parameter_name="times", value="3"))
        await ask(SetParameterValueRequest(node_name="repeat", parameter_name="separator", value=" / "))
        for source, target in (("greet", "shout"), ("shout", "repeat")):
            await ask(CreateConnectionRequest(source_node_name=source, source_parameter_name="result",
                                              target_node_name=target, target_parameter_name="text"))

        # Blocking code (here a thread) uses nodeisle.handle_request once the orchestrator is activated.
        def describe() -> str:
            with orchestrator.activated():
                nodes = ok(nodeisle.handle_request(ListNodesInFlowRequest(flow_name=flow)))
                times = ok(nodeisle.handle_request(GetParameterValueRequest(node_name="repeat",
                                                                            parameter_name="times")))
            return f"flow {flow!r}: nodes {', '.join(nodes.node_names)}; repeat.times = {times.value!r}"

        print(await asyncio.to_thread(describe))

        run = await orchestrator.handle_async(RunFlowRequest(flow_name=flow))  # a failed run is still a report
        assert isinstance(run, RunFlowResult)
        for name, node in run.nodes.items():
            outputs = "  ".join(f"{key}={value!r}" for key, value in node.outputs.items())
            print(f"{node.status:>9}  {name:<6}  {outputs or node.error}")
        print(f"run {run.status}: {run.message}")
        return 0 if run.status == "succeeded" else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main("isolated" if "--isolated" in sys.argv[1:] else "shared")))
