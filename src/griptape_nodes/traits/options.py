"""Griptape's ``Options`` trait: a fixed list of choices (a dropdown), on nodeisle's :class:`nodeisle.Options`.

Griptape semantics: a value not among the choices is converted to the first choice (its converter
runs before any validator), so an unknown choice never fails; the validator then checks the
choice. ``choices`` may be changed at any time (``trait.choices = [...]``, or the node's
``_update_option_choices``); the parameter's ``ui_options["simple_dropdown"]`` follows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Parameter, Trait

__all__ = ["Options", "remove_from", "update_choices"]

_PLACEHOLDER_CHOICES = ["choice 1", "choice 2", "choice 3"]  # Griptape's choices when none are given


class Options(Trait, nodeisle.Options):
    element_id = "Options"

    def __init__(self, *, choices: list[Any] | None = None, show_search: bool = True, search_filter: str = "") -> None:
        self._choices = list(choices) if choices is not None else list(_PLACEHOLDER_CHOICES)
        self.show_search = show_search
        self.search_filter = search_filter

    @property
    def choices(self) -> list[Any]:
        return self._choices

    @choices.setter
    def choices(self, value: list[Any]) -> None:
        self._choices = list(value)
        parent = self._parent
        if parent is not None:
            parent.ui_options["simple_dropdown"] = self._choices

    @classmethod
    def get_trait_keys(cls) -> list[str]:
        return ["options", "models"]

    def converters_for_trait(self) -> list[Any]:
        def first_if_unknown(value: Any) -> Any:
            return value if value in self._choices or not self._choices else self._choices[0]

        return [first_if_unknown]

    def validators_for_trait(self) -> list[Any]:
        return [self._check]

    def ui_options_for_trait(self) -> dict[str, Any]:
        return {"simple_dropdown": self._choices, "show_search": self.show_search, "search_filter": self.search_filter}

    def __repr__(self) -> str:
        return f"Options(choices={self._choices!r})"


class _Node(Protocol):
    def get_parameter_by_name(self, name: str) -> nodeisle.Parameter | None: ...

    def set_parameter_value(self, param_name: str, value: Any) -> Any: ...


def _options_of(node: _Node, param: str, doing: str) -> tuple[Parameter, Options]:
    parameter = node.get_parameter_by_name(param)
    if not isinstance(parameter, Parameter):
        raise ValueError(f"Parameter '{param}' not found for {doing}.")
    found = parameter.find_elements_by_type(Options)
    if not found:
        raise ValueError(f"No Options trait found for parameter '{param}'.")
    return parameter, found[0]


def update_choices(node: _Node, param: str, choices: list[Any], default: Any) -> None:
    """A node's ``_update_option_choices``: new choices for ``param``'s Options, ``default`` its default and value."""
    parameter, options = _options_of(node, param, "updating model choices")
    if default not in choices:
        raise ValueError(f"Default model '{default}' is not in the provided choices.")
    options.choices = list(choices)
    parameter.default_value = default
    node.set_parameter_value(param, default)


def remove_from(node: _Node, param: str) -> None:
    """A node's ``_remove_options_trait``: ``param`` loses its Options trait (and its dropdown)."""
    parameter, options = _options_of(node, param, "removing the options trait")
    parameter.remove_trait(options)


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
