"""Griptape's ``node_types``: ``BaseNode``, ``DataNode``, ``ControlNode``, ``SuccessFailureNode`` and
``AsyncResult``, on top of :class:`nodeisle.BaseNode` (so nodeisle imports, probes, hydrates and runs
them like its own nodes).

Griptape semantics kept here:

- a node class is built with keywords (``cls(name=..., metadata=...)``), as Griptape's engine does,
  so ``def __init__(self, **kwargs)`` works;
- ``parameter_values`` holds the values that were set; just before ``process`` every parameter
  without a value whose default is not None gets its default, so a parameter with no value and a
  None default stays absent (``parameter_values.get("x", "")`` is ``""``);
- ``process`` may be a generator (:data:`AsyncResult`): each callable it yields runs in a thread off
  the event loop and its result (or exception) is sent back into the generator;
- ``validate_before_node_run`` runs just before ``process``: the exceptions it returns fail the node
  (:class:`NodeValidationError`, with their messages) and ``process`` does not run;
- ``set_parameter_value`` runs converters, then validators, then ``before_value_set``, stores, then
  ``after_value_set`` (Griptape's order); with ``initial_setup=True`` the hooks are skipped.
- after ``process``, ``get_next_control_output()`` says which control output fires (the first one by
  default; None, or ``stop_flow = True``, fires none). A node with several control outputs, or one
  that fires none, reports its choice to the flow runner among its outputs (True for the one that
  fires, False for the others); nodes behind the outputs that did not fire are not reached.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.exe_types._async_result import AsyncResult, drive
from griptape_nodes.exe_types._values import ValueMembers
from griptape_nodes.exe_types.core_types import (
    ControlParameterInput,
    ControlParameterOutput,
    NodeMessagePayload,
    NodeMessageResult,
    Parameter,
    ParameterGroup,
    ParameterList,
    ParameterMessage,
    ParameterMode,
)
from griptape_nodes.exe_types.param_components.execution_status_component import ExecutionStatusComponent
from nodeisle.node.spec import is_control_type

__all__ = ["AsyncResult", "BaseNode", "ControlNode", "DataNode", "NodeValidationError", "SuccessFailureNode"]

LOGGER = logging.getLogger("griptape_nodes")

T = TypeVar("T")


_NODE_KEYWORDS = ("name", "metadata")


class _KeywordConstruction(type):
    """Build node classes with keywords, as Griptape's engine does: ``cls(name=..., metadata=...)``.

    nodeisle builds nodes as ``cls(name, metadata)``; a Griptape node's ``__init__(self, **kwargs)``
    takes no positional arguments.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) > len(_NODE_KEYWORDS):
            raise TypeError(f"{cls.__name__}() takes at most {len(_NODE_KEYWORDS)} arguments (name, metadata)")
        for keyword, value in zip(_NODE_KEYWORDS, args, strict=False):
            if keyword in kwargs:
                raise TypeError(f"{cls.__name__}() got multiple values for argument {keyword!r}")
            kwargs[keyword] = value
        return super().__call__(**kwargs)


class NodeValidationError(Exception):
    """``validate_before_node_run`` returned exceptions: the node fails with their messages."""

    def __init__(self, node: str, problems: list[Exception]) -> None:
        self.problems = problems
        listed = "; ".join(f"{type(p).__name__}: {p}" for p in problems)
        super().__init__(f"Node {node!r} encountered problems: {listed}")


Element = nodeisle.Parameter | ParameterGroup | ParameterMessage


class BaseNode(ValueMembers, metaclass=_KeywordConstruction):
    """A Griptape node. Subclasses declare parameters in ``__init__`` and implement ``process``."""

    stand_in_parameter_class = Parameter  # a connection's source parameters, as its hooks see them

    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, metadata)
        self._groups: dict[str, ParameterGroup] = {}
        self._messages: dict[str, ParameterMessage] = {}
        self.stop_flow = False  # set by process() to fire no control output: the flow stops here

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("aprocess")
        if own is not None and not getattr(own, "_materializes_defaults", False):
            cls.aprocess = _materializing(own)  # type: ignore[method-assign,assignment]

    # -- parameters and elements --------------------------------------------------------------------
    def does_name_exist(self, param_name: str) -> bool:
        return self.get_parameter_by_name(param_name) is not None

    def add_parameter(self, parameter: nodeisle.Parameter) -> None:
        if any(c.isspace() for c in parameter.name):
            raise ValueError(f"node {self.name!r}: parameter name {parameter.name!r} must not contain whitespace")
        had_value = parameter.name in self.parameter_values
        super().add_parameter(parameter)
        if not had_value:  # nodeisle stores the default as a value; Griptape holds only values set
            self.parameter_values.pop(parameter.name, None)
        if isinstance(parameter, ParameterList):
            parameter.attach(self)
        if isinstance(parameter, Parameter) and parameter.parent_element_name in self._groups:
            group = self._groups[parameter.parent_element_name]  # Parameter(parent_element_name="Group")
            if parameter not in group.children:
                group.children.append(parameter)

    def add_node_element(self, element: Element) -> None:
        """Add a parameter, a message, or a group with its elements (``with ParameterGroup(...) as g: ...``)."""
        if isinstance(element, ParameterGroup):
            if element.name in self._groups or self.get_parameter_by_name(element.name) is not None:
                raise ValueError(f"node {self.name!r} already has an element named {element.name!r}")
            self._groups[element.name] = element
            element.attach(self)
        elif isinstance(element, ParameterMessage):
            if element.name in self._messages:
                raise ValueError(f"node {self.name!r} already has a message named {element.name!r}")
            self._messages[element.name] = element
        elif isinstance(element, nodeisle.Parameter):
            self.add_parameter(element)
        else:
            raise TypeError(
                f"node {self.name!r}: add_node_element expects a Parameter, ParameterGroup or ParameterMessage, "
                f"got {type(element).__name__} (nodeisle's griptape_nodes layer supports those three)"
            )

    def get_group_by_name_or_element_id(self, group: str) -> ParameterGroup | None:
        return self._groups.get(group)

    def get_message_by_name_or_element_id(self, element: str) -> ParameterMessage | None:
        found = self._messages.get(element)
        return found or next((m for m in self._messages.values() if m.element_id == element), None)

    def get_parameter_by_element_id(self, param_element_id: str) -> nodeisle.Parameter | None:
        return next((p for p in self.parameters if getattr(p, "element_id", None) == param_element_id), None)

    def remove_parameter_element(self, name_or_parameter: str | Element) -> None:
        """Remove a parameter (a list with its children), a group with its elements, or a message."""
        if isinstance(name_or_parameter, ParameterGroup):
            self.remove_parameter_element_by_name(name_or_parameter.name)
            return
        if isinstance(name_or_parameter, ParameterMessage):
            self._messages.pop(name_or_parameter.name, None)
            return
        parameter = self.get_parameter_by_name(
            name_or_parameter if isinstance(name_or_parameter, str) else name_or_parameter.name
        )
        if isinstance(parameter, ParameterList):
            for child in parameter.get_child_parameters():
                super().remove_parameter_element(child.name)
        super().remove_parameter_element(name_or_parameter)

    def remove_parameter_element_by_name(self, element_name: str) -> None:
        """Remove a parameter, message, or group and its elements; a name the node lacks is ignored."""
        group = self._groups.pop(element_name, None)
        if group is not None:
            for parameter in group.parameters():
                if self.get_parameter_by_name(parameter.name) is parameter:
                    self.remove_parameter_element(parameter.name)
            for message in group.messages():
                self._messages.pop(message.name, None)
        elif element_name in self._messages:
            del self._messages[element_name]
        elif self.get_parameter_by_name(element_name) is not None:
            self.remove_parameter_element(element_name)

    def hide_parameter_by_name(self, names: str | Iterable[str]) -> None:
        self._set_hidden(names, hidden=True)

    def show_parameter_by_name(self, names: str | Iterable[str]) -> None:
        self._set_hidden(names, hidden=False)

    def hide_message_by_name(self, names: str | Iterable[str]) -> None:
        self._set_hidden(names, hidden=True)

    def show_message_by_name(self, names: str | Iterable[str]) -> None:
        self._set_hidden(names, hidden=False)

    def _set_hidden(self, names: str | Iterable[str], *, hidden: bool) -> None:
        for name in [names] if isinstance(names, str) else list(names):
            parameter = self.get_parameter_by_name(name)
            if isinstance(parameter, Parameter):
                parameter.hide = hidden
            elif name in self._groups:
                self._groups[name].ui_options["hide"] = hidden
            elif name in self._messages:
                self._messages[name].hide = hidden
            elif parameter is None:
                raise KeyError(f"node {self.name!r} has no parameter, message or group named {name!r}")

    def _update_option_choices(self, param: str, choices: list[Any], default: Any) -> None:
        """Give the parameter's ``Options`` trait new ``choices`` and make ``default`` its default and value."""
        from griptape_nodes.traits import options

        options.update_choices(self, param, choices, default)

    def _remove_options_trait(self, param: str) -> None:
        from griptape_nodes.traits import options

        options.remove_from(self, param)

    def _materialize_defaults(self) -> None:
        for parameter in self.parameters:
            if isinstance(parameter, ParameterList) and len(parameter):
                self.parameter_values[parameter.name] = parameter.value_from(self.parameter_values)
            elif parameter.name not in self.parameter_values and parameter.default_value is not None:
                self.parameter_values[parameter.name] = parameter.default_value

    def _prepare(self) -> None:
        """Just before ``process``: the defaults into ``parameter_values``, then ``validate_before_node_run``."""
        self._materialize_defaults()
        problems = self.validate_before_node_run()
        if problems:
            raise NodeValidationError(self.name, list(problems))

    # -- hooks and execution ------------------------------------------------------------------------
    def validate_before_node_run(self) -> list[Exception] | None:
        """Runs just before ``process``; the exceptions returned fail the node with their messages."""
        return None

    def validate_before_workflow_run(self) -> list[Exception] | None:
        return None

    def validate_empty_parameter(self, param: str, additional_msg: str = "") -> Exception | None:
        """A ValueError to return from a validation hook when ``param`` has no value, else None."""
        value = self.get_parameter_value(param)
        if value is None or value == "":
            return ValueError(f"Parameter '{param}' was left empty. {additional_msg}".rstrip())
        return None

    def on_node_message_received(
        self, optional_element_name: str | None, message_type: str, message: NodeMessagePayload | None
    ) -> NodeMessageResult:
        return NodeMessageResult(
            success=False,
            details=f"Node '{self.name}' was sent a message of type '{message_type}' and has no handler for it; "
            "implement on_node_message_received",
            response=None,
        )

    def process(self) -> AsyncResult[Any] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement process()")

    async def aprocess(self) -> None:
        """Run ``process`` off the event loop; a generator's yielded callables run off it too."""
        self._prepare()
        if inspect.iscoroutinefunction(self.process):
            await self.process()
        else:
            result: Any = await asyncio.to_thread(self.process)
            if isinstance(result, Generator):
                await drive(result)
            elif inspect.isawaitable(result):
                await result
        self._report_control_output()

    aprocess._materializes_defaults = True  # type: ignore[attr-defined]

    # -- control flow ---------------------------------------------------------------------------------
    def get_next_control_output(self) -> nodeisle.Parameter | None:
        """The control output that fires after ``process``: by default the first one (``exec_out``).
        Branching nodes override this; returning None ends the control flow at this node."""
        return next(iter(_control_outputs(self)), None)

    def _report_control_output(self) -> None:
        """Tell the flow runner which control output fired, unless it is the only one."""
        outputs = _control_outputs(self)
        chosen = None if getattr(self, "stop_flow", False) else self.get_next_control_output()
        if chosen is not None and outputs == [chosen]:
            return  # the default: a node's one control output fires
        for parameter in outputs:
            self.parameter_output_values[parameter.name] = chosen is not None and parameter.name == chosen.name


class DataNode(BaseNode):
    """A node that computes outputs from inputs."""


class ControlNode(BaseNode):
    """A node on the control flow: ``exec_in`` and ``exec_out`` parameters of type ``parametercontroltype``."""

    def __init__(
        self,
        name: str,
        metadata: dict[str, Any] | None = None,
        input_control_name: str | None = None,
        output_control_name: str | None = None,
    ) -> None:
        super().__init__(name, metadata)
        self.control_parameter_in = ControlParameterInput(display_name=input_control_name or "Flow In")
        self.control_parameter_out = ControlParameterOutput(display_name=output_control_name or "Flow Out")
        self.add_parameter(self.control_parameter_in)
        self.add_parameter(self.control_parameter_out)


class SuccessFailureNode(BaseNode):
    """A node with a success and a failure control output: ``exec_in``, ``exec_out`` ("Succeeded") and
    ``failure`` ("Failed"). ``process`` reports how it went with ``_set_status_results``; the status
    parameters (``was_successful``, ``result_details`` in a "Status" group) come from
    ``_create_status_parameters``, called where the node wants them in its ``__init__``.
    """

    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, metadata)
        self._execution_succeeded: bool | None = None
        self.status_component: ExecutionStatusComponent | None = None
        self.control_parameter_in = ControlParameterInput()
        self.add_parameter(self.control_parameter_in)
        self.control_parameter_out = ControlParameterOutput(
            display_name="Succeeded", tooltip="Control path when the operation succeeds"
        )
        self.add_parameter(self.control_parameter_out)
        self.failure_output = ControlParameterOutput(
            name="failure", display_name="Failed", tooltip="Control path when the operation fails"
        )
        self.add_parameter(self.failure_output)

    def get_next_control_output(self) -> nodeisle.Parameter | None:
        """``exec_out`` after a success, ``failure`` after a failure, None before the node ran."""
        if self._execution_succeeded is None:
            return None
        return self.control_parameter_out if self._execution_succeeded else self.failure_output

    def _create_status_parameters(
        self,
        *,
        result_details_tooltip: str = "Details about the operation result",
        result_details_placeholder: str = "Details on the operation will be presented here.",
        parameter_group_initially_collapsed: bool = True,
    ) -> None:
        """Add the "Status" group: ``was_successful`` (bool) and ``result_details`` (str), both outputs."""
        self.status_component = ExecutionStatusComponent(
            self,
            was_successful_modes={ParameterMode.OUTPUT},
            result_details_modes={ParameterMode.OUTPUT},
            parameter_group_initially_collapsed=parameter_group_initially_collapsed,
            result_details_tooltip=result_details_tooltip,
            result_details_placeholder=result_details_placeholder,
        )

    def _clear_execution_status(self) -> None:
        """At the start of ``process``: not run yet, and the status says execution is beginning."""
        self._execution_succeeded = None
        if self.status_component is not None:
            self.status_component.clear_execution_status("Beginning execution...")

    def _set_status_results(self, *, was_successful: bool, result_details: str) -> None:
        """Record how the run went: the control output to follow and the status outputs."""
        self._execution_succeeded = was_successful
        if self.status_component is not None:
            self.status_component.set_execution_result(was_successful=was_successful, result_details=result_details)

    def _has_outgoing_connections(self, parameter: nodeisle.Parameter) -> bool:
        """Whether ``parameter`` feeds any connection (asked of the engine running this node). The layer
        asks this, not the library's code, so it is not a worker-reach-into-orchestrator of the library's."""
        from nodeisle.node.api import framework_request
        from nodeisle.requests import ListConnectionsForNodeResult, ListConnectionsForParameterRequest

        result = framework_request(
            ListConnectionsForParameterRequest(node_name=self.name, parameter_name=parameter.name)
        )
        return isinstance(result, ListConnectionsForNodeResult) and result.succeeded and bool(result.outgoing)

    def _handle_failure_exception(self, exception: Exception) -> None:
        """With the failure output connected, log the error and go on (the flow takes that path);
        without, raise ``exception`` so the node fails."""
        if not self._has_outgoing_connections(self.failure_output):
            raise exception
        LOGGER.error(
            "Error in node '%s': %s. Continuing execution since failure output is connected for graceful handling.",
            self.name,
            exception,
        )

    def validate_before_node_run(self) -> list[Exception] | None:
        """Before each run, the status says results are to come (from a previous run they would mislead)."""
        self._set_status_results(was_successful=False, result_details="<Results will appear when the node executes>")
        return super().validate_before_node_run()


def _materializing(aprocess: Callable[[BaseNode], Awaitable[None]]) -> Callable[[BaseNode], Coroutine[Any, Any, None]]:
    """Wrap a subclass's own ``aprocess`` so the defaults are in ``parameter_values`` and the node is
    validated before it runs."""

    @functools.wraps(aprocess)
    async def run(self: BaseNode) -> None:
        self._prepare()
        await aprocess(self)
        self._report_control_output()

    run._materializes_defaults = True  # type: ignore[attr-defined]
    return run


def _control_outputs(node: BaseNode) -> list[nodeisle.Parameter]:
    return [p for p in node.parameters if is_control_type(p.type) and p.has_mode(ParameterMode.OUTPUT)]


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
