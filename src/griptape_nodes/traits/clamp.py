"""Griptape's ``Clamp`` trait: a number is brought into ``[min_val, max_val]`` (either bound may be None);
a numeric string is read as a number first; a longer list or non-numeric string is cut to ``max_val``
items or characters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Trait

__all__ = ["Clamp"]


class Clamp(Trait):
    element_id = "ClampTrait"

    def __init__(self, min_val: float | None = None, max_val: float | None = None) -> None:
        self.min = min_val
        self.max = max_val

    @classmethod
    def get_trait_keys(cls) -> list[str]:
        return ["clamp"]

    def _number(self, value: float) -> float:
        if self.max is not None and value > self.max:
            value = self.max
        if self.min is not None and value < self.min:
            value = self.min
        return value

    def _clamp(self, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return self._number(float(value))
        if isinstance(value, str):
            try:
                return self._number(float(value.strip())) if value.strip() else value
            except ValueError:
                pass
        if isinstance(value, (str, list)) and self.max is not None and len(value) > self.max:
            return value[: int(self.max)]
        return value

    def converters_for_trait(self) -> list[Any]:
        return [self._clamp]

    def __repr__(self) -> str:
        return f"Clamp(min_val={self.min!r}, max_val={self.max!r})"


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
