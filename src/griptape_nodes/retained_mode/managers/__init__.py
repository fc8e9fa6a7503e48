"""Griptape's engine managers that node code calls (``GriptapeNodes.SecretsManager()`` ...), mapped onto nodeisle."""

from __future__ import annotations

from typing import TYPE_CHECKING

from griptape_nodes import _compat

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
