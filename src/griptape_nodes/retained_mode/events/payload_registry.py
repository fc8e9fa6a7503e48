"""Griptape's ``PayloadRegistry``: the decorator libraries put on the request and result classes they define.

It keeps the classes by name (``get_type``); nodeisle routes a request by its class, not by this
registry, so registering is what a library's code expects to be able to do, nothing more.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, ClassVar, TypeVar

from griptape_nodes import _compat

__all__ = ["PayloadRegistry"]

T = TypeVar("T", bound=type)


class PayloadRegistry:
    _registry: ClassVar[dict[str, type]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def register(cls, payload_class: T) -> T:
        with cls._lock:
            cls._registry[payload_class.__name__] = payload_class
        return payload_class

    register_payload = register

    @classmethod
    def get_type(cls, type_name: str) -> type | None:
        with cls._lock:
            return cls._registry.get(type_name)

    @classmethod
    def get_registry(cls) -> dict[str, type]:
        with cls._lock:
            return dict(cls._registry)


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
