"""Scheduling a flow run, pure: which nodes may start, which are skipped, what the run comes to.

No asyncio and no I/O. A :class:`Schedule` is built from a flow's node names and its connections
(as ``(source node, target node)`` pairs), is told what happened (a node started, a node finished
with a status, the run was cancelled) and answers what follows. The runner (``flow/runner.py``)
drives it with asyncio tasks; the workflow loader (``flow/workflow.py``) asks it which nodes the
nodes of a library that failed to load take down with them, and counts the run with
:func:`summarize`.

The rules:

- A node is **ready** when every node directly upstream of it has succeeded; a node without
  incoming connections is ready at once. Ready nodes may run concurrently (branches do).
- A node is **skipped** once every node directly upstream of it has finished and one of them did
  not succeed; the skip names the first such node in connection order. So a failed node skips
  everything downstream of it, transitively, and other branches go on. A node waits for all of its
  upstream nodes before it is skipped (a node still waiting on a running branch when the run is
  cancelled is cancelled, not skipped), as the runner always did.
- **Cancelling** marks every node that has not started cancelled, and nothing starts after it; the
  nodes running are stopped by whoever runs them, who reports each one's final status.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class NodeStatus(enum.StrEnum):
    """A node's status in a run; the values are what results and the CLI show."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (NodeStatus.QUEUED, NodeStatus.RUNNING)


@dataclass(frozen=True)
class Skip:
    """``node`` is skipped because ``upstream``, directly upstream of it, did not succeed."""

    node: str
    upstream: str


@dataclass(frozen=True)
class RunSummary:
    """What a run comes to: succeeded, failed or cancelled, and its count ("3 of 4 nodes succeeded")."""

    status: NodeStatus
    message: str

    @property
    def succeeded(self) -> bool:
        return self.status is NodeStatus.SUCCEEDED


def summarize(statuses: Iterable[str]) -> RunSummary:
    """The summary of a run whose nodes ended with these statuses (one per node).

    Cancelled if any node was cancelled, succeeded if every node succeeded, failed otherwise.
    """
    listed = [NodeStatus(status) for status in statuses]
    succeeded = listed.count(NodeStatus.SUCCEEDED)
    cancelled = listed.count(NodeStatus.CANCELLED)
    if cancelled:
        status = NodeStatus.CANCELLED
    elif succeeded == len(listed):
        status = NodeStatus.SUCCEEDED
    else:
        status = NodeStatus.FAILED
    message = f"{succeeded} of {len(listed)} nodes succeeded"
    if cancelled:
        message += f", {cancelled} cancelled"
    return RunSummary(status, message)


class Schedule:
    """One run of a flow: every node's status, and what may happen next.

    ``nodes`` gives the flow's order (results and :meth:`ready` follow it); ``connections`` are
    ``(source node, target node)`` pairs, repeated pairs counting once. Every node starts queued.
    """

    def __init__(self, nodes: Iterable[str], connections: Iterable[tuple[str, str]]) -> None:
        self.nodes: tuple[str, ...] = tuple(dict.fromkeys(nodes))
        self._position = {name: i for i, name in enumerate(self.nodes)}
        self._upstream: dict[str, list[str]] = {name: [] for name in self.nodes}
        self._downstream: dict[str, list[str]] = {name: [] for name in self.nodes}
        for source, target in connections:
            for end in (source, target):
                if end not in self._position:
                    raise ValueError(f"the connection {source!r} -> {target!r} names {end!r}, not a node of the flow")
            if source not in self._upstream[target]:
                self._upstream[target].append(source)
                self._downstream[source].append(target)
        self._status = dict.fromkeys(self.nodes, NodeStatus.QUEUED)
        self._blocked: dict[str, str] = {}

    def only(self, names: Iterable[str]) -> Schedule:
        """A fresh schedule of just these nodes (in flow order) and the connections between them.

        ``schedule.only([*schedule.all_upstream(name), name])`` runs a node and its upstream.
        """
        keep = set(names)
        for name in keep:
            self._check(name)
        return Schedule(
            (n for n in self.nodes if n in keep),
            ((s, t) for t in self.nodes if t in keep for s in self._upstream[t] if s in keep),
        )

    # -- the graph --------------------------------------------------------------------------------
    def upstream(self, name: str) -> tuple[str, ...]:
        """The nodes directly upstream of ``name``, in connection order."""
        return tuple(self._upstream[self._check(name)])

    def downstream(self, name: str) -> tuple[str, ...]:
        """The nodes directly downstream of ``name``, in connection order."""
        return tuple(self._downstream[self._check(name)])

    def all_upstream(self, name: str) -> list[str]:
        """Every node ``name`` depends on, transitively, in flow order (``name`` not included)."""
        return self._reach([name], self._upstream)

    def all_downstream(self, roots: Iterable[str]) -> list[str]:
        """Every node downstream of ``roots``, transitively, in flow order; the roots themselves not included."""
        return self._reach(roots, self._downstream)

    def _reach(self, roots: Iterable[str], edges: Mapping[str, list[str]]) -> list[str]:
        start = {self._check(name) for name in roots}
        found: set[str] = set()
        frontier = list(start)
        while frontier:
            for nxt in edges[frontier.pop()]:
                if nxt not in found and nxt not in start:
                    found.add(nxt)
                    frontier.append(nxt)
        return self._ordered(found)

    # -- the run ----------------------------------------------------------------------------------
    def status(self, name: str) -> NodeStatus:
        return self._status[self._check(name)]

    @property
    def statuses(self) -> dict[str, NodeStatus]:
        """Every node's status, in flow order."""
        return dict(self._status)

    def blocked_by(self, name: str) -> str | None:
        """For a skipped node, the upstream node that did not succeed; otherwise None."""
        return self._blocked.get(self._check(name))

    def ready(self) -> list[str]:
        """The queued nodes whose upstream nodes have all succeeded, in flow order: they may start now."""
        return [name for name in self.nodes if self._is_ready(name)]

    def _is_ready(self, name: str) -> bool:
        return self._status[name] is NodeStatus.QUEUED and all(
            self._status[up] is NodeStatus.SUCCEEDED for up in self._upstream[name]
        )

    @property
    def running(self) -> list[str]:
        return [name for name, status in self._status.items() if status is NodeStatus.RUNNING]

    @property
    def finished(self) -> bool:
        """True when every node has finished (succeeded, failed, skipped or cancelled)."""
        return all(status.finished for status in self._status.values())

    def start(self, name: str) -> None:
        """``name`` starts running; it must be ready."""
        if not self._is_ready(self._check(name)):
            raise ValueError(f"node {name!r} is not ready to start (it is {self.status(name)})")
        self._status[name] = NodeStatus.RUNNING

    def finish(self, name: str, status: NodeStatus) -> list[Skip]:
        """Running ``name`` ended with ``status`` (succeeded, failed or cancelled); returns the nodes this skips.

        The skips are the nodes whose upstream nodes have now all finished, one of them without
        success, and the nodes downstream of those that this in turn decides, in flow order.
        """
        if status not in (NodeStatus.SUCCEEDED, NodeStatus.FAILED, NodeStatus.CANCELLED):
            raise ValueError(f"a node finishes succeeded, failed or cancelled, not {status}")
        if self.status(name) is not NodeStatus.RUNNING:
            raise ValueError(f"node {name!r} cannot finish: it is {self.status(name)}, not running")
        self._status[name] = status
        skips: list[Skip] = []
        frontier = [name]
        while frontier:
            for target in self._downstream[frontier.pop()]:
                if self._status[target] is not NodeStatus.QUEUED:
                    continue
                upstream = self._upstream[target]
                if not all(self._status[up].finished for up in upstream):
                    continue  # still waiting on another branch
                blocker = next((up for up in upstream if self._status[up] is not NodeStatus.SUCCEEDED), None)
                if blocker is not None:
                    self._status[target] = NodeStatus.SKIPPED
                    self._blocked[target] = blocker
                    skips.append(Skip(target, blocker))
                    frontier.append(target)
        return sorted(skips, key=lambda skip: self._position[skip.node])

    def cancel(self) -> list[str]:
        """Cancel the run: every queued node is cancelled (returned, in flow order) and nothing starts.

        Nodes already running are left to their runner, who stops them and reports each with
        :meth:`finish`.
        """
        cancelled = [name for name, status in self._status.items() if status is NodeStatus.QUEUED]
        for name in cancelled:
            self._status[name] = NodeStatus.CANCELLED
        return cancelled

    def summary(self) -> RunSummary:
        return summarize(self._status.values())

    # -- helpers ----------------------------------------------------------------------------------
    def _check(self, name: str) -> str:
        if name not in self._position:
            raise KeyError(f"no node named {name!r} in this flow")
        return name

    def _ordered(self, names: Iterable[str]) -> list[str]:
        return sorted(names, key=self._position.__getitem__)
