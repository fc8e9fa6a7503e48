"""Griptape's ``ParameterButton``: a property shown as a button (type ``button``, property mode only
by default), its ``Button`` trait built from the button keywords (``label``, ``variant``,
``on_click``, ``href`` for a link, ...). Its value is whatever data the node stores with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Parameter
from griptape_nodes.traits.button import Button

__all__ = ["ParameterButton"]

_BUTTON_KEYWORDS = (
    "label", "variant", "size", "state", "icon", "icon_class", "icon_position", "full_width", "loading_label",
    "loading_icon", "loading_icon_class", "on_click", "get_button_state",
)


class ParameterButton(Parameter):
    # Griptape's keywords, each a separate argument as node code passes them; the rest go to Parameter.
    def __init__(  # noqa: PLR0913
        self,
        name: str,
        tooltip: str | None = None,
        *,
        type: str = "button",
        traits: Any = None,
        href: str | None = None,
        allow_input: bool = False,
        allow_property: bool = True,
        allow_output: bool = False,
        **keywords: Any,
    ) -> None:
        button_keywords = {k: keywords.pop(k) for k in _BUTTON_KEYWORDS if k in keywords}
        button_keywords.setdefault("full_width", True)
        self.button = Button(button_link=href, **button_keywords)
        super().__init__(
            name=name,
            tooltip=tooltip,
            type="button",
            traits=[*(traits or ()), self.button],
            allow_input=allow_input,
            allow_property=allow_property,
            allow_output=allow_output,
            **keywords,
        )

    @property
    def label(self) -> str:
        return self.button.label

    @label.setter
    def label(self, value: str) -> None:
        self.button.label = value
        self.ui_options["button_label"] = value


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
