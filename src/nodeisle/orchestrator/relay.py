"""How a worker's output and exit read in the orchestrator's terminal: each stderr line's level and
text (control characters escaped, so no line can hide the ``Worker-<id> [library]`` prefix), and an
exit status in words. Pure: no process, no loop."""

from __future__ import annotations

import logging
import re
import signal

_LEVELS: dict[str, int] = {n: logging.getLevelName(n) for n in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")}
_RECORD_LINE = re.compile(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")
_CONTINUATION = re.compile(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL)\| ")


# Control characters (CR, ESC, ...) shown as escapes: a worker's line cannot rewrite the terminal line
# it is printed on, so nothing can hide the Worker-<id> [library] prefix the orchestrator puts first.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match[0]):02x}"


def relayed_level(line: str) -> tuple[int, str]:
    """The level of a worker's stderr line and the text to show: a log record keeps its level.

    The worker writes records as ``LEVEL logger: message``, and each further line of a multi-line
    record (a traceback) as ``LEVEL| line``, shown without the marker. Other lines are INFO.
    """
    match = _CONTINUATION.match(line)
    if match:
        return _LEVELS[match[1]], line[match.end() :]
    match = _RECORD_LINE.match(line)
    return (_LEVELS[match[1]], line) if match else (logging.INFO, line)


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (killed: out of memory, or by another process)" if -returncode == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exited with code {returncode}"


def printable(line: str) -> str:
    """``line`` with its control characters shown as escapes."""
    return _CONTROL.sub(_escape, line)
