"""Griptape's ``core_types``: ``Parameter``, ``ParameterMode``, ``ParameterGroup``, ``ParameterList``,
``Trait``, the builtin type names and the control parameters, mapped onto nodeisle's
:class:`nodeisle.Parameter`; ``ParameterMessage`` and ``NodeMessageResult`` come from ``_messages``.

What the orchestrator's schema carries of a parameter is nodeisle's: name, type, default, tooltip
and modes. The Griptape-only fields (``input_types``, ``output_type``, ``ui_options``, ``settable``,
``serializable``, traits, messages) live on the object in the process that built it.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.exe_types._messages import (
    BadgeData,
    NodeMessagePayload,
    NodeMessageResult,
    ParameterMessage,
    open_groups,
)
from griptape_nodes.exe_types._parameter import Parameter, ParameterTypeBuiltin, Trait
from nodeisle import ParameterMode

__all__ = [
    "BadgeData",
    "ControlParameterInput",
    "ControlParameterOutput",
    "NodeMessagePayload",
    "NodeMessageResult",
    "Parameter",
    "ParameterGroup",
    "ParameterList",
    "ParameterMessage",
    "ParameterMode",
    "ParameterTypeBuiltin",
    "Trait",
]



class _Adopter(Protocol):
    """What a group hands adopted parameters to: the node it was added to."""

    def get_parameter_by_name(self, name: str) -> nodeisle.Parameter | None: ...

    def add_parameter(self, parameter: nodeisle.Parameter) -> None: ...

    def add_node_element(self, element: Any) -> None: ...

    def get_message_by_name_or_element_id(self, element: str) -> ParameterMessage | None: ...

    @property
    def parameters(self) -> list[nodeisle.Parameter]: ...

    def remove_parameter_element(self, name_or_parameter: str | nodeisle.Parameter) -> None: ...



class ParameterGroup:
    """A named group of parameters (a UI element). Parameters created inside ``with group:`` become its
    children; ``node.add_node_element(group)`` adds them to the node, and a parameter created inside
    the block of a group already on a node is added to that node at once."""

    def __init__(self, name: str, ui_options: dict[str, Any] | None = None, *, collapsed: bool | None = None) -> None:
        self.name = name
        self.ui_options: dict[str, Any] = dict(ui_options or {})
        if collapsed is not None:
            self.ui_options["collapsed"] = collapsed
        self.children: list[Parameter | ParameterGroup | ParameterMessage] = []
        self._node: _Adopter | None = None
        if open_groups.stack:
            open_groups.stack[-1].add_child(self)

    def __enter__(self) -> ParameterGroup:
        open_groups.stack.append(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        popped = open_groups.stack.pop()
        assert popped is self, f"ParameterGroup {self.name!r}: with-blocks closed out of order"

    def add_child(self, child: Parameter | ParameterGroup | ParameterMessage) -> None:
        if child not in self.children:
            self.children.append(child)
        if self._node is not None:
            _adopt(self._node, child)

    def parameters(self) -> list[Parameter]:
        """Every parameter in this group, nested groups included, in order."""
        found: list[Parameter] = []
        for child in self.children:
            if isinstance(child, ParameterGroup):
                found.extend(child.parameters())
            elif isinstance(child, Parameter):
                found.append(child)
        return found

    def messages(self) -> list[ParameterMessage]:
        """Every message in this group, nested groups included, in order."""
        found: list[ParameterMessage] = []
        for child in self.children:
            if isinstance(child, ParameterGroup):
                found.extend(child.messages())
            elif isinstance(child, ParameterMessage):
                found.append(child)
        return found

    def attach(self, node: _Adopter) -> None:
        """Add this group's parameters to ``node`` (those it has already are kept)."""
        self._node = node
        for child in self.children:
            _adopt(node, child)

    def __repr__(self) -> str:
        return f"ParameterGroup(name={self.name!r}, children={[c.name for c in self.children]!r})"


Element = Parameter | ParameterGroup | ParameterMessage


def _adopt(node: _Adopter, child: Element) -> None:
    if isinstance(child, ParameterGroup):
        child.attach(node)
    elif isinstance(child, ParameterMessage):
        if node.get_message_by_name_or_element_id(child.name) is not child:
            node.add_node_element(child)
    elif node.get_parameter_by_name(child.name) is not child:
        node.add_parameter(child)


class ParameterList(Parameter):
    """A list parameter whose items may be child parameters, one per connection (Griptape's way of
    feeding several connections into one list input).

    Its type is ``list[<item type>]``. ``add_child_parameter`` / ``append_child_parameter`` /
    ``ensure_length`` add children to the node, named ``<list>_ParameterListUniqueParamID_<n>``
    (Griptape's prefix; ``n`` counts up where Griptape draws a random id, so a child has the same
    name in every process that builds the node, and a workflow file can name it); each child is an
    ordinary parameter of the item type, so each takes its own connection. The list's value is the
    non-None values of its children, in order; with no children it is the value set on the list
    itself (a list, or one item made a list). Children are found on the node by that name, so they
    are found again after a worker rebuilds the node from its parameter list.
    """

    CHILD_MARK = "_ParameterListUniqueParamID_"

    def __init__(  # noqa: PLR0913
        self,
        name: str,
        tooltip: str | list[dict[str, Any]] | None = "",
        type: str | None = None,
        input_types: list[str] | None = None,
        output_type: str | None = None,
        default_value: Any = None,
        *,
        max_items: int | None = None,
        collapsed: bool | None = None,
        child_prefix: str | None = None,
        grid: bool | None = None,
        grid_columns: int | None = None,
        **keywords: Any,
    ) -> None:
        self._node: _Adopter | None = None
        self._pending: list[Parameter] = []
        self.max_items = max_items
        super().__init__(name, tooltip, type, input_types, output_type, default_value, **keywords)
        for key, value in (("collapsed", collapsed), ("child_prefix", child_prefix), ("columns", grid_columns)):
            if value is not None:
                self._ui_options[key] = value
        if grid:
            self._ui_options["display"] = "grid"

    @property
    def item_type(self) -> str:
        return super()._resolved_type()

    def _resolved_type(self) -> str:
        return f"list[{super()._resolved_type()}]"

    @property
    def input_types(self) -> list[str]:
        return [f"list[{t}]" for t in super().input_types]

    @property
    def output_type(self) -> str:
        return f"list[{super().output_type}]"

    def attach(self, node: _Adopter) -> None:
        """The list was added to ``node``: children made before that join it now."""
        self._node = node
        pending, self._pending = self._pending, []
        for child in pending:
            node.add_parameter(child)

    def is_child_name(self, name: str) -> bool:
        return name.startswith(self.name + self.CHILD_MARK)

    def get_child_parameters(self) -> list[nodeisle.Parameter]:
        """The children, in order: the node's parameters named as this list's children."""
        if self._node is None:
            return list(self._pending)
        return [p for p in self._node.parameters if self.is_child_name(p.name)]

    def __len__(self) -> int:
        return len(self.get_child_parameters())

    def __bool__(self) -> bool:  # a container parameter is truthy even when empty, as in Griptape
        return True

    def __getitem__(self, index: int) -> nodeisle.Parameter:
        children = self.get_child_parameters()
        if not 0 <= index < len(children):
            raise KeyError(f"ParameterList {self.name!r} has {len(children)} items, no index {index}")
        return children[index]

    def add_child_parameter(self) -> Parameter:
        if self.max_items is not None and len(self) >= self.max_items:
            raise ValueError(f"Cannot add more items to {self.name}. Maximum {self.max_items} items allowed.")
        prefix = self.name + self.CHILD_MARK
        taken = [int(p.name[len(prefix):]) for p in self.get_child_parameters() if p.name[len(prefix):].isdigit()]
        child = Parameter(
            name=f"{prefix}{max(taken, default=-1) + 1}", tooltip=self.tooltip, type=self._declared_type,
            input_types=self._input_types or None, output_type=self._output_type, default_value=None,
            allowed_modes=self.allowed_modes, converters=self.converters, validators=self.validators,
            ui_options={k: v for k, v in self._ui_options.items() if k in ("hide_property", "placeholder_text")},
            user_defined=True, parent_container_name=self.name,
        )
        if self._node is None:
            self._pending.append(child)
        else:
            self._node.add_parameter(child)
        return child

    def append_child_parameter(self, display_name: str | None = None) -> Parameter:
        child = self.add_child_parameter()
        if display_name is not None:
            child.display_name = display_name
        return child

    def remove_last_child_parameter(self) -> None:
        children = self.get_child_parameters()
        if children:
            self._remove_child(children[-1])

    def clear_list(self) -> None:
        for child in self.get_child_parameters():
            self._remove_child(child)

    def ensure_length(self, desired_count: Any, display_name_prefix: str | None = None) -> None:
        """Grow or shrink to ``desired_count`` children, keeping the first ones (and their connections)."""
        try:
            wanted = max(int(desired_count), 0)
        except (TypeError, ValueError):
            wanted = 0
        while len(self) < wanted:
            self.append_child_parameter()
        while len(self) > wanted:
            self.remove_last_child_parameter()
        if display_name_prefix:
            for index, child in enumerate(self.get_child_parameters()):
                if isinstance(child, Parameter):
                    child.display_name = f"{display_name_prefix} {index + 1}"

    def _remove_child(self, child: nodeisle.Parameter) -> None:
        if self._node is None:
            self._pending = [p for p in self._pending if p is not child]
        else:
            self._node.remove_parameter_element(child.name)

    def value_from(self, values: dict[str, Any]) -> list[Any] | None:
        """The list's value given the node's ``values``: its children's, else its own (None if neither)."""
        children = self.get_child_parameters()
        if children:
            return [values[c.name] for c in children if values.get(c.name) is not None]
        own = values.get(self.name, self.default_value)
        if own is None:
            return None
        return list(own) if isinstance(own, (list, tuple)) else [own]



class ControlParameterInput(Parameter):
    """``exec_in``: where the control flow enters a node."""

    def __init__(
        self,
        tooltip: str = "Connection from previous node in the execution chain",
        name: str = "exec_in",
        display_name: str = "Flow In",
    ):
        super().__init__(
            name,
            tooltip,
            type=ParameterTypeBuiltin.CONTROL_TYPE.value,
            allowed_modes={ParameterMode.INPUT},
            display_name=display_name,
        )


class ControlParameterOutput(Parameter):
    """``exec_out``: where the control flow leaves a node."""

    def __init__(
        self,
        tooltip: str = "Connection to the next node in the execution chain",
        name: str = "exec_out",
        display_name: str = "Flow Out",
    ):
        super().__init__(
            name,
            tooltip,
            type=ParameterTypeBuiltin.CONTROL_TYPE.value,
            allowed_modes={ParameterMode.OUTPUT},
            display_name=display_name,
        )


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
