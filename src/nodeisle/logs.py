"""Logging helpers shared by both roles. Standard library only: this module runs inside workers.

:class:`FloodGuard` keeps a hostile or broken peer from flooding the log: the same WARNING (or
worse) is written at most ``burst`` times per ``window`` seconds; the rest are counted, and the next
one written after the window says how many were suppressed.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

Key = Callable[[logging.LogRecord], object]


def by_template(record: logging.LogRecord) -> object:
    """Records of the same call site and format string are alike, whatever their arguments."""
    return (record.name, record.pathname, record.lineno, str(record.msg))


def by_text(record: logging.LogRecord) -> object:
    """Records are alike only when their text is identical (relayed lines share one format string).

    The key is a digest of the text, so the guard holds a few bytes per kind, not the lines themselves."""
    return (record.name, record.levelno, hashlib.blake2b(record.getMessage().encode(), digest_size=16).digest())


def by_template_and_subject(record: logging.LogRecord) -> object:
    """Alike: the same call site and format string about the same subject (the first argument: a peer,
    a worker), so one connection's flood does not hide another's first warning."""
    subject = str(record.args[0]) if isinstance(record.args, tuple) and record.args else ""
    return (record.name, record.pathname, record.lineno, str(record.msg), subject[:200])


class FloodGuard(logging.Filter):
    """A logger filter: at most ``burst`` alike WARNING+ records per ``window`` seconds pass."""

    def __init__(
        self,
        burst: int = 10,
        window: float = 60.0,
        key: Key = by_template,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self._key = key
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[object, list[float | int]] = {}  # key -> [window start, written, suppressed]

    def reset(self) -> None:
        """Forget what was seen (tests start each case with a fresh guard)."""
        with self._lock:
            self._seen.clear()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = self._key(record)
        now = self._clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is None or now - entry[0] >= self.window:
                suppressed = int(entry[2]) if entry is not None else 0
                self._seen[key] = [now, 1, 0]
                if len(self._seen) > 4096:  # forget the oldest kinds: the guard must not grow without bound
                    del self._seen[next(iter(self._seen))]
                if suppressed:
                    record.msg = f"{record.msg} [{suppressed} more like this suppressed in the last {self.window:g} s]"
                return True
            if entry[1] < self.burst:
                entry[1] += 1
                return True
            entry[2] += 1
            return False


def guard(logger: logging.Logger, key: Key = by_template) -> logging.Logger:
    """Install one :class:`FloodGuard` on ``logger`` (idempotent) and return the logger."""
    if not any(isinstance(f, FloodGuard) for f in logger.filters):
        logger.addFilter(FloodGuard(key=key))
    return logger


def reset_guards() -> None:
    """Reset every :class:`FloodGuard` installed on a logger of this process."""
    for logger in list(logging.Logger.manager.loggerDict.values()):
        for found in getattr(logger, "filters", ()):
            if isinstance(found, FloodGuard):
                found.reset()
