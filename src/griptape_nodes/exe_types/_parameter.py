"""Griptape's ``Parameter`` and ``Trait`` on nodeisle's, and the builtin type names: the part of
``core_types`` the other element types build on (import them from ``core_types``).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import nodeisle
from griptape_nodes.exe_types._messages import BadgeData, open_groups
from nodeisle import ParameterMode
from nodeisle.node.spec import ParameterSpec, _normalize_modes

__all__ = ["Converter", "Parameter", "ParameterTypeBuiltin", "Trait", "Validator"]

Converter = Callable[[Any], Any]
Validator = Callable[[nodeisle.Parameter, Any], None]
T = TypeVar("T")

#: The ``accept_any`` conversions of the ``Parameter*`` types, by qualified name (not reported as behaviours).
_TYPE_CONVERSIONS = frozenset({
    "as_text", "as_bool", "to_dict", "ParameterNumber._convert_to_number",
    "ParameterJson._convert_to_json",
})


class ParameterTypeBuiltin(enum.StrEnum):
    """Griptape's builtin type names (case-insensitive where a parameter is declared)."""

    STR = "str"
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    ANY = "any"
    NONE = "none"
    CONTROL_TYPE = "parametercontroltype"
    ALL = "all"


_BUILTIN_NAMES = {t.value for t in ParameterTypeBuiltin} | {"list", "dict"}


def _normalize_type(name: str | None) -> str | None:
    """Builtin names are case-insensitive in Griptape ("STR" is "str"); library-defined names are kept."""
    if name is None:
        return None
    return name.lower() if name.lower() in _BUILTIN_NAMES else name


class Trait(nodeisle.Trait):
    """A Griptape trait: it contributes converters, validators and UI options to the parameter it is on.

    Subclasses override ``converters_for_trait``, ``validators_for_trait`` and ``ui_options_for_trait``
    (Griptape's names); nodeisle's ``converters`` / ``validators`` / ``ui_options`` read them.
    ``_parent`` is the parameter the trait is on (None until it is added to one).
    """

    element_id: str = "Trait"
    _parent: Parameter | None = None

    @classmethod
    def get_trait_keys(cls) -> list[str]:
        return [cls.__name__.lower()]

    def converters_for_trait(self) -> list[Converter]:
        return []

    def validators_for_trait(self) -> list[Validator]:
        return []

    def ui_options_for_trait(self) -> dict[str, Any]:
        return {}

    def display_options_for_trait(self) -> dict[str, Any]:
        return {}

    def converters(self) -> list[Converter]:
        return self.converters_for_trait()

    def validators(self) -> list[Validator]:
        return self.validators_for_trait()

    def ui_options(self) -> dict[str, Any]:
        return self.ui_options_for_trait()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _trait(trait: nodeisle.Trait | type[nodeisle.Trait]) -> nodeisle.Trait:
    """A trait given as a class is instantiated, as in Griptape (``traits={Button}``)."""
    return trait() if isinstance(trait, type) else trait


class Parameter(nodeisle.Parameter):
    """A Griptape parameter. ``type`` is, as in Griptape, the declared ``type``, else the first of
    ``input_types``, else ``output_type``, else ``"str"``. Created inside a ``with ParameterGroup``
    block, it becomes a child of that group. ``allowed_modes`` is a set, as in Griptape (given as
    None, it is built from ``allow_input`` / ``allow_property`` / ``allow_output``).
    """

    # Griptape's constructor keywords, each a separate argument as library code passes them.
    def __init__(  # noqa: PLR0913
        self,
        name: str,
        tooltip: str | list[dict[str, Any]] | None = "",
        type: str | None = None,
        input_types: list[str] | None = None,
        output_type: str | None = None,
        default_value: Any = None,
        tooltip_as_input: str | list[dict[str, Any]] | None = None,
        tooltip_as_property: str | list[dict[str, Any]] | None = None,
        tooltip_as_output: str | list[dict[str, Any]] | None = None,
        allowed_modes: Iterable[ParameterMode | str] | None = None,
        converters: Iterable[Converter] | None = None,
        validators: Iterable[Validator] | None = None,
        traits: Iterable[nodeisle.Trait | type[nodeisle.Trait]] | None = None,
        ui_options: dict[str, Any] | None = None,
        *,
        hide: bool | None = None,
        hide_label: bool | None = None,
        hide_property: bool | None = None,
        display_name: str | None = None,
        allow_input: bool = True,
        allow_property: bool = True,
        allow_output: bool = True,
        settable: bool = True,
        serializable: bool = True,
        user_defined: bool = False,
        private: bool = False,
        element_id: str | None = None,
        element_type: str | None = None,
        parent_container_name: str | None = None,
        parent_element_name: str | None = None,
        badge: BadgeData | None = None,
    ) -> None:
        self._declared_type = _normalize_type(type)
        self._input_types = [t for t in (_normalize_type(t) for t in input_types or []) if t]
        self._output_type = _normalize_type(output_type)
        if allowed_modes is None:
            flags = ((allow_input, ParameterMode.INPUT), (allow_property, ParameterMode.PROPERTY))
            allowed_modes = [mode for on, mode in (*flags, (allow_output, ParameterMode.OUTPUT)) if on]
        super().__init__(
            name,
            self._resolved_type(),
            default_value,
            tooltip if isinstance(tooltip, str) else ("" if tooltip is None else str(tooltip)),
            allowed_modes,
            tuple(converters or ()),
            tuple(validators or ()),
            tuple(_trait(t) for t in traits or ()),
        )
        self._ui_options: dict[str, Any] = {}
        for trait in self.traits:
            self._attach(trait)
        for key, value in (ui_options or {}).items():
            self._ui_options[key] = value
        shown = {"hide": hide, "hide_label": hide_label, "hide_property": hide_property, "display_name": display_name}
        for key, value in shown.items():
            if value is not None and key not in (ui_options or {}):  # ui_options wins, as in Griptape
                self._ui_options[key] = value
        self.tooltip_as_input, self.tooltip_as_property, self.tooltip_as_output = (
            tooltip_as_input, tooltip_as_property, tooltip_as_output,
        )
        self.settable = settable
        self.serializable = serializable
        self.user_defined = user_defined
        self.private = private
        self.element_id = element_id or uuid.uuid4().hex
        self.element_type = element_type or _type_name(self)
        self.parent_container_name = parent_container_name
        self.parent_element_name = parent_element_name
        self.badge = badge
        if open_groups.stack:
            open_groups.stack[-1].add_child(self)

    @classmethod
    def from_spec(cls, spec: ParameterSpec) -> Parameter:
        return Parameter(
            name=spec.name, tooltip=spec.tooltip, type=spec.type, input_types=list(spec.input_types) or None,
            default_value=spec.default_value, allowed_modes=spec.allowed_modes,
        )

    def spec(self) -> ParameterSpec:
        """nodeisle's scalar fields; the modes in nodeisle's canonical order (Griptape's are a set)."""
        modes = tuple(m for m in ParameterMode if m in self._modes)
        accepted = tuple(self.input_types)
        input_types = () if accepted == (self.type,) else accepted  # what connections may carry, if not `type`
        return ParameterSpec(self.name, self.type, self.default_value, self.tooltip, modes, input_types)

    def behaviors(self) -> list[str]:
        """nodeisle's list of what the schema cannot carry, without the parameter types' own input
        conversion (``accept_any``: it is the type's meaning, and runs wherever the node runs)."""
        return [b for b in super().behaviors() if not any(b == f"converter {name}" for name in _TYPE_CONVERSIONS)]

    def _resolved_type(self) -> str:
        return self._declared_type or next(iter(self._input_types), None) or self._output_type or "str"

    @property
    def input_types(self) -> list[str]:
        return list(self._input_types) if self._input_types else [self._declared_type or self._output_type or "str"]

    @property
    def output_type(self) -> str:
        return self._output_type or self._declared_type or next(iter(self._input_types), None) or "str"

    # -- modes: a set, as in Griptape (nodeisle's Parameter holds a tuple) ----------------------------
    _modes: set[ParameterMode]

    @property  # type: ignore[override]
    def allowed_modes(self) -> set[ParameterMode]:
        return self._modes

    @allowed_modes.setter
    def allowed_modes(self, value: Iterable[ParameterMode | str] | None) -> None:
        self._modes = set(_normalize_modes(value))

    def get_mode(self) -> set[ParameterMode]:
        return self._modes

    def add_mode(self, mode: ParameterMode) -> None:
        self._modes.add(mode)

    def remove_mode(self, mode: ParameterMode) -> None:
        self._modes.discard(mode)

    # -- traits ---------------------------------------------------------------------------------------
    def _attach(self, trait: nodeisle.Trait) -> None:
        if isinstance(trait, Trait):
            trait._parent = self
        self._ui_options.update(trait.ui_options())

    def add_trait(self, trait: nodeisle.Trait | type[nodeisle.Trait]) -> None:
        created = _trait(trait)
        self.traits = (*self.traits, created)
        self._attach(created)

    def remove_trait(self, trait: nodeisle.Trait) -> None:
        """Remove ``trait`` and the UI options it contributed."""
        self.traits = tuple(t for t in self.traits if t is not trait)
        for key in trait.ui_options():
            self._ui_options.pop(key, None)
        if isinstance(trait, Trait):
            trait._parent = None

    def find_elements_by_type(self, element_type: type[T], *, find_recursively: bool = True) -> list[T]:
        """The traits of ``element_type`` on this parameter (Griptape's elements tree holds only traits here)."""
        return [t for t in self.traits if isinstance(t, element_type)]

    # nodeisle's Parameter.ui_options() is a method merging the traits' options; Griptape's is a dict
    # attribute (the traits' options are merged into it when a trait is added).
    @property  # type: ignore[override]
    def ui_options(self) -> dict[str, Any]:
        return self._ui_options

    @ui_options.setter
    def ui_options(self, value: dict[str, Any]) -> None:
        self._ui_options = dict(value)

    def update_ui_options_key(self, key: str, value: Any) -> None:
        self._ui_options[key] = value

    def set_default_value(self, value: Any) -> None:
        self.default_value = value

    @property
    def hide(self) -> bool:
        return bool(self._ui_options.get("hide", False))

    @hide.setter
    def hide(self, value: bool) -> None:
        self._ui_options["hide"] = bool(value)

    @property
    def display_name(self) -> str:
        return str(self._ui_options.get("display_name", self.name))

    @display_name.setter
    def display_name(self, value: str) -> None:
        self._ui_options["display_name"] = value


def _type_name(obj: object) -> str:
    return type(obj).__name__
