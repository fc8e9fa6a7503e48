"""The editor's WebSocket messages as JSON: requests by class name and fields, results and events back.

The page speaks the engine's own request model: ``{"id": 7, "request": "CreateNodeRequest", "fields":
{...}}`` builds that class from ``nodeisle.requests`` (the classes the CLI and node code send) and is
answered ``{"id": 7, "result": "CreateNodeResult", "fields": {...}}``. Events are pushed as
``{"event": "NodeStatusChanged", "fields": {...}}``. Values are shown the way ``nodeisle run --json``
shows them (:func:`nodeisle.cli.output.to_display`): arrays as dtype and shape, bytes as base64.
No web framework here: this module is plain data, tested on its own.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from typing import Any

from nodeisle.cli.output import to_display
from nodeisle.orchestrator.events import Event
from nodeisle.requests import REQUEST_TYPES, Request, Result

#: The requests the page may send, by class name. The broadcasts the orchestrator sends to workers
#: (ReloadConfigRequest, RefreshSecretsRequest) are not for a user to send.
PAGE_REQUESTS: dict[str, type[Request]] = {cls.__name__: cls for cls in REQUEST_TYPES if cls.orchestrator_owned}


class BadMessage(ValueError):
    """A message from the page that is not one the editor answers; the text says what to send instead."""


def to_json(value: Any) -> Any:
    """A request, result, event or value as JSON-able data: dataclasses as objects of their fields."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    if isinstance(value, enum.Enum):
        return str(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return to_display(value)


def decode_request(name: Any, fields: Any) -> Request:
    """The request class ``name`` built from ``fields``; a BadMessage naming the class and the field otherwise."""
    if not isinstance(name, str) or name not in PAGE_REQUESTS:
        raise BadMessage(f"unknown request {name!r}; the page may send: {', '.join(sorted(PAGE_REQUESTS))}")
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise BadMessage(f"{name}: 'fields' must be an object of field name to value")
    cls = PAGE_REQUESTS[name]
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise BadMessage(f"{name} has no field {unknown[0]!r}; its fields are: {', '.join(sorted(known)) or '(none)'}")
    try:
        return cls(**fields)
    except (TypeError, ValueError) as exc:
        raise BadMessage(f"{name}: {exc}") from None


def result_message(message_id: Any, result: Result) -> dict[str, Any]:
    return {"id": message_id, "result": type(result).__name__, "fields": to_json(result)}


def event_message(event: Event) -> dict[str, Any]:
    return {"event": type(event).__name__, "fields": to_json(event)}


def dumps(message: dict[str, Any]) -> str:
    """Compact JSON; anything :func:`to_json` left that JSON cannot hold is written as its text."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False, default=str)
