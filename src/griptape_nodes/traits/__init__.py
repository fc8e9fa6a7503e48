"""Griptape's ``griptape_nodes.traits``: ``Options``, ``Slider``, ``Button``, ``FileSystemPicker``,
``MultiOptions`` (and ``Clamp`` / ``MinMax``, which the numeric parameter types use), each a
:class:`griptape_nodes.exe_types.core_types.Trait` and so a :class:`nodeisle.Trait`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from griptape_nodes import _compat

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
