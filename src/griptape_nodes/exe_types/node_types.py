"""Griptape's ``node_types``: ``BaseNode``, ``DataNode``, ``ControlNode`` and ``AsyncResult``, on top of
:class:`nodeisle.BaseNode` (so nodeisle imports, probes, hydrates and runs them like its own nodes).

Griptape semantics kept here:

- a node class is built with keywords (``cls(name=..., metadata=...)``), as Griptape's engine does,
  so ``def __init__(self, **kwargs)`` works;
- ``parameter_values`` holds the values that were set; just before ``process`` every parameter
  without a value whose default is not None gets its default, so a parameter with no value and a
  None default stays absent (``parameter_values.get("x", "")`` is ``""``);
- ``process`` may be a generator (:data:`AsyncResult`): each callable it yields runs in a thread off
  the event loop and its result (or exception) is sent back into the generator;
- after ``process``, ``get_next_control_output()`` says which control output fires (the first one by
  default; None, or ``stop_flow = True``, fires none). A node with several control outputs, or one
  that fires none, reports its choice to the flow runner among its outputs (True for the one that
  fires, False for the others); nodes behind the outputs that did not fire are not reached.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import (
    ControlParameterInput,
    ControlParameterOutput,
    Parameter,
    ParameterGroup,
)
from nodeisle.node.spec import ParameterMode, is_control_type

__all__ = ["AsyncResult", "BaseNode", "ControlNode", "DataNode"]

T = TypeVar("T")

#: What a generator ``process`` is: it yields callables and is sent each one's result.
AsyncResult = Generator[Callable[[], Any], Any, None]

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


class BaseNode(nodeisle.BaseNode, metaclass=_KeywordConstruction):
    """A Griptape node. Subclasses declare parameters in ``__init__`` and implement ``process``."""

    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, metadata)
        self._groups: dict[str, ParameterGroup] = {}
        self.stop_flow = False  # set by process() to fire no control output: the flow stops here

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("aprocess")
        if own is not None and not getattr(own, "_materializes_defaults", False):
            cls.aprocess = _materializing(own)  # type: ignore[method-assign,assignment]

    # -- parameters and elements --------------------------------------------------------------------
    def add_parameter(self, parameter: nodeisle.Parameter) -> None:
        had_value = parameter.name in self.parameter_values
        super().add_parameter(parameter)
        if not had_value:  # nodeisle stores the default as a value; Griptape holds only values set
            self.parameter_values.pop(parameter.name, None)

    def add_node_element(self, element: ParameterGroup | nodeisle.Parameter) -> None:
        """Add a parameter, or a group with its parameters (``with ParameterGroup(...) as g: ...``)."""
        if isinstance(element, ParameterGroup):
            if element.name in self._groups or self.get_parameter_by_name(element.name) is not None:
                raise ValueError(f"node {self.name!r} already has an element named {element.name!r}")
            self._groups[element.name] = element
            element.attach(self)
        elif isinstance(element, nodeisle.Parameter):
            self.add_parameter(element)
        else:
            raise TypeError(
                f"node {self.name!r}: add_node_element expects a Parameter or ParameterGroup, got "
                f"{type(element).__name__} (nodeisle's griptape_nodes layer supports those two)"
            )

    def get_group_by_name_or_element_id(self, group: str) -> ParameterGroup | None:
        return self._groups.get(group)

    def remove_parameter_element_by_name(self, element_name: str) -> None:
        """Remove a parameter, or a group and its parameters; a name the node lacks is ignored."""
        group = self._groups.pop(element_name, None)
        if group is not None:
            for parameter in group.parameters():
                if self.get_parameter_by_name(parameter.name) is parameter:
                    self.remove_parameter_element(parameter.name)
        elif self.get_parameter_by_name(element_name) is not None:
            self.remove_parameter_element(element_name)

    def hide_parameter_by_name(self, names: str | Iterable[str]) -> None:
        self._set_hidden(names, hidden=True)

    def show_parameter_by_name(self, names: str | Iterable[str]) -> None:
        self._set_hidden(names, hidden=False)

    def _set_hidden(self, names: str | Iterable[str], *, hidden: bool) -> None:
        for name in [names] if isinstance(names, str) else list(names):
            parameter = self.get_parameter_by_name(name)
            if isinstance(parameter, Parameter):
                parameter.hide = hidden
            elif name in self._groups:
                self._groups[name].ui_options["hide"] = hidden
            elif parameter is None:
                raise KeyError(f"node {self.name!r} has no parameter or group named {name!r}")

    # -- values -------------------------------------------------------------------------------------
    def get_parameter_value(self, param_name: str) -> Any:
        """The value set, else the parameter's default (None for a name the node has no parameter of)."""
        if param_name in self.parameter_values:
            return self.parameter_values[param_name]
        parameter = self.get_parameter_by_name(param_name)
        return None if parameter is None else parameter.default_value

    def set_parameter_value(
        self, param_name: str, value: Any, *, initial_setup: bool = False, emit_change: bool = True
    ) -> Any:
        """Set a value through hooks, converters and validators (``initial_setup`` and ``emit_change``
        concern Griptape's editor and have no effect here)."""
        return super().set_parameter_value(param_name, value)

    def _materialize_defaults(self) -> None:
        for parameter in self.parameters:
            if parameter.name not in self.parameter_values and parameter.default_value is not None:
                self.parameter_values[parameter.name] = parameter.default_value

    # -- execution ----------------------------------------------------------------------------------
    def process(self) -> AsyncResult | None:
        raise NotImplementedError(f"{type(self).__name__} must implement process()")

    async def aprocess(self) -> None:
        """Run ``process`` off the event loop; a generator's yielded callables run off it too."""
        self._materialize_defaults()
        if inspect.iscoroutinefunction(self.process):
            await self.process()
            return
        result: Any = await asyncio.to_thread(self.process)
        if isinstance(result, Generator):
            await _drive(result)
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

    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, metadata)
        self.control_parameter_in = ControlParameterInput()
        self.control_parameter_out = ControlParameterOutput()
        self.add_parameter(self.control_parameter_in)
        self.add_parameter(self.control_parameter_out)


def _materializing(aprocess: Callable[[BaseNode], Awaitable[None]]) -> Callable[[BaseNode], Coroutine[Any, Any, None]]:
    """Wrap a subclass's own ``aprocess`` so the defaults are in ``parameter_values`` before it runs."""

    @functools.wraps(aprocess)
    async def run(self: BaseNode) -> None:
        self._materialize_defaults()
        await aprocess(self)
        self._report_control_output()

    run._materializes_defaults = True  # type: ignore[attr-defined]
    return run


def _control_outputs(node: BaseNode) -> list[nodeisle.Parameter]:
    return [p for p in node.parameters if is_control_type(p.type) and p.has_mode(ParameterMode.OUTPUT)]


def _step(generator: AsyncResult, value: Any, error: BaseException | None) -> tuple[bool, Any]:
    """Resume ``generator`` with a value or an exception; (True, None) once it has finished."""
    try:
        return False, generator.throw(error) if error is not None else generator.send(value)
    except StopIteration:
        return True, None


def _call(fn: Callable[[], T]) -> tuple[T | None, BaseException | None]:
    try:
        return fn(), None
    except Exception as exc:  # sent back into the generator, which may handle it
        return None, exc


async def _drive(generator: AsyncResult) -> None:
    """Run a generator ``process``: the generator and each callable it yields, in threads."""
    done, yielded = await asyncio.to_thread(_step, generator, None, None)
    while not done:
        if not callable(yielded):
            generator.close()
            raise TypeError(f"a generator process() must yield callables, it yielded {type(yielded).__name__}")
        value, error = await asyncio.to_thread(_call, yielded)
        done, yielded = await asyncio.to_thread(_step, generator, value, error)


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
