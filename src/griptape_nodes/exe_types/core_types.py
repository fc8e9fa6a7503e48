"""Griptape's ``core_types``: ``Parameter``, ``ParameterMode``, ``ParameterGroup``, the builtin type names
and the control parameters, mapped onto nodeisle's :class:`nodeisle.Parameter`.

What the orchestrator's schema carries of a parameter is nodeisle's: name, type, default, tooltip
and modes. The Griptape-only fields (``input_types``, ``output_type``, ``ui_options``, ``settable``,
``serializable``) live on the object in the process that built it.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import nodeisle
from griptape_nodes import _compat
from nodeisle import ParameterMode, Trait

__all__ = [
    "ControlParameterInput",
    "ControlParameterOutput",
    "Parameter",
    "ParameterGroup",
    "ParameterMode",
    "ParameterTypeBuiltin",
]

Converter = Callable[[Any], Any]
Validator = Callable[[nodeisle.Parameter, Any], None]


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


class _Adopter(Protocol):
    """What a group hands adopted parameters to: the node it was added to."""

    def get_parameter_by_name(self, name: str) -> nodeisle.Parameter | None: ...

    def add_parameter(self, parameter: nodeisle.Parameter) -> None: ...


class _OpenGroups(threading.local):
    """The ``with ParameterGroup(...)`` blocks open in this thread, innermost last."""

    def __init__(self) -> None:
        self.stack: list[ParameterGroup] = []


_open_groups = _OpenGroups()


class Parameter(nodeisle.Parameter):
    """A Griptape parameter. ``type`` is, as in Griptape, the declared ``type``, else the first of
    ``input_types``, else ``output_type``, else ``"str"``. Created inside a ``with ParameterGroup``
    block, it becomes a child of that group."""

    # Griptape's constructor keywords, each a separate argument as library code passes them.
    def __init__(  # noqa: PLR0913
        self,
        name: str,
        tooltip: str = "",
        type: str | None = None,
        input_types: list[str] | None = None,
        output_type: str | None = None,
        default_value: Any = None,
        *,
        display_name: str | None = None,
        allowed_modes: Iterable[ParameterMode | str] | None = None,
        ui_options: dict[str, Any] | None = None,
        traits: Iterable[Trait] | None = None,
        converters: Iterable[Converter] | None = None,
        validators: Iterable[Validator] | None = None,
        settable: bool = True,
        serializable: bool = True,
        hide: bool | None = None,
        user_defined: bool = False,
    ) -> None:
        self._declared_type = _normalize_type(type)
        self._input_types = [t for t in (_normalize_type(t) for t in input_types or []) if t]
        self._output_type = _normalize_type(output_type)
        super().__init__(
            name,
            self._resolved_type(),
            default_value,
            tooltip if isinstance(tooltip, str) else str(tooltip),
            allowed_modes,
            tuple(converters or ()),
            tuple(validators or ()),
            tuple(traits or ()),
        )
        options: dict[str, Any] = {}
        for trait in self.traits:
            options.update(trait.ui_options())
        options.update(ui_options or {})
        self._ui_options = options
        if display_name is not None:
            self.display_name = display_name
        if hide is not None:
            self.hide = hide
        self.settable = settable
        self.serializable = serializable
        self.user_defined = user_defined
        if _open_groups.stack:
            _open_groups.stack[-1].add_child(self)

    def _resolved_type(self) -> str:
        return self._declared_type or next(iter(self._input_types), None) or self._output_type or "str"

    @property
    def input_types(self) -> list[str]:
        return list(self._input_types) if self._input_types else [self._declared_type or self._output_type or "str"]

    @property
    def output_type(self) -> str:
        return self._output_type or self._declared_type or next(iter(self._input_types), None) or "str"

    # nodeisle's Parameter.ui_options() is a method merging the traits' options; Griptape's is a dict
    # attribute (the traits' options are merged into it when the parameter is built).
    @property  # type: ignore[override]
    def ui_options(self) -> dict[str, Any]:
        return self._ui_options

    @ui_options.setter
    def ui_options(self, value: dict[str, Any]) -> None:
        self._ui_options = dict(value)

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


class ParameterGroup:
    """A named group of parameters (a UI element). Parameters created inside ``with group:`` become its
    children; ``node.add_node_element(group)`` adds them to the node, and a parameter created inside
    the block of a group already on a node is added to that node at once."""

    def __init__(self, name: str, ui_options: dict[str, Any] | None = None, *, collapsed: bool | None = None) -> None:
        self.name = name
        self.ui_options: dict[str, Any] = dict(ui_options or {})
        if collapsed is not None:
            self.ui_options["collapsed"] = collapsed
        self.children: list[Parameter | ParameterGroup] = []
        self._node: _Adopter | None = None
        if _open_groups.stack:
            _open_groups.stack[-1].add_child(self)

    def __enter__(self) -> ParameterGroup:
        _open_groups.stack.append(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        popped = _open_groups.stack.pop()
        assert popped is self, f"ParameterGroup {self.name!r}: with-blocks closed out of order"

    def add_child(self, child: Parameter | ParameterGroup) -> None:
        if child not in self.children:
            self.children.append(child)
        if self._node is not None:
            _adopt(self._node, child)

    def parameters(self) -> list[Parameter]:
        """Every parameter in this group, nested groups included, in order."""
        found: list[Parameter] = []
        for child in self.children:
            found.extend(child.parameters() if isinstance(child, ParameterGroup) else [child])
        return found

    def attach(self, node: _Adopter) -> None:
        """Add this group's parameters to ``node`` (those it has already are kept)."""
        self._node = node
        for child in self.children:
            _adopt(node, child)

    def __repr__(self) -> str:
        return f"ParameterGroup(name={self.name!r}, children={[c.name for c in self.children]!r})"


def _adopt(node: _Adopter, child: Parameter | ParameterGroup) -> None:
    if isinstance(child, ParameterGroup):
        child.attach(node)
    elif node.get_parameter_by_name(child.name) is not child:
        node.add_parameter(child)


class ControlParameterInput(Parameter):
    """``exec_in``: where the control flow enters a node."""

    def __init__(self, tooltip: str = "Connection from previous node in the execution chain", name: str = "exec_in"):
        super().__init__(
            name,
            tooltip,
            type=ParameterTypeBuiltin.CONTROL_TYPE.value,
            allowed_modes={ParameterMode.INPUT},
            display_name="Flow In",
        )


class ControlParameterOutput(Parameter):
    """``exec_out``: where the control flow leaves a node."""

    def __init__(self, tooltip: str = "Connection to the next node in the execution chain", name: str = "exec_out"):
        super().__init__(
            name,
            tooltip,
            type=ParameterTypeBuiltin.CONTROL_TYPE.value,
            allowed_modes={ParameterMode.OUTPUT},
            display_name="Flow Out",
        )


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
