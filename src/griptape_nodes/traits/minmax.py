"""Griptape's ``MinMax`` trait: a value in ``[min_val, max_val]``; one outside is refused (``ValueError``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Trait

__all__ = ["MinMax"]


class MinMax(Trait):
    element_id = "MinMaxTrait"

    def __init__(self, min_val: float, max_val: float) -> None:
        self.min = min_val
        self.max = max_val

    @classmethod
    def get_trait_keys(cls) -> list[str]:
        return ["min", "max", "minmax", "min_max"]

    def validators_for_trait(self) -> list[Any]:
        def in_range(parameter: nodeisle.Parameter, value: Any) -> None:
            if value is not None and (value > self.max or value < self.min):
                raise ValueError(
                    f"Value out of range: {value!r} is outside [{self.min}, {self.max}] of parameter {parameter.name!r}"
                )

        return [in_range]

    def __repr__(self) -> str:
        return f"MinMax(min_val={self.min!r}, max_val={self.max!r})"


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
