"""Griptape's ``MultiOptions`` trait: several choices out of a list.

Griptape semantics: a single value becomes a one-item list and values not among the choices are
dropped (the converter), so the stored value is the list of valid choices; with
``allow_user_created_options`` any non-empty strings are kept. The validator refuses a value that
is still not a list of choices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Trait

__all__ = ["MultiOptions"]

_PLACEHOLDER_CHOICES = ["choice 1", "choice 2", "choice 3"]  # Griptape's choices when none are given


class MultiOptions(Trait):
    element_id = "MultiOptions"

    # Griptape's keywords, each a separate argument as node code passes them.
    def __init__(
        self,
        *,
        choices: list[Any] | None = None,
        placeholder: str = "Select options...",
        max_selected_display: int = 3,
        show_search: bool = True,
        search_filter: str = "",
        icon_size: str = "small",
        allow_user_created_options: bool = False,
    ) -> None:
        self._choices = list(choices) if choices is not None else list(_PLACEHOLDER_CHOICES)
        self.placeholder, self.max_selected_display = placeholder, max_selected_display
        self.show_search, self.search_filter = show_search, search_filter
        self.icon_size = icon_size if icon_size in ("small", "large") else "small"
        self.allow_user_created_options = allow_user_created_options

    @property
    def choices(self) -> list[Any]:
        return self._choices

    @choices.setter
    def choices(self, value: list[Any]) -> None:
        self._choices = list(value)
        if self._parent is not None:
            self._parent.ui_options.setdefault("multi_options", {})["choices"] = self._choices

    @classmethod
    def get_trait_keys(cls) -> list[str]:
        return ["multi_options"]

    def converters_for_trait(self) -> list[Any]:
        def valid_choices(value: Any) -> Any:
            items = [] if value is None else value if isinstance(value, list) else [value]
            if self.allow_user_created_options:
                return [str(v) for v in items if v is not None and str(v).strip()]
            return [v for v in items if v in self._choices]

        return [valid_choices]

    def validators_for_trait(self) -> list[Any]:
        def are_choices(parameter: nodeisle.Parameter, value: Any) -> None:
            if value is None or value == []:
                return
            if not isinstance(value, list):
                raise TypeError(f"parameter {parameter.name!r}: a MultiOptions value must be a list")
            if self.allow_user_created_options:
                return
            unknown = [v for v in value if v not in self._choices]
            if unknown:
                raise ValueError(f"parameter {parameter.name!r}: {unknown!r} are not among {self._choices!r}")

        return [are_choices]

    def ui_options_for_trait(self) -> dict[str, Any]:
        return {
            "multi_options": {
                "choices": self._choices, "placeholder": self.placeholder,
                "max_selected_display": self.max_selected_display, "show_search": self.show_search,
                "search_filter": self.search_filter, "icon_size": self.icon_size,
                "allow_user_created_options": self.allow_user_created_options,
            }
        }

    def __repr__(self) -> str:
        return f"MultiOptions(choices={self._choices!r})"


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
