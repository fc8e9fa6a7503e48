"""Where a library's nodes run: the one placement enum. Standard library only (shipped to workers:
requests carry it across the bus)."""

from __future__ import annotations

import enum
from typing import Any


class LibraryMode(enum.StrEnum):
    """Where a library's nodes run: ``shared`` (in the orchestrator's process) or ``isolated`` (in a worker).

    The one placement enum: requests, settings (``settings.json``), workflows and the CLI use it. It is
    a ``str``, so it crosses the bus and JSON as its word.
    """

    SHARED = "shared"
    ISOLATED = "isolated"

    @classmethod
    def parse(cls, text: object) -> LibraryMode:
        """``shared`` or ``isolated``, in any case; anything else is a ValueError that lists both."""
        word = text.strip().lower() if isinstance(text, str) else None
        if word in ("shared", "isolated"):
            return cls(word)
        message = f"unknown library mode {text!r}; expected 'shared' or 'isolated'"
        if word in ("worker", "orchestrator"):
            message += (
                f" ({text!r} is a manifest's suggested_worker_mode word: a library in a worker is 'isolated', "
                "one in the orchestrator's process 'shared')"
            )
        raise ValueError(message)


def as_mode(value: object) -> Any:
    """An accepted mode word (any case) as its :class:`LibraryMode`; anything else as given.

    A wrong word is not an exception where the request is built: the orchestrator answers the
    request with a failure naming the library and the accepted words (``LibraryMode.parse``).
    """
    try:
        return LibraryMode.parse(value)
    except ValueError:
        return value
