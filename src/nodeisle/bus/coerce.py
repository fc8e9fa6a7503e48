"""What the codec knows of wire dataclasses, computed once per class or registry: their init fields,
class -> wire name, and how to rebuild enum fields (an enum crosses the bus as its value)."""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

_COERCERS: dict[type[Any], dict[str, Callable[[Any], Any]]] = {}


def coercers(cls: type[Any]) -> dict[str, Callable[[Any], Any]]:
    """For each field of a wire dataclass annotated with an enum (or a tuple of one), how to rebuild it."""
    found = _COERCERS.get(cls)
    if found is None:
        found = {}
        try:
            hints = typing.get_type_hints(cls)
        except Exception:  # an annotation this process cannot resolve: nothing to coerce
            hints = {}
        for name, hint in hints.items():
            options = [a for a in typing.get_args(hint) if a is not type(None)] if _is_optional(hint) else [hint]
            hint = options[0] if len(options) == 1 else hint
            if isinstance(hint, type) and issubclass(hint, enum.Enum):
                found[name] = hint
            elif typing.get_origin(hint) is tuple:
                item, *rest = typing.get_args(hint) or (None,)
                if rest == [Ellipsis] and isinstance(item, type) and issubclass(item, enum.Enum):
                    found[name] = functools.partial(_enum_tuple, item)
        _COERCERS[cls] = found
    return found


def _is_optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def _enum_tuple(kind: type[enum.Enum], items: Any) -> tuple[Any, ...]:
    return tuple(kind(item) for item in items)


_FIELDS: dict[type[Any], tuple[str, ...]] = {}
def wire_names(wire_types: Mapping[str, type[Any]] | None) -> dict[type[Any], str]:
    """Class -> wire name for a registry."""
    return {cls: name for name, cls in (wire_types or {}).items()}


def init_fields(cls: type[Any]) -> tuple[str, ...]:
    """The init fields of a wire dataclass, computed once per class."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return names
