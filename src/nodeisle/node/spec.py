"""What a parameter is, as data: its modes, its scalar fields (what crosses between processes and what
the orchestrator's graph holds), and the check of values against the builtin types. Pure: no asyncio,
no I/O; the flow graph imports this, not the node model."""

from __future__ import annotations

import enum
import numbers
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALL_MODES",
    "BUILTIN_TYPES",
    "CONTROL_TYPES",
    "ParameterMode",
    "ParameterSpec",
    "check_type",
    "is_control_type",
]


class ParameterMode(enum.StrEnum):
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"
    PROPERTY = "PROPERTY"


ALL_MODES: frozenset[ParameterMode] = frozenset(ParameterMode)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral)  # bool included: it is an int in Python


def _is_numpy_bool(value: Any) -> bool:
    numpy = sys.modules.get("numpy")  # never imported for this: a numpy value means numpy is loaded
    return numpy is not None and isinstance(value, numpy.bool_)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


#: The builtin parameter types whose values are checked when set or connected (numpy scalars count as
#: numbers, a tuple as a list). ``any`` and library-defined type names are not checked.
BUILTIN_TYPES: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": _is_integer,
    "float": _is_real,
    "bool": lambda v: isinstance(v, bool) or _is_numpy_bool(v),
    "list": lambda v: isinstance(v, (list, tuple)),
    "dict": lambda v: isinstance(v, Mapping),
    "bytes": lambda v: isinstance(v, (bytes, bytearray, memoryview)),
}


def check_type(node: str, parameter: str, type_name: str, value: Any) -> None:
    """Raise TypeError if ``value`` does not fit a builtin ``type_name`` (None always fits: unset)."""
    accepts = BUILTIN_TYPES.get(type_name)
    if accepts is None or value is None or accepts(value):
        return
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise TypeError(
        f"node {node!r}, parameter {parameter!r} is of type {type_name}, but the value is a "
        f"{type(value).__name__} ({shown}); pass a {type_name}, or declare the parameter type 'any'"
    )


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    """The scalar fields of a parameter: what crosses from a worker to the orchestrator.

    ``input_types`` are the types a connection into the parameter may carry, when they are not just
    ``type`` (a Griptape parameter that converts any input declares ``["any"]``); empty: ``type``.
    """

    name: str
    type: str = "any"
    default_value: Any = None
    tooltip: str = ""
    allowed_modes: tuple[ParameterMode, ...] = tuple(ParameterMode)
    input_types: tuple[str, ...] = ()

    def has_mode(self, mode: ParameterMode) -> bool:
        return mode in self.allowed_modes

    def accepted_types(self) -> tuple[str, ...]:
        """The types a connection into this parameter may carry."""
        return self.input_types or (self.type,)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "type": self.type,
            "default_value": self.default_value,
            "tooltip": self.tooltip,
            "allowed_modes": [str(m) for m in self.allowed_modes],
        }
        if self.input_types:
            data["input_types"] = list(self.input_types)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParameterSpec:
        return cls(
            name=str(data["name"]),
            type=str(data.get("type", "any")),
            default_value=data.get("default_value"),
            tooltip=str(data.get("tooltip", "")),
            allowed_modes=_normalize_modes(data.get("allowed_modes")),
            input_types=tuple(str(t) for t in data.get("input_types") or ()),
        )


def _normalize_modes(modes: Iterable[ParameterMode | str] | None) -> tuple[ParameterMode, ...]:
    if modes is None:
        return tuple(ParameterMode)
    result = []
    for mode in modes:
        try:
            result.append(ParameterMode(str(mode).upper()) if not isinstance(mode, ParameterMode) else mode)
        except ValueError:
            allowed = ", ".join(m.value for m in ParameterMode)
            raise ValueError(f"unknown parameter mode {mode!r}; expected one of {allowed}") from None
    # Keep a canonical order so specs compare equal whatever order the author wrote.
    return tuple(m for m in ParameterMode if m in result)


#: The types of control parameters (compared case-insensitively): Griptape's ``parametercontroltype``
#: (``exec_in`` / ``exec_out``), and ``control`` for nodeisle's own nodes. A connection between two
#: control parameters carries no value; it only orders the nodes (``flow/scheduling.py``).
CONTROL_TYPES = frozenset({"parametercontroltype", "control"})


def is_control_type(type_name: str) -> bool:
    """True for a control parameter's type, whatever the parameter is called."""
    return type_name.lower() in CONTROL_TYPES
