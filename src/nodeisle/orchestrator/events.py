"""What the engine tells its observers, as typed events, and the small explicit way to subscribe.

The orchestrator emits an event whenever something a user watches changes: a library's state, a
step of an env build, a worker's state, a node's status in a run, a log line. An observer (the
editor's server, a test, a script) calls :meth:`EventBus.subscribe` with a callable and gets each
event as it happens, synchronously, on the thread that emitted it (log lines may come from a
thread running a plain ``process()``); the callable returned unsubscribes. The engine knows nothing
of who listens: no web import here, and a failing subscriber is logged, never the engine's failure.

Every event has ``at``, the engine's ``time.time()`` when it was emitted, so an observer can
measure how late it shows an event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nodeisle.requests import LibraryInfo, RemoteError

_LOG = logging.getLogger("nodeisle.events")


@dataclass(frozen=True, kw_only=True)
class Event:
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, kw_only=True)
class LibraryChanged(Event):
    """A library was registered, reloaded, moved between Shared and Isolated, or removed (``removed``)."""

    library: LibraryInfo
    removed: bool = False


@dataclass(frozen=True, kw_only=True)
class EnvBuildProgress(Event):
    """One step of building (or finding) an Isolated library's virtualenv."""

    library: str
    step: str
    elapsed_s: float
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class WorkerStateChanged(Event):
    """A worker's state: ``starting``, ``ready``, ``crashed`` or ``stopped``."""

    library: str
    worker_id: str
    state: str


@dataclass(frozen=True, kw_only=True)
class NodeStatusChanged(Event):
    """A node's status in a run of ``flow``: queued, running, then succeeded, failed, skipped or cancelled.

    A finished node carries what its result carries: outputs, the error (exception type, message,
    traceback) and the strict-mode violations (rule id, severity, message, remediation).
    """

    flow: str
    node: str
    status: str
    outputs: dict[str, Any] = field(default_factory=dict)
    error: RemoteError | None = None
    violations: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    flow: str
    status: str  # succeeded | failed | cancelled
    message: str


@dataclass(frozen=True, kw_only=True)
class LogLine(Event):
    """A line the engine logged; a worker's own output keeps its ``Worker-<id> [library]`` prefix."""

    logger: str
    level: str
    text: str


Subscriber = Callable[[Event], None]


class EventBus:
    """Subscribers, and :meth:`emit` to each of them in the order they subscribed."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()  # log lines are emitted from other threads too

    def __repr__(self) -> str:
        return f"EventBus({len(self._subscribers)} subscribers)"

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every event from now on; call what this returns to stop."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def emit(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:  # an observer's bug must not fail a run; not logged as a LogLine (no loop)
                if not isinstance(event, LogLine):
                    _LOG.exception("an event subscriber failed on %s", type(event).__name__)


class LogForwarder(logging.Handler):
    """A logging handler that emits each record as a :class:`LogLine` on ``bus``.

    Attach it to the ``nodeisle`` logger (:meth:`attach`) to see what the engine and its workers log,
    node code's prints included (workers relay their output as ``nodeisle.worker`` lines).
    """

    def __init__(self, bus: EventBus, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bus = bus
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == _LOG.name:  # a failing subscriber: never fed back to the subscribers
            return
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.bus.emit(LogLine(logger=record.name, level=record.levelname, text=text, at=record.created))

    def attach(self, logger: logging.Logger | None = None) -> Callable[[], None]:
        """Add this handler to ``logger`` (default: ``nodeisle``); the callable returned removes it."""
        target = logger or logging.getLogger("nodeisle")
        target.addHandler(self)
        return lambda: target.removeHandler(self)
