"""Griptape's ``ParameterNumber``, the base of ``ParameterInt`` and ``ParameterFloat``.

Constraints, as in Griptape: ``slider=True`` (needs ``min_val`` and ``max_val``) adds a ``Slider``
(out of range is refused); else ``validate_min_max=True`` adds ``MinMax`` (refused too); else a
``min_val`` or ``max_val`` adds ``Clamp`` (the value is brought into range). ``step`` refuses a
value that is not a multiple of it. With ``accept_any`` (the default) the input is converted to the
number type first (None and "" are 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Parameter
from griptape_nodes.traits.clamp import Clamp
from griptape_nodes.traits.minmax import MinMax
from griptape_nodes.traits.slider import Slider

__all__ = ["ParameterNumber"]


def _step_validator(parameter: nodeisle.Parameter, value: Any) -> None:
    step = getattr(parameter, "ui_options", {}).get("step")
    if step is None or value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    remainder = value % step
    if not (math.isclose(remainder, 0.0, abs_tol=1e-10) or math.isclose(remainder, step, abs_tol=1e-10)):
        raise ValueError(f"Value {value} is not a multiple of step {step} (parameter {parameter.name!r})")


class ParameterNumber(Parameter):
    # Griptape's keywords, each a separate argument as node code passes them; the rest go to Parameter.
    def __init__(  # noqa: PLR0913
        self,
        name: str,
        tooltip: str | None = None,
        *,
        type: str,
        output_type: str,
        input_types: list[str] | None = None,
        traits: Any = None,
        converters: list[Any] | None = None,
        validators: list[Any] | None = None,
        ui_options: dict[str, Any] | None = None,
        step: float | None = None,
        slider: bool = False,
        min_val: float | None = None,
        max_val: float | None = None,
        validate_min_max: bool = False,
        accept_any: bool = True,
        **keywords: Any,
    ) -> None:
        if slider and (min_val is None or max_val is None):
            raise ValueError(f"{name}: If slider is True, both min_val and max_val must be provided")
        if validate_min_max and (min_val is None or max_val is None):
            raise ValueError(f"{name}: If validate_min_max is True, both min_val and max_val must be provided")
        constraint: nodeisle.Trait | None = None
        if slider and min_val is not None and max_val is not None:
            constraint = Slider(min_val=min_val, max_val=max_val)
        elif validate_min_max and min_val is not None and max_val is not None:
            constraint = MinMax(min_val=min_val, max_val=max_val)
        elif min_val is not None or max_val is not None:
            constraint = Clamp(min_val=min_val, max_val=max_val)
        options = dict(ui_options or {})
        if step is not None:
            options["step"] = step
        self._min_val, self._max_val = min_val, max_val
        super().__init__(
            name=name,
            tooltip=tooltip,
            type=type,
            input_types=["any"] if accept_any else [type],
            output_type=output_type,
            traits=[*(traits or ()), *([constraint] if constraint is not None else [])],
            converters=[self._convert_to_number, *(converters or [])] if accept_any else converters,
            validators=[*(validators or []), *([_step_validator] if step is not None else [])],
            ui_options=options,
            **keywords,
        )

    #: The number type a subclass converts to (``int``, ``float``) and how its errors name it.
    _number: Callable[[Any], Any] | None = None
    _number_word = "number"

    def _convert_to_number(self, value: Any) -> Any:
        """None and "" are 0; a numeric string is read (as the type, else through float: "3.0" is int 3)."""
        make = type(self)._number
        if make is None:
            raise NotImplementedError(f"{self.name}: subclasses set _number")
        if value is None or (isinstance(value, str) and not value.strip()):
            return make(0)
        if isinstance(value, str):
            text = value.strip()
            try:
                return make(text)
            except ValueError:
                pass
            try:
                return make(float(text))
            except ValueError:
                raise ValueError(f"Cannot convert '{value}' to {self._number_word}") from None
        try:
            return make(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Cannot convert {type(value).__name__} to {self._number_word}") from exc

    @property
    def step(self) -> float | None:
        return self.ui_options.get("step")

    @property
    def slider(self) -> bool:
        return bool(self.find_elements_by_type(Slider))

    @property
    def min_val(self) -> float | None:
        return self._min_val

    @property
    def max_val(self) -> float | None:
        return self._max_val


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
