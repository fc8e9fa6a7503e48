"""The flood guard: alike WARNING lines are written a few times per window, then counted."""

from __future__ import annotations

import logging

from nodeisle.logs import FloodGuard, by_text


def record(msg: str, *args: object, level: int = logging.WARNING, line: int = 1) -> logging.LogRecord:
    return logging.LogRecord("nodeisle.bus", level, "x.py", line, msg, args, None)


def test_alike_warnings_pass_a_burst_per_window_and_the_next_window_says_how_many_were_suppressed() -> None:
    now = [0.0]
    guard = FloodGuard(burst=3, window=60, clock=lambda: now[0])
    passed = [guard.filter(record("dropped a bad frame: %s", i)) for i in range(10)]
    assert passed == [True] * 3 + [False] * 7
    assert guard.filter(record("another message")) is True  # other kinds are not held back
    assert guard.filter(record("dropped a bad frame: %s", 1, level=logging.INFO)) is True  # nor lower levels
    now[0] = 61.0
    later = record("dropped a bad frame: %s", 99)
    assert guard.filter(later) is True
    assert later.getMessage() == "dropped a bad frame: 99 [7 more like this suppressed in the last 60 s]"


def test_keyed_by_text_only_identical_lines_are_alike() -> None:
    guard = FloodGuard(burst=1, window=60, key=by_text, clock=lambda: 0.0)
    assert guard.filter(record("%s", "line one")) and guard.filter(record("%s", "line two"))
    assert not guard.filter(record("%s", "line one"))
