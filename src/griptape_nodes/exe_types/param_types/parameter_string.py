"""Griptape's ``ParameterString``: a ``str`` parameter with its UI options as keywords and properties.

With ``accept_any`` (the default) it takes any input and makes a string of it: None is ``""``, a
dict or list its JSON text, anything else ``str(value)``; its ``input_types`` is ``["any"]``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Parameter

__all__ = ["ParameterString"]

_UI_FLAGS = ("markdown", "multiline", "is_full_width")


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        try:
            return json.dumps(value)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


class ParameterString(Parameter):
    # Griptape's keywords, each a separate argument as node code passes them; the rest go to Parameter.
    def __init__(  # noqa: PLR0913
        self,
        name: str,
        tooltip: str | None = None,
        *,
        type: str = "str",
        input_types: list[str] | None = None,
        output_type: str = "str",
        converters: list[Any] | None = None,
        ui_options: dict[str, Any] | None = None,
        markdown: bool = False,
        multiline: bool = False,
        placeholder_text: str | None = None,
        is_full_width: bool = False,
        accept_any: bool = True,
        **keywords: Any,
    ) -> None:
        options = dict(ui_options or {})
        for key, on in zip(_UI_FLAGS, (markdown, multiline, is_full_width), strict=True):
            if on:
                options[key] = True
        if placeholder_text is not None:
            options["placeholder_text"] = placeholder_text
        super().__init__(
            name=name,
            tooltip=tooltip,
            type="str",
            input_types=["any"] if accept_any else ["str"],
            output_type="str",
            converters=[as_text, *(converters or [])] if accept_any else converters,
            ui_options=options,
            **keywords,
        )

    def _flag(self, key: str, value: bool) -> None:
        if value:
            self.ui_options[key] = True
        else:
            self.ui_options.pop(key, None)

    @property
    def markdown(self) -> bool:
        return bool(self.ui_options.get("markdown", False))

    @markdown.setter
    def markdown(self, value: bool) -> None:
        self._flag("markdown", value)

    @property
    def multiline(self) -> bool:
        return bool(self.ui_options.get("multiline", False))

    @multiline.setter
    def multiline(self, value: bool) -> None:
        self._flag("multiline", value)

    @property
    def is_full_width(self) -> bool:
        return bool(self.ui_options.get("is_full_width", False))

    @is_full_width.setter
    def is_full_width(self, value: bool) -> None:
        self._flag("is_full_width", value)

    @property
    def placeholder_text(self) -> str | None:
        found = self.ui_options.get("placeholder_text")
        return None if found is None else str(found)

    @placeholder_text.setter
    def placeholder_text(self, value: str | None) -> None:
        if value is None:
            self.ui_options.pop("placeholder_text", None)
        else:
            self.ui_options["placeholder_text"] = value


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
