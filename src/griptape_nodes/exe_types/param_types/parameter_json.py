"""Griptape's ``ParameterJson``: a ``json`` parameter (a dict, a list or a JSON scalar).

With ``accept_any`` (the default) a string is parsed as JSON, a dict or list is kept, None stays
None, and anything else is parsed from its text. Griptape also repairs malformed JSON (with the
``json_repair`` package); nodeisle's layer is standard library only and refuses it instead, naming
the parameter and the parse error.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Parameter

__all__ = ["ParameterJson"]


class ParameterJson(Parameter):
    # Griptape's keywords, each a separate argument as node code passes them; the rest go to Parameter.
    def __init__(  # noqa: PLR0913
        self,
        name: str,
        tooltip: str | None = None,
        *,
        type: str = "json",
        input_types: list[str] | None = None,
        output_type: str = "json",
        converters: list[Any] | None = None,
        ui_options: dict[str, Any] | None = None,
        placeholder_text: str | None = '{"key": "value", "nested": {"key": "value"}}',
        accept_any: bool = True,
        button: bool = False,
        button_label: str | None = "Edit",
        button_icon: str | None = None,
        **keywords: Any,
    ) -> None:
        options = dict(ui_options or {})
        if placeholder_text is not None:
            options["placeholder_text"] = placeholder_text
        if button:
            options.update({"button": True, "button_label": button_label, "button_icon": button_icon})
        super().__init__(
            name=name,
            tooltip=tooltip,
            type="json",
            input_types=["any"] if accept_any else ["json", "str", "dict"],
            output_type="json",
            converters=[self._convert_to_json, *(converters or [])] if accept_any else converters,
            ui_options=options,
            **keywords,
        )

    def _convert_to_json(self, value: Any) -> Any:
        if value is None or isinstance(value, (dict, list)):
            return value
        text = value if isinstance(value, str) else str(value)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"ParameterJson {self.name!r}: the value is not JSON ({exc}): {text[:200]!r}") from None


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
