"""Griptape's ``ParameterFloat``: a ``float`` parameter (see ``parameter_number`` for slider, min/max and step).

With ``accept_any`` (the default) the input is made a float: None and "" are 0, a bool is 0 or 1,
a numeric string is read; anything else that cannot be made a float is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.exe_types.param_types.parameter_number import ParameterNumber

__all__ = ["ParameterFloat"]


class ParameterFloat(ParameterNumber):
    def __init__(self, name: str, tooltip: str | None = None, **keywords: Any) -> None:
        keywords.pop("type", None)
        keywords.pop("output_type", None)
        super().__init__(name, tooltip, type="float", output_type="float", **keywords)

    _number = float
    _number_word = "float"


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
