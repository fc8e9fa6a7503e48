"""How a name this layer does not provide fails: an error naming the name, the module, the library
file that asked for it, and that this is nodeisle's compatibility layer (not the Griptape engine).

``from griptape_nodes.x import Missing`` raises :class:`CompatImportError` (an ImportError);
``griptape_nodes.x.Missing`` and ``getattr`` raise :class:`CompatAttributeError` (an AttributeError,
so ``hasattr`` and ``getattr(module, name, default)`` keep working); ``import griptape_nodes.missing``
raises ModuleNotFoundError with the same explanation. Standard library only.
"""

from __future__ import annotations

import dis
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import FrameType, ModuleType

__all__ = ["CompatAttributeError", "CompatImportError", "install_finder", "missing"]

PACKAGE = "griptape_nodes"
_IMPORT_FROM = dis.opmap["IMPORT_FROM"]
_EXPLANATION = (
    "nodeisle provides a griptape_nodes compatibility layer that implements part of the Griptape Nodes "
    "API, and this name is not part of it (the real Griptape engine is not used by nodeisle)"
)


class CompatImportError(ImportError):
    """``from griptape_nodes... import name`` for a name the compatibility layer does not provide."""

    def __init__(self, message: str, *, module: str, missing: str) -> None:
        super().__init__(message, name=module)
        self.missing = missing


class CompatAttributeError(AttributeError):
    """An attribute the compatibility layer does not provide, read from one of its modules."""

    def __init__(self, message: str, *, module: str, missing: str) -> None:
        super().__init__(message)
        self.module = module
        self.missing = missing


def _asker(frame: FrameType | None) -> str:
    """``file:line`` of the first frame outside importlib and nodeisle's import hook (the library code
    that asked)."""
    while frame is not None and (
        frame.f_code.co_filename.startswith("<frozen importlib")
        or frame.f_globals.get("__name__") == "nodeisle.node.libimport"
    ):
        frame = frame.f_back
    return "an unknown caller" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


def missing(module: str, name: str) -> AttributeError:
    """The error for ``module.name``; call it from the module's ``__getattr__`` and raise it.

    Dunder names (probed by tools) get a plain AttributeError. Inside a ``from ... import`` the error
    is a :class:`CompatImportError` (an AttributeError there would become a bare "cannot import name").
    """
    if name.startswith("__") and name.endswith("__"):
        return AttributeError(f"module {module!r} has no attribute {name!r}")
    caller = sys._getframe(2)  # 0: here, 1: the module's __getattr__, 2: who read the attribute
    message = f"{module}.{name}: {_EXPLANATION}; asked for by {_asker(caller)}."
    if caller.f_code.co_code[caller.f_lasti] == _IMPORT_FROM:
        raise CompatImportError(message, module=module, missing=name)
    return CompatAttributeError(message, module=module, missing=name)


class _MissingModuleFinder(importlib.abc.MetaPathFinder):
    """Last on ``sys.meta_path``: a ``griptape_nodes.*`` module no other finder found is explained."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(PACKAGE + "."):
            return None
        message = f"No module named {fullname!r}: {_EXPLANATION}; asked for by {_asker(sys._getframe(1))}."
        raise ModuleNotFoundError(message, name=fullname)


def install_finder() -> None:
    """Put the finder of missing ``griptape_nodes`` modules at the end of ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _MissingModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MissingModuleFinder())
