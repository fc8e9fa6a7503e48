"""What every node host provides (the engine and the graph requests see hosts only through this):
the :class:`NodeHost` protocol, the :class:`LoadReport` a load answers, and the :func:`invocation` of a node.

``orchestrator.hosts`` has the two hosts: ``LocalHost`` (Shared) and ``WorkerHost`` (Isolated).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from nodeisle.flow.graph import NodeRecord
from nodeisle.node import audit as _audit
from nodeisle.node import hosting as _hosting
from nodeisle.node.connections import ConnectionChange
from nodeisle.node.spec import ParameterSpec
from nodeisle.orchestrator.deadline import Deadline
from nodeisle.strict.rules import Context, Violation


@dataclass
class LoadReport:
    schemas: dict[str, _hosting.NodeTypeSchema]
    dropped: list[_hosting.DroppedClass]
    violations: list[Violation]
    io_events: list[_audit.IOEvent] = field(default_factory=list)  # I/O in __init__, when the probe audited it
    python: str | None = None  # the interpreter the library's code runs on, and why that one


def invocation(record: NodeRecord, inputs: Mapping[str, Any] | None = None) -> _hosting.NodeInvocation:
    """What to run for ``record``: its class, stored values and parameter list, and this run's inputs."""
    return _hosting.NodeInvocation(
        record.class_name, record.name, record.metadata, tuple(record.specs), dict(record.values), dict(inputs or {})
    )


class NodeHost(Protocol):
    context: Context
    python_setting: str | None  # the library's `nodeisle libraries python` choice (applies Isolated)

    async def load(self) -> LoadReport: ...

    async def execute(
        self, record: NodeRecord, inputs: Mapping[str, Any], deadline: Deadline | None = None
    ) -> _hosting.ExecutionOutcome:
        """Run ``record`` with its stored values, then ``inputs`` set on it as a user sets a value."""
        ...

    async def apply_value(
        self, record: NodeRecord, parameter: str, value: Any, deadline: Deadline | None = None
    ) -> tuple[list[ParameterSpec], list[Violation]]: ...

    async def apply_connection(
        self, record: NodeRecord, change: ConnectionChange, deadline: Deadline | None = None
    ) -> tuple[list[ParameterSpec], list[Violation]]:
        """Run the target node's connection hook for ``change``; answer the parameter list it left."""
        ...

    async def close(self) -> None: ...

    def describe(self) -> tuple[str | None, str | None]:
        """(worker id, worker state), or (None, None) in process."""
        ...

    def failure(self) -> str | None:
        """Why the library stopped working after it loaded (for example a crash loop), if it did."""
        ...
