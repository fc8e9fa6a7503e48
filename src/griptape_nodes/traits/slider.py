"""Griptape's ``Slider`` trait: a value in ``[min_val, max_val]``, shown as a slider.

Griptape semantics: the slider validates, it does not clamp: a value outside the range is refused
(``ValueError``) when it is set. (Clamping is the ``Clamp`` trait's.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import ParameterMode, Trait

__all__ = ["Slider"]


class Slider(Trait):
    element_id = "Slider"

    def __init__(self, min_val: float, max_val: float) -> None:
        self.min = min_val
        self.max = max_val
        self._allowed_modes = {ParameterMode.PROPERTY}

    @classmethod
    def get_trait_keys(cls) -> list[str]:
        return ["slider"]

    def ui_options_for_trait(self) -> dict[str, Any]:
        return {"slider": {"min_val": self.min, "max_val": self.max}}

    def validators_for_trait(self) -> list[Any]:
        def in_range(parameter: nodeisle.Parameter, value: Any) -> None:
            try:
                outside = value > self.max or value < self.min
            except TypeError:  # not comparable with numbers: the type check says what is wrong
                return
            if outside:
                raise ValueError(
                    f"Value out of range: {value!r} is outside [{self.min}, {self.max}] of parameter {parameter.name!r}"
                )

        return [in_range]

    def __repr__(self) -> str:
        return f"Slider(min_val={self.min!r}, max_val={self.max!r})"


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
