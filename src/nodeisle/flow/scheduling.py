"""Scheduling a flow run, pure: which nodes may start, which are skipped, what the run comes to.

No asyncio and no I/O. A :class:`Schedule` is built from a flow's node names and its connections
(data connections as ``(source node, target node)`` pairs, control connections as
:class:`ControlEdge`), is told what happened (a node started, a node finished with a status and the
control outputs it fired, the run was cancelled) and answers what follows. The runner
(``flow/runner.py``) drives it with asyncio tasks; the workflow loader (``flow/workflow.py``) asks it which nodes the
nodes of a library that failed to load take down with them, and counts the run with
:func:`summarize`.

The rules:

- A node is **ready** when every node directly upstream of it has succeeded (for control
  connections, see below); a node without incoming connections is ready at once. Ready nodes may
  run concurrently (branches do).
- A node is **skipped** once every node directly upstream of it has finished and one of them did
  not succeed; the skip names the first such node in connection order. So a failed node skips
  everything downstream of it, transitively, and other branches go on. A node waits for all of its
  upstream nodes before it is skipped (a node still waiting on a running branch when the run is
  cancelled is cancelled, not skipped), as the runner always did.
- A **control connection** (``a.exec_out -> b.exec_in``) carries no value; ``b`` starts after ``a``
  succeeded *and fired* that control output. A node fires all its control outputs unless it says
  which (a branching node fires one: :meth:`Schedule.finish` is told). A node with incoming control
  connections runs once, when every one of them has settled, if at least one fired: branches that
  meet again at one ``exec_in`` run it once. A node without incoming control connections (control
  parameters or not) starts a control chain: it runs as soon as its data upstream succeeded.
- A node is **not reached** (skipped, but not a failure) when none of its incoming control
  connections fired, or an upstream node it needs was itself not reached: the branch was not taken.
  A failure still wins: if any upstream node failed (or was skipped or cancelled because of a
  failure), the node is skipped as downstream of that failure, along data and control connections
  alike. A run whose nodes all succeeded or were not reached succeeded.
- **Cancelling** marks every node that has not started cancelled, and nothing starts after it; the
  nodes running are stopped by whoever runs them, who reports each one's final status.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


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
class ControlEdge:
    """A control connection: ``target`` may start once ``source`` succeeded and fired ``output``."""

    source: str
    output: str
    target: str


#: A connection as the schedule sees it: a data connection's ``(source, target)``, or a control one.
Edge = tuple[str, str] | ControlEdge


@dataclass(frozen=True)
class Skip:
    """``node`` is skipped because of ``upstream``, directly upstream of it: it did not succeed, or
    (``not_reached``) the branch through it was not taken. ``reason`` says which, for people."""

    node: str
    upstream: str
    not_reached: bool = False
    reason: str = field(default="", compare=False)


class _Edge(enum.Enum):
    """Where one incoming connection of a queued node stands."""

    PENDING = "pending"  # its source has not finished
    OPEN = "open"  # its source succeeded (and, for a control connection, fired this output)
    IDLE = "idle"  # not taken: a control output that did not fire, or a source that was not reached
    BLOCKED = "blocked"  # its source failed, or was skipped or cancelled on a failure

@dataclass(frozen=True)
class RunSummary:
    """What a run comes to: succeeded, failed or cancelled, and its count ("3 of 4 nodes succeeded")."""

    status: NodeStatus
    message: str

    @property
    def succeeded(self) -> bool:
        return self.status is NodeStatus.SUCCEEDED


def summarize(statuses: Iterable[str], *, not_reached: int = 0) -> RunSummary:
    """The summary of a run whose nodes ended with these statuses (one per node), ``not_reached`` of
    the skipped ones because their branch was not taken.

    Cancelled if any node was cancelled, succeeded if every node succeeded or was not reached,
    failed otherwise.
    """
    listed = [NodeStatus(status) for status in statuses]
    succeeded = listed.count(NodeStatus.SUCCEEDED)
    cancelled = listed.count(NodeStatus.CANCELLED)
    if not 0 <= not_reached <= listed.count(NodeStatus.SKIPPED):
        raise ValueError(f"{not_reached} nodes not reached, but {listed.count(NodeStatus.SKIPPED)} were skipped")
    if cancelled:
        status = NodeStatus.CANCELLED
    elif succeeded + not_reached == len(listed):
        status = NodeStatus.SUCCEEDED
    else:
        status = NodeStatus.FAILED
    message = f"{succeeded} of {len(listed)} nodes succeeded"
    if not_reached:
        message += f", {not_reached} not reached"
    if cancelled:
        message += f", {cancelled} cancelled"
    return RunSummary(status, message)


class Schedule:
    """One run of a flow: every node's status, and what may happen next.

    ``nodes`` gives the flow's order (results and :meth:`ready` follow it); ``connections`` are data
    connections as ``(source node, target node)`` pairs and control connections as
    :class:`ControlEdge`, in connection order, repeats counting once. Every node starts queued.
    """

    def __init__(self, nodes: Iterable[str], connections: Iterable[Edge]) -> None:
        self.nodes: tuple[str, ...] = tuple(dict.fromkeys(nodes))
        self._position = {name: i for i, name in enumerate(self.nodes)}
        self._upstream: dict[str, list[str]] = {name: [] for name in self.nodes}
        self._downstream: dict[str, list[str]] = {name: [] for name in self.nodes}
        # Each node's incoming connections in order: (source, None) for data, (source, output) for control.
        self._incoming: dict[str, list[tuple[str, str | None]]] = {name: [] for name in self.nodes}
        for edge in connections:
            source, output, target = (edge.source, edge.output, edge.target) if isinstance(edge, ControlEdge) else (
                edge[0], None, edge[1]
            )
            for end in (source, target):
                if end not in self._position:
                    raise ValueError(f"the connection {source!r} -> {target!r} names {end!r}, not a node of the flow")
            if (source, output) not in self._incoming[target]:
                self._incoming[target].append((source, output))
            if source not in self._upstream[target]:
                self._upstream[target].append(source)
                self._downstream[source].append(target)
        self._status = dict.fromkeys(self.nodes, NodeStatus.QUEUED)
        self._blocked: dict[str, str] = {}
        self._not_reached: set[str] = set()
        self._fired: dict[str, frozenset[str] | None] = {}

    def only(self, names: Iterable[str]) -> Schedule:
        """A fresh schedule of just these nodes (in flow order) and the connections between them.

        ``schedule.only([*schedule.all_upstream(name), name])`` runs a node and its upstream.
        """
        keep = set(names)
        for name in keep:
            self._check(name)
        return Schedule(
            (n for n in self.nodes if n in keep),
            (
                (s, t) if output is None else ControlEdge(s, output, t)
                for t in self.nodes
                if t in keep
                for s, output in self._incoming[t]
                if s in keep
            ),
        )

    # -- the graph --------------------------------------------------------------------------------
    def upstream(self, name: str) -> tuple[str, ...]:
        """The nodes directly upstream of ``name`` (by data or control), in connection order."""
        return tuple(self._upstream[self._check(name)])

    def downstream(self, name: str) -> tuple[str, ...]:
        """The nodes directly downstream of ``name`` (by data or control), in connection order."""
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
        """For a skipped node, the upstream node it was skipped because of; otherwise None."""
        return self._blocked.get(self._check(name))

    def not_reached(self, name: str) -> bool:
        """True for a node skipped because its branch was not taken (not because of a failure)."""
        return self._check(name) in self._not_reached

    def ready(self) -> list[str]:
        """The queued nodes that may start now, in flow order: their data upstream succeeded, and if
        they have incoming control connections, those have settled and one fired."""
        return [name for name in self.nodes if self._is_ready(name)]

    def _is_ready(self, name: str) -> bool:
        return self._status[name] is NodeStatus.QUEUED and self._decide(name) is True

    def _edge(self, source: str, output: str | None) -> _Edge:
        status = self._status[source]
        if not status.finished:
            return _Edge.PENDING
        if status is NodeStatus.SUCCEEDED:
            fired = self._fired.get(source)
            return _Edge.OPEN if output is None or fired is None or output in fired else _Edge.IDLE
        return _Edge.IDLE if source in self._not_reached else _Edge.BLOCKED

    def _decide(self, name: str) -> bool | Skip | None:
        """For a queued node: True if it may start, a Skip if it never will, None while it waits."""
        edges = [(source, output, self._edge(source, output)) for source, output in self._incoming[name]]
        if any(state is _Edge.PENDING for _, _, state in edges):
            return None
        for source, _, state in edges:
            if state is _Edge.BLOCKED:
                return Skip(name, source, reason=f"upstream node {source!r} did not succeed")
        idle_data = next((source for source, output, state in edges if output is None and state is _Edge.IDLE), None)
        if idle_data is not None:
            return Skip(name, idle_data, True, f"upstream node {idle_data!r} was not reached")
        control = [(source, output, state) for source, output, state in edges if output is not None]
        if control and all(state is _Edge.IDLE for _, _, state in control):
            source, output, _ = control[0]
            if source in self._not_reached:
                return Skip(name, source, True, f"upstream node {source!r} was not reached")
            return Skip(name, source, True, f"control output {source}.{output} did not fire")
        return True

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

    def finish(self, name: str, status: NodeStatus, fired: Iterable[str] | None = None) -> list[Skip]:
        """Running ``name`` ended with ``status`` (succeeded, failed or cancelled); returns the nodes this skips.

        ``fired`` names the control outputs a succeeded node fired; None (the default) means all of
        them. The skips are the nodes whose incoming connections have now all settled without
        letting them run, and the nodes downstream of those that this in turn decides, in flow order.
        """
        if status not in (NodeStatus.SUCCEEDED, NodeStatus.FAILED, NodeStatus.CANCELLED):
            raise ValueError(f"a node finishes succeeded, failed or cancelled, not {status}")
        if self.status(name) is not NodeStatus.RUNNING:
            raise ValueError(f"node {name!r} cannot finish: it is {self.status(name)}, not running")
        self._status[name] = status
        self._fired[name] = None if fired is None else frozenset(fired)
        skips: list[Skip] = []
        frontier = [name]
        while frontier:
            for target in self._downstream[frontier.pop()]:
                if self._status[target] is not NodeStatus.QUEUED:
                    continue
                verdict = self._decide(target)
                if isinstance(verdict, Skip):
                    self._status[target] = NodeStatus.SKIPPED
                    self._blocked[target] = verdict.upstream
                    if verdict.not_reached:
                        self._not_reached.add(target)
                    skips.append(verdict)
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
        return summarize(self._status.values(), not_reached=len(self._not_reached))

    # -- helpers ----------------------------------------------------------------------------------
    def _check(self, name: str) -> str:
        if name not in self._position:
            raise KeyError(f"no node named {name!r} in this flow")
        return name

    def _ordered(self, names: Iterable[str]) -> list[str]:
        return sorted(names, key=self._position.__getitem__)
