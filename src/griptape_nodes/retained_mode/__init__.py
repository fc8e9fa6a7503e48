"""Griptape's ``griptape_nodes.retained_mode``: the GriptapeNodes facade and the request events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from griptape_nodes import _compat

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
