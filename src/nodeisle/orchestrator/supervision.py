"""Worker supervision, pure: the crash window and limit, the restart backoff, heartbeats.

No asyncio and no clock: every method that depends on time takes ``now`` (seconds on a monotonic
clock) and returns a decision. ``WorkerHost`` (``hosts.py``) and ``WorkerProcess`` (``workers.py``)
do the I/O: they sleep the delays returned, send the pings, stop and replace workers, and log.

- **Crashes.** Each crash of a library's worker is counted; crashes older than ``crash_window``
  seconds are forgotten. The ``crash_limit``-th crash within the window marks the library failed
  (:class:`LibraryFailed`), with the last crash's reason; until then the fresh worker starts after
  a backoff of ``backoff_base`` seconds, doubling with each crash in the window, at most
  ``backoff_max`` (:class:`Restart`). A worker stopped on purpose (its node overran a deadline, it
  missed a heartbeat) is not a crash: it is replaced at once.
- **Heartbeats.** A ready worker is pinged ``heartbeat_interval`` seconds after it started and then
  that long after each answer; a ping not answered within ``heartbeat_timeout`` seconds means the
  worker is stuck (its event loop blocked), and it is replaced (:class:`Replace`).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from nodeisle.config import defaults


@dataclass(frozen=True)
class Supervision:
    """How workers are watched: heartbeats and the crash-loop policy."""

    heartbeat_interval: float = defaults.HEARTBEAT_INTERVAL  # 0 or less: no heartbeats
    heartbeat_timeout: float = defaults.HEARTBEAT_TIMEOUT
    crash_limit: int = defaults.CRASH_LIMIT
    crash_window: float = defaults.CRASH_WINDOW
    backoff_base: float = 0.1
    backoff_max: float = 5.0

    @property
    def heartbeats(self) -> bool:
        return self.heartbeat_interval > 0

    def backoff(self, crashes: int) -> float:
        """The wait before starting a fresh worker after the ``crashes``-th crash in the window (from 1)."""
        return min(self.backoff_max, self.backoff_base * 2.0 ** (crashes - 1))


@dataclass(frozen=True)
class Restart:
    """Start a fresh worker after ``delay`` seconds; ``crashes`` crashes are in the window now."""

    delay: float
    crashes: int


@dataclass(frozen=True)
class LibraryFailed:
    """The library's worker crashed too often: stop restarting it; ``failure`` says why."""

    failure: str


class CrashLoop:
    """The crashes of one library's workers, and whether to restart it or give up."""

    def __init__(self, policy: Supervision) -> None:
        self.policy = policy
        self.restarts = 0  # fresh workers started after the first
        self.failure: str | None = None  # why the library failed, once it has
        self._crashes: collections.deque[float] = collections.deque()  # when, oldest first

    def crashed(self, now: float, reason: str) -> Restart | LibraryFailed:
        """A worker crashed (``reason``: its exit, with what the orchestrator knows of it) at ``now``."""
        self._crashes.append(now)
        self._forget_old(now)
        crashes = len(self._crashes)
        if crashes >= self.policy.crash_limit:
            self.failure = (
                f"its worker crashed {crashes} times within {self.policy.crash_window:g} s "
                f"(last: {reason}); fix the library, then reload it (ReloadLibraryRequest)"
            )
            return LibraryFailed(self.failure)
        return Restart(self.policy.backoff(crashes), crashes)

    def restarted(self) -> int:
        """A fresh worker is being started in place of one that ended; returns which restart this is."""
        self.restarts += 1
        return self.restarts

    def crashes(self, now: float) -> int:
        """How many crashes are within the window at ``now``."""
        self._forget_old(now)
        return len(self._crashes)

    def _forget_old(self, now: float) -> None:
        while self._crashes and now - self._crashes[0] > self.policy.crash_window:
            self._crashes.popleft()


@dataclass(frozen=True)
class Replace:
    """Stop the worker at once and let a fresh one serve: ``reason`` is what its executions report."""

    reason: str


class Heartbeat:
    """When a worker's next ping is due, and what an unanswered one means.

    Drive it with :meth:`wait` (sleep that long), :meth:`ping` (send a ping, wait that long for
    its answer), then :meth:`answered` or :meth:`missed`.
    """

    def __init__(self, interval: float, timeout: float, now: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self.due = now + interval  # when the next ping goes out
        self.sent: float | None = None  # when the ping awaiting its answer went out

    def wait(self, now: float) -> float:
        """Seconds from ``now`` until the next ping is due (0 if it is)."""
        return max(0.0, self.due - now)

    def ping(self, now: float) -> float:
        """A ping goes out at ``now``; returns how many seconds its answer may take."""
        if self.sent is not None:
            raise ValueError("a ping is already awaiting its answer")
        self.sent = now
        return self.timeout

    def answered(self, now: float) -> None:
        """The ping was answered at ``now``: the next one is due an interval later."""
        self.sent = None
        self.due = now + self.interval

    def missed(self) -> Replace:
        """The ping's answer did not come within the time :meth:`ping` gave: the worker is stuck."""
        self.sent = None
        return Replace(f"stopped answering heartbeats (no answer within {self.timeout:g} s)")
