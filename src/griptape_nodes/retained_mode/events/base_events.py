"""Griptape's payload bases: ``RequestPayload``, ``ResultPayload`` and its success and failure kinds.

A request class here names the nodeisle request it becomes (:meth:`RequestPayload.to_nodeisle`) and
how nodeisle's answer becomes its Griptape result (:meth:`RequestPayload.to_result`), so
``GriptapeNodes.handle_request`` goes through ``nodeisle.handle_request`` unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from nodeisle.node.scope import Phase, current_scope
from nodeisle.requests import Request, Result

__all__ = [
    "RequestPayload",
    "ResultPayload",
    "ResultPayloadFailure",
    "ResultPayloadSuccess",
    "WorkflowAlteredMixin",
    "WorkflowNotAlteredMixin",
]


@dataclass(kw_only=True)
class ResultPayload:
    """An answer: ``succeeded()`` / ``failed()`` and ``result_details`` (the engine's message)."""

    result_details: str = ""
    altered_workflow_state: bool = False  # Griptape's flag; nodeisle reads nothing from it

    def succeeded(self) -> bool:
        raise NotImplementedError

    def failed(self) -> bool:
        return not self.succeeded()


@dataclass(kw_only=True)
class ResultPayloadSuccess(ResultPayload):
    def succeeded(self) -> bool:
        return True


@dataclass(kw_only=True)
class ResultPayloadFailure(ResultPayload):
    exception: Exception | None = None

    def succeeded(self) -> bool:
        return False


@dataclass
class WorkflowAlteredMixin:
    """Griptape's marker for a result whose request changed the workflow (libraries define their own
    results with it, as OpenColorIO's request handlers do)."""

    altered_workflow_state: bool = field(default=True, init=False)


@dataclass
class WorkflowNotAlteredMixin:
    """Griptape's marker for a result whose request left the workflow as it was."""

    altered_workflow_state: bool = field(default=False, init=False)


class RequestPayload:
    """A request node code sends; subclasses are dataclasses with Griptape's field names."""

    def to_nodeisle(self) -> Request:
        raise NotImplementedError(
            f"no handler for {type(self).__name__} in this process: nodeisle's compatibility layer maps Griptape's "
            "own requests onto nodeisle's, and a library's AdvancedNodeLibrary.get_request_handlers answers the "
            "requests it defines for code in the same process only (the orchestrator for Shared libraries, the "
            "library's own worker for an Isolated one)"
        )

    def to_result(self, result: Result) -> ResultPayload:
        raise NotImplementedError(f"{type(self).__name__} has no nodeisle mapping")


def target_node(request: Any) -> str:
    """The node a parameter request is about: ``node_name`` (or Griptape's newer ``node_id``), else, as
    Griptape's "current context", the node whose code is running."""
    named = getattr(request, "node_name", None) or getattr(request, "node_id", None)
    if named:
        return str(named)
    scope = current_scope()
    if scope is None or scope.phase is Phase.CONSTRUCTION:
        raise ValueError(
            f"{type(request).__name__} names no node (node_name=None), and no node's process or value hook is "
            "running to stand for the current one; pass node_name=self.name"
        )
    return scope.subject


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
