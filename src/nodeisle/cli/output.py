"""How a flow run is shown: readable lines for a terminal, or one JSON document for ``--json``."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from nodeisle.bus import codec
from nodeisle.requests import NodeRunResult, RunFlowResult

_NATIVE = "<" if sys.byteorder == "little" else ">"
_NUMBER_KINDS = {"b": "bool", "i": "int", "u": "uint", "f": "float", "c": "complex"}


def dtype_name(descr: Any) -> str:
    """numpy's name for a dtype, from its description (``dtype.str``, or a structured dtype's field list).

    Works without numpy: ``"<f4"`` is ``float32``, ``"<M8[D]"`` is ``datetime64[D]``; a byte order
    other than this machine's, and strings, keep numpy's short form (``">f4"``, ``"<U5"``).
    """
    if isinstance(descr, (list, tuple)):
        return repr([_field(f) for f in descr])
    text = str(descr)
    match = re.fullmatch(r"([<>|=])([a-zA-Z])(\d+)(\[\w+\])?", text)
    if match is None or match[1] not in ("|", "=", _NATIVE):
        return text
    kind, size, unit = match[2], int(match[3]), match[4] or ""
    if kind == "b" and size == 1:
        return "bool"
    if kind in _NUMBER_KINDS:
        return f"{_NUMBER_KINDS[kind]}{size * 8}"
    if kind in "Mm":
        return ("datetime64" if kind == "M" else "timedelta64") + unit
    return text


def _field(field: Any) -> tuple[Any, ...]:
    """One field of a structured dtype, as numpy's ``descr`` writes it (JSON gives lists for tuples)."""
    name, sub, *shape = field
    sub = [_field(f) for f in sub] if isinstance(sub, (list, tuple)) else sub
    return (name, sub, *[tuple(s) for s in shape])


def array_header(value: Any) -> tuple[str, tuple[int, ...]] | None:
    """(dtype name, shape) when ``value`` is an array: numpy's, or what the codec gives a receiver without numpy."""
    if isinstance(value, codec.RawArray):
        return dtype_name(value.dtype), value.shape
    if isinstance(value, memoryview):
        try:
            descr = codec.format_dtype(value.format)
        except ValueError:
            descr = value.format
        return dtype_name(descr), tuple(value.shape or ())
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
        dtype = value.dtype
        descr = dtype.str if dtype.names is None else numpy.lib.format.dtype_to_descr(dtype)
        return dtype_name(descr), tuple(value.shape)
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None and not isinstance(value, type):  # torch, jax, ... by duck type
        try:
            return str(dtype), tuple(int(n) for n in shape)
        except (TypeError, ValueError):
            return None
    return None


def to_display(value: Any) -> Any:
    """A JSON-able rendering of an output value for ``--json``."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): to_display(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_display(v) for v in value]
    header = array_header(value)
    if header is not None:
        return {"$type": "ndarray", "dtype": header[0], "shape": list(header[1])}
    if isinstance(value, (bytes, bytearray)):
        import base64

        data = bytes(value)
        return {
            "$type": "bytes",
            "length": len(data),
            "base64": base64.b64encode(data[:4096]).decode(),
            "truncated": len(data) > 4096,
        }
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
            **({"peak_memory_bytes": node.peak_memory} if node.peak_memory is not None else {}),
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
    text = _text(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _text(value: Any) -> str:
    """An output value on one line: JSON, with each array written ``array(float32, shape=(3, 4))``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    header = None if value is None or isinstance(value, (str, int, float, bool)) else array_header(value)
    if header is not None:
        return f"array({header[0]}, shape={header[1]})"
    return json.dumps(to_display(value))
