"""The value members of Griptape's ``BaseNode`` (reading, setting and publishing values), on
:class:`nodeisle.BaseNode`; ``node_types.BaseNode`` has them.

Griptape's order when a value is set: converters (the traits', then the parameter's), validators,
``before_value_set``, store, ``after_value_set``; ``initial_setup=True`` skips the two hooks. A
``ParameterList``'s value is its children's (see :class:`~griptape_nodes.exe_types.core_types.ParameterList`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import nodeisle
from griptape_nodes.exe_types.core_types import ParameterList
from nodeisle.node.spec import check_type

__all__ = ["ValueMembers"]


class ValueMembers(nodeisle.BaseNode):
    """Griptape's value members: a base of ``node_types.BaseNode`` (kept apart so each module stays small)."""

    def get_parameter_value(self, param_name: str) -> Any:
        """The value set, else the parameter's default (None for a name the node has no parameter of);
        a ``ParameterList``'s is its children's values (see :class:`ParameterList`)."""
        parameter = self.get_parameter_by_name(param_name)
        if parameter is None:
            return None
        if isinstance(parameter, ParameterList):
            return parameter.value_from(self.parameter_values)
        if param_name in self.parameter_values:
            return self.parameter_values[param_name]
        return parameter.default_value

    def get_parameter_list_value(self, param: str) -> list[Any]:
        """The parameter's value as one flat list of its truthy items (nested lists flattened)."""

        def flatten(items: Iterable[Any]) -> Iterable[Any]:
            for item in items:
                if isinstance(item, Iterable) and not isinstance(item, (str, bytes, dict)):
                    yield from flatten(item)
                elif item:
                    yield item

        raw = self.get_parameter_value(param) or []
        return list(flatten(raw if isinstance(raw, Iterable) and not isinstance(raw, (str, bytes, dict)) else [raw]))

    def set_parameter_value(
        self,
        param_name: str,
        value: Any,
        *,
        initial_setup: bool = False,
        emit_change: bool = True,
        skip_before_value_set: bool = False,
    ) -> Any:
        """Set a value in Griptape's order: converters, validators, ``before_value_set``, store,
        ``after_value_set`` (``initial_setup`` skips the two hooks, ``skip_before_value_set`` the first;
        ``emit_change`` concerns Griptape's editor). A ``ParameterList`` child's value updates the list's
        value too."""
        parameter = self.get_parameter_by_name(param_name)
        if parameter is None:
            raise KeyError(f"node {self.name!r} has no parameter named {param_name!r}")
        for converter in [c for t in parameter.traits for c in t.converters()] + list(parameter.converters):
            value = converter(value)
        for validator in [v for t in parameter.traits for v in t.validators()] + list(parameter.validators):
            validator(parameter, value)
        if not initial_setup and not skip_before_value_set:
            changed = self.before_value_set(parameter, value)
            if changed is None and value is not None:  # nodeisle's rule: never store None for a forgotten return
                raise TypeError(
                    f"node {self.name!r}: {type(self).__name__}.before_value_set returned None for parameter "
                    f"{param_name!r}; before_value_set must return the value to set (end it with `return value`)"
                )
            value = changed
        check_type(self.name, param_name, parameter.type, value)
        self.parameter_values[param_name] = value
        if not initial_setup:
            self.after_value_set(parameter, value)
        self._update_list_of(param_name)
        return value

    def _update_list_of(self, child_name: str) -> None:
        for parameter in self.parameters:
            if isinstance(parameter, ParameterList) and parameter.is_child_name(child_name):
                self.parameter_values[parameter.name] = parameter.value_from(self.parameter_values)

    def remove_parameter_value(self, param_name: str) -> None:
        """Reset a value that was set back to the default (KeyError if there is no such parameter or value)."""
        parameter = self.get_parameter_by_name(param_name)
        if parameter is None:
            raise KeyError(f"node {self.name!r}: cannot remove the value of {param_name!r}: no such parameter")
        if param_name not in self.parameter_values:
            raise KeyError(f"node {self.name!r}: cannot remove the value of {param_name!r}: no value was set")
        self.set_parameter_value(param_name, parameter.default_value)

    def publish_update_to_parameter(self, parameter_name: str, value: Any) -> None:
        """Make ``value`` the parameter's output now (Griptape also tells its editor; nodeisle has none)."""
        if self.get_parameter_by_name(parameter_name) is None:
            raise RuntimeError(f"Parameter '{parameter_name}' doesn't exist on {self.name}")
        self.parameter_output_values[parameter_name] = value

    def append_value_to_parameter(self, parameter_name: str, value: Any) -> None:
        """Append to the parameter's output (``+``, else ``.append``), or start it with ``value``."""
        outputs = self.parameter_output_values
        if parameter_name not in outputs:
            outputs[parameter_name] = value
            return
        try:
            outputs[parameter_name] = outputs[parameter_name] + value
        except TypeError:
            try:
                outputs[parameter_name].append(value)
            except Exception as exc:
                raise RuntimeError(f"Value is not appendable to parameter '{parameter_name}' on {self.name}") from exc
