"""Per-task execution state: which engine answers requests, and which phase library code is in.

Everything here lives in a :class:`contextvars.ContextVar`, so concurrent executions (tasks, or
threads started with a copied context) never see each other's state, and there is no process-wide
"a node is executing" flag.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from nodeisle.strict.rules import Context, Rule, Violation, log_violation, make_violation

if TYPE_CHECKING:
    from nodeisle.requests import Request, Result


class Phase(enum.StrEnum):
    """What the framework is doing with a node right now."""

    CONSTRUCTION = "construction"  # __init__, including the schema probe
    HYDRATION = "hydration"  # setting values: before_value_set / converters / validators / after_value_set
    APROCESS = "aprocess"  # process() / aprocess()


class RequestHandler(Protocol):
    """Something that answers requests: the orchestrator, or a worker's forwarder to it."""

    def handle_sync(self, request: Request) -> Result:
        """Answer from any thread; may block the calling thread (never the engine's loop)."""
        ...

    async def handle_async(self, request: Request) -> Result:
        """Answer on the engine's event loop."""
        ...


@dataclass
class NodeScope:
    """The state of one node's construction, hydration or execution."""

    context: Context
    library: str
    subject: str  # node name, or class name during the probe
    phase: Phase
    handler: RequestHandler | None
    violations: list[Violation] = field(default_factory=list)

    def violate(self, rule: Rule, message: str) -> Violation | None:
        violation = make_violation(rule, self.context, self.subject, self.library, message)
        if violation is not None and violation not in self.violations:
            self.violations.append(violation)
            log_violation(violation)
        return violation


_node_scope: contextvars.ContextVar[NodeScope | None] = contextvars.ContextVar("nodeisle_node_scope", default=None)
_engine: contextvars.ContextVar[RequestHandler | None] = contextvars.ContextVar("nodeisle_engine", default=None)


def current_scope() -> NodeScope | None:
    return _node_scope.get()


def current_engine() -> RequestHandler | None:
    scope = _node_scope.get()
    if scope is not None:
        return scope.handler
    return _engine.get()


@contextlib.contextmanager
def node_scope(scope: NodeScope) -> Iterator[NodeScope]:
    token = _node_scope.set(scope)
    try:
        yield scope
    finally:
        _node_scope.reset(token)


@contextlib.contextmanager
def phase(scope: NodeScope, new_phase: Phase) -> Iterator[None]:
    """Switch ``scope`` to ``new_phase`` for the duration of the block."""
    previous = scope.phase
    scope.phase = new_phase
    try:
        yield
    finally:
        scope.phase = previous


@contextlib.contextmanager
def engine(handler: RequestHandler) -> Iterator[None]:
    """Make ``handler`` answer ``nodeisle.handle_request`` in this context (scripts, the CLI)."""
    token = _engine.set(handler)
    try:
        yield
    finally:
        _engine.reset(token)
