"""``nodeisle.handle_request`` and ``nodeisle.ahandle_request``: the facade library code calls."""

from __future__ import annotations

from nodeisle.errors import NotConnectedError
from nodeisle.node.scope import Phase, RequestHandler, current_engine, current_scope
from nodeisle.requests import Request, Result
from nodeisle.strict import rules as _strict


def _route(request: Request) -> None:
    """Apply the strict-mode rules for a request made by library code; raise where it cannot go."""
    if not isinstance(request, Request):
        raise TypeError(f"handle_request expects a nodeisle request, got {type(request).__name__}")
    scope = current_scope()
    name = type(request).__name__
    if scope is not None and scope.phase is Phase.CONSTRUCTION:
        scope.violate(_strict.REENTRANT_BUS_IN_INIT, f"{name} issued from __init__.")
        raise NotConnectedError(
            f"{name} was issued from __init__ of {scope.subject!r}: requests are not answered during "
            "construction (the schema probe runs before the worker is connected). "
            + _strict.REENTRANT_BUS_IN_INIT.remediation
        )
    if scope is not None and request.orchestrator_owned and not request.worker_view and request.flow_state:
        scope.violate(
            _strict.WORKER_REACH_INTO_ORCHESTRATOR, f"{name} forwarded to the orchestrator during {scope.phase}."
        )


def _engine_for(request: Request) -> RequestHandler:
    handler = current_engine()
    if handler is None:
        raise NotConnectedError(
            f"{type(request).__name__}: no engine is running this code. nodeisle.handle_request works inside "
            "a node's process / before_value_set / after_value_set run by an engine, or inside "
            "`with orchestrator.activated():` in a script."
        )
    return handler


def handle_request(request: Request) -> Result:
    """Answer ``request`` through the engine running the current node; blocks until answered."""
    _route(request)
    return _engine_for(request).handle_sync(request)


async def ahandle_request(request: Request) -> Result:
    """Answer ``request`` through the engine running the current node."""
    _route(request)
    return await _engine_for(request).handle_async(request)


def framework_request(request: Request) -> Result:
    """A request the framework makes for the current node (a compatibility layer's bookkeeping, such as
    whether a node's failure output is connected): answered like :func:`handle_request`, forwarding and
    the authority rules included, but not counted by strict mode, whose rules are about what library
    code does. Not for library code."""
    if not isinstance(request, Request):
        raise TypeError(f"framework_request expects a nodeisle request, got {type(request).__name__}")
    return _engine_for(request).handle_sync(request)
