"""How long one execution (or one hook) may take: :class:`Deadline`, and the check of a node's
``timeout`` (:func:`timeout_problem`). Pure: no asyncio, no I/O."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from nodeisle.requests import RemoteError

__all__ = ["Deadline", "timeout_problem"]


@dataclass(frozen=True)
class Deadline:
    """The time one execution may take, and where that limit was set."""

    seconds: float
    source: str  # e.g. "the node's timeout" or "the default execution_timeout setting"

    def error(self, node: str, note: str) -> RemoteError:
        return RemoteError(
            type="DeadlineExceeded",
            message=f"node {node!r} ran past its deadline of {self.seconds:g} s (set by {self.source}); {note}",
        )


def timeout_problem(value: object) -> str | None:
    """Why ``value`` cannot be a node's ``timeout`` (a positive, finite number of seconds), or None if it can.

    NaN would disable the deadline without a word (every comparison with it is false), and infinity
    or a number too large for a float would too, so they are refused like zero and negatives.
    """
    if not isinstance(value, bool) and isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
        if math.isfinite(seconds) and seconds > 0:
            return None
    try:
        shown = json.dumps(value)
    except (TypeError, ValueError):
        shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return (
        f"'timeout' must be a positive, finite number of seconds, found {shown}; "
        "set one, or leave it out to use the execution_timeout setting"
    )
