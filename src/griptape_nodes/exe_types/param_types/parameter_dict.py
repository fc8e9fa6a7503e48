"""Griptape's ``ParameterDict``: a ``dict`` parameter.

With ``accept_any`` (the default) any input is made a dict, as Griptape does: None is ``{}``; a
string holding a dict (JSON, or a Python literal) is that dict, other JSON is ``{"value": ...}``,
``key: value`` / ``key=value`` lines are their pairs, other text is ``{"value": text}``; a list
of (key, value) tuples is their pairs, other items become ``item1``, ``item2``, ...; an object
its public attributes; anything else ``{"value": x}``.
"""

from __future__ import annotations

import ast
import json
from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Parameter

__all__ = ["ParameterDict", "to_dict"]


def _pairs(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for line in (part.strip() for part in text.splitlines()):
        separator = ":" if ":" in line else "=" if "=" in line else None
        if separator is not None:
            key, value = line.split(separator, 1)
            found[key.strip()] = value.strip()
    return found


def _from_text(text: str) -> dict[Any, Any]:
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        try:
            literal = ast.literal_eval(text)
            if isinstance(literal, dict):
                return literal
        except (SyntaxError, ValueError):
            pass
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return _pairs(text) if (":" in text or "=" in text) else {"value": text}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _from_items(items: list[Any] | tuple[Any, ...]) -> dict[Any, Any]:
    found: dict[Any, Any] = {}
    for index, item in enumerate(items, start=1):
        if isinstance(item, tuple) and len(item) >= 2 and item[0] is not None:
            found[item[0]] = item[1] if len(item) == 2 else list(item[1:])
        else:
            found[f"item{index}"] = item
    return found


def to_dict(value: Any) -> dict[Any, Any]:
    """``value`` as a dict, the way Griptape's dict parameters read any input (``{}`` if that fails)."""
    try:
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            return _from_text(value) if value.strip() else {}
        if isinstance(value, (list, tuple)):
            return _from_items(value)
        if hasattr(value, "__dict__"):
            return {k: v for k, v in vars(value).items() if not k.startswith("_")}
        return {"value": value}
    except Exception:  # Griptape's reading never fails: an unreadable value is an empty dict
        return {}


class ParameterDict(Parameter):
    # Griptape's keywords, each a separate argument as node code passes them; the rest go to Parameter.
    def __init__(
        self,
        name: str,
        tooltip: str | None = None,
        *,
        type: str = "dict",
        input_types: list[str] | None = None,
        output_type: str = "dict",
        converters: list[Any] | None = None,
        accept_any: bool = True,
        **keywords: Any,
    ) -> None:
        super().__init__(
            name=name,
            tooltip=tooltip,
            type="dict",
            input_types=["any"] if accept_any else ["dict"],
            output_type="dict",
            converters=[to_dict, *(converters or [])] if accept_any else converters,
            **keywords,
        )


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
