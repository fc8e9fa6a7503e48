"""Griptape's ``ExecutionStatusComponent``: the "Status" group of ``was_successful`` and
``result_details`` that a ``SuccessFailureNode`` gets from ``_create_status_parameters``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Parameter, ParameterGroup, ParameterMode

__all__ = ["ExecutionStatusComponent"]

_PLACEHOLDERS = ("<Results will appear when the node executes>", "Beginning execution...", "")


class _Node(Protocol):
    parameter_output_values: dict[str, Any]

    def add_node_element(self, element: Any) -> None: ...

    def get_parameter_value(self, param_name: str) -> Any: ...

    def set_parameter_value(self, param_name: str, value: Any) -> Any: ...

    def publish_update_to_parameter(self, parameter_name: str, value: Any) -> None: ...


class ExecutionStatusComponent:
    """Creates the "Status" group on ``node`` at once and sets its two parameters' values (and, for
    output parameters, their outputs)."""

    # Griptape's keywords, each a separate argument as node code passes them.
    def __init__(
        self,
        node: _Node,
        *,
        was_successful_modes: set[ParameterMode],
        result_details_modes: set[ParameterMode],
        parameter_group_initially_collapsed: bool = True,
        result_details_tooltip: str = "Details about the operation result",
        result_details_placeholder: str = "Details on the operation will be presented here.",
    ) -> None:
        self._node = node
        self._status_group = ParameterGroup(name="Status")
        self._status_group.ui_options = {"collapsed": parameter_group_initially_collapsed}
        self._was_successful = Parameter(
            name="was_successful",
            tooltip="Indicates whether it completed without errors.",
            type="bool",
            default_value=False,
            settable=False,
            allowed_modes=was_successful_modes,
        )
        self._result_details = Parameter(
            name="result_details",
            tooltip=result_details_tooltip,
            type="str",
            default_value=None,
            allowed_modes=result_details_modes,
            settable=False,
            ui_options={"multiline": True, "placeholder_text": result_details_placeholder},
        )
        self._status_group.add_child(self._was_successful)
        self._status_group.add_child(self._result_details)
        node.add_node_element(self._status_group)

    def get_parameter_group(self) -> ParameterGroup:
        return self._status_group

    def set_execution_result(self, *, was_successful: bool, result_details: str) -> None:
        self._update(self._was_successful, was_successful)
        self._update(self._result_details, result_details)
        failed = not was_successful and result_details not in _PLACEHOLDERS
        if failed:  # a real failure shows a warning on the group, as in Griptape's editor
            self._status_group.ui_options["display_name"] = "⚠️ Status"
        else:
            self._status_group.ui_options.pop("display_name", None)

    def clear_execution_status(self, initial_message: str | None = None) -> None:
        self.set_execution_result(was_successful=False, result_details=initial_message or "")

    def append_to_result_details(self, additional_text: str, separator: str = "\n") -> None:
        current = self._node.get_parameter_value(self._result_details.name)
        self._update(self._result_details, f"{current}{separator}{additional_text}" if current else additional_text)

    def _update(self, parameter: Parameter, value: Any) -> None:
        self._node.set_parameter_value(parameter.name, value)
        self._node.publish_update_to_parameter(parameter.name, value)
        if ParameterMode.OUTPUT in parameter.allowed_modes:
            self._node.parameter_output_values[parameter.name] = value


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
