"""The value types requests and results carry: connections, errors as data, a node's run result.

Kept apart from ``nodeisle.requests`` (which re-exports them) so each module stays small; stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ConnectionInfo", "NodeRunResult", "RemoteError"]


@dataclass(kw_only=True, frozen=True)
class ConnectionInfo:
    source_node_name: str
    source_parameter_name: str
    target_node_name: str
    target_parameter_name: str

    def __str__(self) -> str:
        return (
            f"{self.source_node_name}.{self.source_parameter_name} -> "
            f"{self.target_node_name}.{self.target_parameter_name}"
        )


@dataclass(kw_only=True, frozen=True)
class RemoteError:
    """An exception raised by library code, as data: it may come from another process."""

    type: str
    message: str
    traceback: str = ""

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


@dataclass(kw_only=True)
class NodeRunResult:
    status: str  # succeeded | failed | skipped | cancelled
    outputs: dict[str, Any] = field(default_factory=dict)
    error: RemoteError | None = None
    violations: list[dict[str, str]] = field(default_factory=list)
    peak_memory: int | None = None  # bytes: its worker's peak during the run, when a memory limit measures it
