"""How a flow run is shown: readable lines for a terminal, or one JSON document for ``--json``."""

from __future__ import annotations

import json
from typing import Any

from nodeisle.requests import NodeRunResult, RunFlowResult


def to_display(value: Any) -> Any:
    """A JSON-able rendering of an output value for ``--json``."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): to_display(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_display(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        import base64

        data = bytes(value)
        return {
            "$type": "bytes",
            "length": len(data),
            "base64": base64.b64encode(data[:4096]).decode(),
            "truncated": len(data) > 4096,
        }
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        return {"$type": "ndarray", "dtype": str(value.dtype), "shape": list(shape)}
    return {"$type": type(value).__name__, "repr": repr(value)[:200]}


def run_to_json(result: RunFlowResult) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    for name, node in result.nodes.items():
        error = None
        if node.error is not None:
            error = {"type": node.error.type, "message": node.error.message, "traceback": node.error.traceback}
        nodes[name] = {
            "status": node.status,
            "outputs": to_display(node.outputs),
            "error": error,
            "violations": node.violations,
        }
    return {"status": result.status, "nodes": nodes, "library_errors": dict(result.library_errors)}


def print_run(result: RunFlowResult) -> None:
    marks = {"succeeded": "ok", "failed": "FAILED", "skipped": "skipped", "cancelled": "cancelled"}
    width = max((len(n) for n in result.nodes), default=4)
    for library, error in result.library_errors.items():  # once, however many nodes it has
        print(f"library {library!r} failed to load:")
        for line in error.rstrip().splitlines():
            print(f"{'':>9}  | {line}")
    for name, node in result.nodes.items():
        print(f"{marks.get(node.status, node.status):>9}  {name:<{width}}  {_summary(node)}")
        for violation in node.violations:
            print(f"{'':>9}  {'':<{width}}  [{violation['severity']}] {violation['rule_id']}: {violation['message']}")
            print(f"{'':>9}  {'':<{width}}      fix: {violation['remediation']}")
        if node.status == "failed" and node.error is not None and node.error.traceback:
            for line in node.error.traceback.rstrip().splitlines():
                print(f"{'':>9}  {'':<{width}}  | {line}")
    print(f"run {result.status}: {result.message}")


def _summary(node: NodeRunResult) -> str:
    if node.status == "succeeded":
        return "  ".join(f"{k}={_short(v)}" for k, v in node.outputs.items()) or "(no outputs)"
    return f"{node.error.type}: {node.error.message}" if node.error else ""


def _short(value: Any) -> str:
    text = json.dumps(to_display(value))
    return text if len(text) <= 80 else text[:77] + "..."
