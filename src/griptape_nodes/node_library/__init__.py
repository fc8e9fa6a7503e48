"""Griptape's ``griptape_nodes.node_library``: ``AdvancedNodeLibrary`` and the library objects its hooks get."""

from __future__ import annotations

from typing import TYPE_CHECKING

from griptape_nodes import _compat

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
