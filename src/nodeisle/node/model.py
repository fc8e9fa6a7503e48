"""The node API that library code imports: BaseNode, Parameter, ParameterMode, traits."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from nodeisle.node.scope import Phase, current_scope
from nodeisle.node.spec import (
    ParameterMode,
    ParameterSpec,
    _normalize_modes,
    check_type,
)
from nodeisle.strict import rules as _strict

Converter = Callable[[Any], Any]
Validator = Callable[["Parameter", Any], None]

#: The connection hooks of :class:`BaseNode`; the orchestrator calls a node's only where its class
#: overrides them (the schema says which, ``NodeTypeSchema.hooks``), so other nodes cost nothing.
CONNECTION_HOOKS = ("after_incoming_connection", "after_incoming_connection_removed")


class Trait:
    """An object attached to a parameter that contributes converters, validators and UI hints."""

    def converters(self) -> Sequence[Converter]:
        return ()

    def validators(self) -> Sequence[Validator]:
        return ()

    def ui_options(self) -> Mapping[str, Any]:
        return {}


class Options(Trait):
    """Restricts a parameter to a fixed list of choices."""

    def __init__(self, choices: Iterable[Any]) -> None:
        self.choices = list(choices)
        if not self.choices:
            raise ValueError("Options(choices=...) needs at least one choice")

    def validators(self) -> Sequence[Validator]:
        return (self._check,)

    def _check(self, parameter: Parameter, value: Any) -> None:
        if value not in self.choices:
            raise ValueError(f"{value!r} is not one of the choices {self.choices!r} of parameter {parameter.name!r}")

    def ui_options(self) -> Mapping[str, Any]:
        return {"choices": list(self.choices)}

    def __repr__(self) -> str:
        return f"Options(choices={self.choices!r})"


class Parameter:
    """A named, typed slot on a node."""

    # Library-facing API: node code calls Parameter(name, type, default_value, ...) with these by name or
    # position, so they stay separate arguments.
    def __init__(  # noqa: PLR0913
        self,
        name: str,
        type: str = "any",
        default_value: Any = None,
        tooltip: str = "",
        allowed_modes: Iterable[ParameterMode | str] | None = None,
        converters: Sequence[Converter] | None = (),
        validators: Sequence[Validator] | None = (),
        traits: Sequence[Trait] | None = (),
    ) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"parameter name {name!r} must be a Python identifier")
        if not isinstance(type, str) or not type:
            raise ValueError(f"parameter {name!r}: type must be a non-empty type name such as 'str', got {type!r}")
        self.name = name
        self.type = type
        self.default_value = default_value
        self.tooltip = tooltip
        self.allowed_modes: tuple[ParameterMode, ...] = _normalize_modes(allowed_modes)
        self.converters: tuple[Converter, ...] = tuple(converters or ())  # None: none, as Griptape allows
        self.validators: tuple[Validator, ...] = tuple(validators or ())
        self.traits: tuple[Trait, ...] = tuple(traits or ())

    @classmethod
    def from_spec(cls, spec: ParameterSpec) -> Parameter:
        parameter = cls(spec.name, spec.type, spec.default_value, spec.tooltip, spec.allowed_modes)
        parameter._input_types_of_spec = spec.input_types
        return parameter

    #: A rebuilt parameter keeps its spec's ``input_types`` (declared by a compatibility layer's parameter).
    _input_types_of_spec: tuple[str, ...] = ()

    def spec(self) -> ParameterSpec:
        return ParameterSpec(
            self.name, self.type, self.default_value, self.tooltip, self.allowed_modes, self._input_types_of_spec
        )

    def has_mode(self, mode: ParameterMode) -> bool:
        return mode in self.allowed_modes

    def behaviors(self) -> list[str]:
        """Names of the converters, validators and traits that the schema cannot carry."""
        found = [f"converter {_callable_name(c)}" for c in self.converters]
        found += [f"validator {_callable_name(v)}" for v in self.validators]
        found += [f"trait {t!r}" for t in self.traits]
        return found

    def all_converters(self) -> list[Converter]:
        result = list(self.converters)
        for trait in self.traits:
            result.extend(trait.converters())
        return result

    def all_validators(self) -> list[Validator]:
        result = list(self.validators)
        for trait in self.traits:
            result.extend(trait.validators())
        return result

    def ui_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for trait in self.traits:
            options.update(trait.ui_options())
        return options

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, type={self.type!r}, default_value={self.default_value!r})"


def overridden_connection_hooks(cls: type[BaseNode]) -> tuple[str, ...]:
    """The connection hooks ``cls`` overrides (of :data:`CONNECTION_HOOKS`)."""
    return tuple(name for name in CONNECTION_HOOKS if getattr(cls, name) is not getattr(BaseNode, name))


def _callable_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


class BaseNode:
    """Base class of every node. Subclasses declare parameters in ``__init__`` and implement ``process``."""

    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        self.name = name
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._parameters: dict[str, Parameter] = {}
        self.parameter_values: dict[str, Any] = {}
        self.parameter_output_values: dict[str, Any] = {}

    # -- parameters ---------------------------------------------------------------------------------
    @property
    def parameters(self) -> list[Parameter]:
        return list(self._parameters.values())

    def get_parameter_by_name(self, name: str) -> Parameter | None:
        return self._parameters.get(name)

    def add_parameter(self, parameter: Parameter) -> None:
        if not isinstance(parameter, Parameter):
            raise TypeError(f"node {self.name!r}: add_parameter expects a Parameter, got {type(parameter).__name__}")
        self._check_mutation(f"add_parameter({parameter.name!r})")
        if parameter.name in self._parameters:
            raise ValueError(f"node {self.name!r} already has a parameter named {parameter.name!r}")
        self._parameters[parameter.name] = parameter
        if parameter.has_mode(ParameterMode.INPUT) or parameter.has_mode(ParameterMode.PROPERTY):
            self.parameter_values.setdefault(parameter.name, parameter.default_value)

    def remove_parameter_element(self, name_or_parameter: str | Parameter) -> None:
        name = name_or_parameter.name if isinstance(name_or_parameter, Parameter) else name_or_parameter
        self._check_mutation(f"remove_parameter_element({name!r})")
        if name not in self._parameters:
            raise KeyError(f"node {self.name!r} has no parameter named {name!r}")
        del self._parameters[name]
        self.parameter_values.pop(name, None)
        self.parameter_output_values.pop(name, None)

    def _check_mutation(self, what: str) -> None:
        scope = current_scope()
        if scope is not None and scope.phase is Phase.APROCESS:
            scope.violate(
                _strict.PARAMETER_MUTATION_DURING_APROCESS,
                f"{what} called during process(); the change applies only to this execution's transient node.",
            )

    # -- values -------------------------------------------------------------------------------------
    def set_parameter_value(self, name: str, value: Any) -> Any:
        """Set a value the way the framework does: hooks, converters, validators. Returns the stored value."""
        parameter = self._parameters.get(name)
        if parameter is None:
            raise KeyError(f"node {self.name!r} has no parameter named {name!r}")
        changed = self.before_value_set(parameter, value)
        if changed is None and value is not None:  # a hook without `return value`: never store None for it
            raise TypeError(
                f"node {self.name!r}: {type(self).__name__}.before_value_set returned None for parameter "
                f"{parameter.name!r}; before_value_set must return the value to set (end it with `return value` "
                "to keep the value as given)"
            )
        value = changed
        for converter in parameter.all_converters():
            value = converter(value)
        for validator in parameter.all_validators():
            validator(parameter, value)
        check_type(self.name, parameter.name, parameter.type, value)
        self.parameter_values[name] = value
        self.after_value_set(parameter, value)
        return value

    def before_value_set(self, parameter: Parameter, value: Any) -> Any:
        """Called before a value is stored; returns the value to store (as in Griptape Nodes).

        Returning None for a value that is not None is an error: it is almost always a missing
        ``return value``.
        """
        return value

    def after_value_set(self, parameter: Parameter, value: Any) -> None:
        """Called after a value is stored; may add or remove parameters."""

    # -- connections --------------------------------------------------------------------------------
    #: The class the parameters of a connection's source stand-in are built with (a compatibility layer
    #: sets its own, so its hooks see the parameter type its code expects).
    stand_in_parameter_class: type[Parameter] = Parameter

    def after_incoming_connection(
        self, source_node: Any, source_parameter: Parameter, target_parameter: Parameter
    ) -> None:
        """Called after a connection into ``target_parameter`` was made; may add or remove parameters.

        ``source_node`` is a read-only stand-in (:class:`nodeisle.node.connections.ConnectedNode`: its
        name, class, library and parameters), never the live node: nodes are transient, and the source may
        run in another process. What the hook does to this node's parameter list is kept.
        """

    def after_incoming_connection_removed(
        self, source_node: Any, source_parameter: Parameter, target_parameter: Parameter
    ) -> None:
        """Called after a connection into ``target_parameter`` was removed (arguments as for
        :meth:`after_incoming_connection`)."""

    # -- execution ----------------------------------------------------------------------------------
    def process(self) -> Any:
        """Compute outputs from ``self.parameter_values`` into ``self.parameter_output_values``."""
        raise NotImplementedError(f"{type(self).__name__} must implement process()")

    async def aprocess(self) -> None:
        """Run ``process``: awaited when it is ``async def``, otherwise in a thread off the event loop."""
        if inspect.iscoroutinefunction(self.process):
            await self.process()
        else:
            result = await asyncio.to_thread(self.process)
            if inspect.isawaitable(result):
                await result

    def __repr__(self) -> str:
        return f"<{type(self).__name__} node {self.name!r}>"
