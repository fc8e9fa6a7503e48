"""nodeisle's ``griptape_nodes`` compatibility layer: Griptape Nodes library code runs on nodeisle.

The node classes subclass :class:`nodeisle.BaseNode`, and the Griptape request classes are mapped
onto nodeisle's requests, so forwarding, the authority's checks and strict mode apply unchanged.
A name this layer does not provide fails naming the name and the file that asked for it
(:mod:`griptape_nodes._compat`). Standard library and nodeisle only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from griptape_nodes import _compat
from nodeisle.node import companions as _companions

_engine = _companions.installed_engine()
if _engine is not None:  # never a silent mix with the real engine's package (nodeisle.node.companions)
    raise ImportError(_companions.conflict_message(_engine), name=__name__)

_compat.install_finder()

if not TYPE_CHECKING:  # for mypy, the modules keep their exact attribute sets

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
