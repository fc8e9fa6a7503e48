"""Griptape's ``ParameterBool``: a ``bool`` parameter, with ``on_label`` / ``off_label``.

With ``accept_any`` (the default) any input is made a bool: None is False; the strings "true",
"yes", "on", "1", "enable", "enabled" are True and "false", "no", "off", "0", "disable",
"disabled" False (any case, spaces ignored); other values by their truth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Parameter

__all__ = ["ParameterBool"]

_TRUE = frozenset({"true", "yes", "on", "1", "enable", "enabled"})
_FALSE = frozenset({"false", "no", "off", "0", "disable", "disabled"})


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
    return bool(value)


class ParameterBool(Parameter):
    # Griptape's keywords, each a separate argument as node code passes them; the rest go to Parameter.
    def __init__(  # noqa: PLR0913
        self,
        name: str,
        tooltip: str | None = None,
        *,
        type: str = "bool",
        converters: list[Any] | None = None,
        ui_options: dict[str, Any] | None = None,
        on_label: str | None = None,
        off_label: str | None = None,
        accept_any: bool = True,
        **keywords: Any,
    ) -> None:
        options = dict(ui_options or {})
        for key, label in (("on_label", on_label), ("off_label", off_label)):
            if label is not None:
                options[key] = label
        super().__init__(
            name=name,
            tooltip=tooltip,
            type="bool",
            input_types=["any"] if accept_any else ["bool"],
            output_type="bool",
            converters=[as_bool, *(converters or [])] if accept_any else converters,
            ui_options=options,
            **keywords,
        )

    @property
    def on_label(self) -> str | None:
        return self.ui_options.get("on_label")

    @on_label.setter
    def on_label(self, value: str | None) -> None:
        self._label("on_label", value)

    @property
    def off_label(self) -> str | None:
        return self.ui_options.get("off_label")

    @off_label.setter
    def off_label(self, value: str | None) -> None:
        self._label("off_label", value)

    def _label(self, key: str, value: str | None) -> None:
        if value is None:
            self.ui_options.pop(key, None)
        else:
            self.ui_options[key] = value


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
