"""Griptape's ``ParameterInt``: an ``int`` parameter (see ``parameter_number`` for slider, min/max and step).

With ``accept_any`` (the default) the input is made an int: None and "" are 0, a bool is 0 or 1,
a numeric string is read (a decimal one is truncated); anything else that cannot be made an int is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.exe_types.param_types.parameter_number import ParameterNumber

__all__ = ["ParameterInt"]


class ParameterInt(ParameterNumber):
    def __init__(self, name: str, tooltip: str | None = None, **keywords: Any) -> None:
        keywords.pop("type", None)
        keywords.pop("output_type", None)
        super().__init__(name, tooltip, type="int", output_type="int", **keywords)

    def _convert_to_number(self, value: Any) -> int:
        if value is None or (isinstance(value, str) and not value.strip()):
            return 0
        if isinstance(value, str):
            text = value.strip()
            try:
                return int(text)
            except ValueError:
                pass
            try:
                return int(float(text))
            except ValueError:
                raise ValueError(f"Cannot convert '{value}' to integer") from None
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Cannot convert {type(value).__name__} to integer") from exc


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
