"""Griptape's ``GriptapeNodes`` facade: ``handle_request`` / ``ahandle_request`` through nodeisle's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.node_library import _loader
from griptape_nodes.retained_mode.events.base_events import RequestPayload, ResultPayload

__all__ = ["GriptapeNodes"]


_LIBRARY_MANAGER = _loader.LibraryManager()


class _Facade(type):
    """A member of Griptape's facade this layer lacks (``GriptapeNodes.FlowManager()``, ...) is named."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise _compat.CompatAttributeError(
            f"GriptapeNodes.{name}: nodeisle's griptape_nodes compatibility layer provides GriptapeNodes."
            "handle_request and GriptapeNodes.ahandle_request only, not this member of the Griptape engine",
            module=__name__,
            missing=f"GriptapeNodes.{name}",
        )


def _payload(request: object) -> RequestPayload:
    if not isinstance(request, RequestPayload):
        raise TypeError(
            f"GriptapeNodes.handle_request expects a griptape_nodes request payload, got {type(request).__name__}; "
            "a nodeisle request goes to nodeisle.handle_request"
        )
    return request


class GriptapeNodes(metaclass=_Facade):
    """The engine facade node code calls; nodeisle's engine answers (strict mode and forwarding apply)."""

    @staticmethod
    def handle_request(request: RequestPayload) -> ResultPayload:
        payload = _payload(request)
        answered = _loader.handle(payload)  # a request type a library registered a handler for
        if answered is not None:
            return answered
        return payload.to_result(nodeisle.handle_request(payload.to_nodeisle()))

    @staticmethod
    async def ahandle_request(request: RequestPayload) -> ResultPayload:
        payload = _payload(request)
        answered = await _loader.ahandle(payload)
        if answered is not None:
            return answered
        return payload.to_result(await nodeisle.ahandle_request(payload.to_nodeisle()))

    @staticmethod
    def LibraryManager() -> _loader.LibraryManager:
        return _LIBRARY_MANAGER


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
