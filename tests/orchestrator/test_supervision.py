"""Worker supervision driven by a fake clock: crash window and limit, backoff, heartbeats. No processes, no sleeping."""

from __future__ import annotations

import pytest

from nodeisle.orchestrator.supervision import CrashLoop, Heartbeat, LibraryFailed, Replace, Restart, Supervision


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def test_the_backoff_starts_at_a_tenth_of_a_second_and_doubles_up_to_five() -> None:
    policy = Supervision()
    assert [policy.backoff(n) for n in range(1, 9)] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert Supervision(backoff_base=1.0, backoff_max=3.0).backoff(3) == 3.0


def test_crashes_back_off_longer_each_time_then_the_library_fails_with_the_last_reason() -> None:
    clock = Clock()
    loop = CrashLoop(Supervision(crash_limit=3, crash_window=60))
    assert loop.crashed(clock.now, "exited with code 9") == Restart(delay=0.1, crashes=1)
    assert loop.restarted() == 1
    assert loop.crashed(clock.advance(1), "exited with code 9") == Restart(delay=0.2, crashes=2)
    assert loop.restarted() == 2
    assert loop.failure is None
    failed = loop.crashed(clock.advance(1), "killed by SIGKILL")
    assert failed == LibraryFailed(
        "its worker crashed 3 times within 60 s (last: killed by SIGKILL); fix the library, then reload it "
        "(ReloadLibraryRequest)"
    )
    assert loop.failure == failed.failure and loop.restarts == 2


def test_crashes_older_than_the_window_are_forgotten() -> None:
    clock = Clock()
    loop = CrashLoop(Supervision(crash_limit=3, crash_window=10))
    loop.crashed(clock.now, "a")
    loop.crashed(clock.advance(5), "b")
    assert loop.crashes(clock.now) == 2
    assert loop.crashes(clock.advance(5)) == 2  # exactly the window: still counted
    clock.advance(0.5)  # the first crash is now 10.5 s old
    assert loop.crashed(clock.now, "c") == Restart(delay=0.2, crashes=2)  # and the backoff follows the count
    assert loop.failure is None
    assert loop.crashes(clock.advance(60)) == 0
    assert loop.crashed(clock.now, "d") == Restart(delay=0.1, crashes=1)


def test_a_crash_limit_of_one_fails_the_library_at_its_first_crash() -> None:
    loop = CrashLoop(Supervision(crash_limit=1, crash_window=5))
    decision = loop.crashed(0.0, "exited with code 1")
    assert isinstance(decision, LibraryFailed) and "crashed 1 times within 5 s" in decision.failure


def test_a_heartbeat_is_due_an_interval_after_the_start_and_after_each_answer() -> None:
    clock = Clock()
    beat = Heartbeat(interval=5, timeout=15, now=clock.now)
    assert beat.wait(clock.now) == 5
    assert beat.wait(clock.advance(2)) == 3
    assert beat.wait(clock.advance(4)) == 0  # overdue: at once
    assert beat.ping(clock.now) == 15  # how long its answer may take
    with pytest.raises(ValueError, match="already awaiting"):
        beat.ping(clock.now)
    beat.answered(clock.advance(1))
    assert beat.sent is None and beat.wait(clock.now) == 5
    assert beat.wait(clock.advance(5)) == 0


def test_a_missed_heartbeat_replaces_the_worker_with_the_reason_its_executions_report() -> None:
    clock = Clock()
    beat = Heartbeat(interval=0.2, timeout=0.6, now=clock.now)
    clock.advance(beat.wait(clock.now))
    beat.ping(clock.now)
    assert beat.missed() == Replace("stopped answering heartbeats (no answer within 0.6 s)")
    assert beat.sent is None


def test_heartbeats_are_off_with_a_zero_interval() -> None:
    assert Supervision().heartbeats and not Supervision(heartbeat_interval=0).heartbeats
