"""How library code is imported: one synthetic package per library, and an import hook for its code.

Griptape puts a library's folder on ``sys.path``, so its node modules can ``from base_node import X``
(a sibling file) and ``import mypackage.sub`` (a package in the folder). On ``sys.path`` those names
are global: two libraries in one process with a ``utils.py`` each would share the first one imported.
nodeisle keeps the Griptape spelling and keeps the names apart:

- each library gets a package of its own, ``_nodeisle_lib_<slug>_<hash>``, whose ``__path__`` is the
  library folder (the hash is of the library's name and manifest path, so "my-lib" and "my_lib" never
  share one); its node files, siblings and sub-packages are imported as modules of that package
  (``<package>.base_node``, ``<package>.mypackage.sub``), so a relative import works in them too;
- ``builtins.__import__`` is wrapped once: an absolute import written in a module of a library package
  (the importer's ``__name__`` starts with :data:`PREFIX`) whose first name is a file or folder of that
  library's folder is resolved inside that package. Because the key is the importer's module, it holds
  for imports done lazily inside ``process()`` as well, from any thread; every other importer (the
  orchestrator, the standard library, installed packages) goes through unchanged.

Not covered: ``importlib.import_module("sibling")`` (no importer to read); library code may write
``importlib.import_module(".sibling", __package__)``. Standard library only (this runs in workers).
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import importlib.machinery
import importlib.util
import re
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

PREFIX = "_nodeisle_lib_"
#: Names a library folder cannot take over for its code: the layers nodeisle provides must win.
RESERVED = frozenset({"nodeisle", "griptape_nodes"})

#: Called when a library module imports ``name`` (one of :data:`RESERVED`'s packages, or below one), before
#: the import runs; may raise to refuse it. Set by :func:`watch_reserved` (the engine-conflict check).
ReservedWatcher = Callable[["LibraryPackage", str], None]


class ImportRefused(ImportError):
    """An import that the whole library cannot load with (a watcher's refusal, e.g. a conflicting engine)."""


@dataclass
class LibraryPackage:
    """The synthetic package one library's code is imported into."""

    name: str
    library: str
    directory: Path
    _local: dict[str, bool] = field(default_factory=dict)  # top-level name -> is a file/folder of the library
    notes: dict[str, Any] = field(default_factory=dict)  # per-load facts the watchers keep (e.g. a conflict)

    def is_local(self, top: str) -> bool:
        """Whether library code's ``import top`` means a module or package of the library folder.

        As with the folder first on ``sys.path`` (Griptape): a ``top.py`` or a ``top/__init__.py`` wins
        over an installed package; a folder without ``__init__.py`` is a namespace package, which any
        regular one elsewhere wins over. Standard library names stay the standard library's (in Griptape
        they are imported before any library is). Cached per load.
        """
        known = self._local.get(top)
        if known is None:
            known = self._local[top] = self._find_local(top)
        return known

    def _find_local(self, top: str) -> bool:
        if top in RESERVED or top in sys.stdlib_module_names or not top.isidentifier():
            return False
        if (self.directory / f"{top}.py").is_file() or (self.directory / top / "__init__.py").is_file():
            return True
        if not (self.directory / top).is_dir():
            return False
        try:
            return importlib.util.find_spec(top) is None
        except (ImportError, ValueError):
            return True

    def module_name(self, path: Path) -> str:
        """The module name of the library file ``path`` inside this package.

        A file whose path parts are all identifiers gets its dotted path (``nodes/image/blur.py`` is
        ``<package>.nodes.image.blur``): imported as a node file or from a sibling, it is one module.
        Another (``my-node.py``) gets a name of its own directly in the package.
        """
        rel = path.relative_to(self.directory).with_suffix("")
        parts = list(rel.parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        if parts and all(p.isidentifier() for p in parts):
            return ".".join([self.name, *parts])
        return f"{self.name}._file_{_slug(rel.as_posix())}"

    def import_file(self, path: Path) -> ModuleType:
        """Import the library file ``path`` as a module of this package (once; later calls reuse it)."""
        name = self.module_name(path)
        if name in sys.modules:
            return sys.modules[name]
        if not name.startswith(f"{self.name}._file_"):
            return importlib.import_module(name)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}", path=str(path))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module


_packages: dict[str, LibraryPackage] = {}
_watchers: list[ReservedWatcher] = []
_lock = threading.Lock()
_original_import: Callable[..., ModuleType] | None = None


def _slug(text: str) -> str:
    return re.sub(r"\W+", "_", text).strip("_").lower() or "library"


def package_name(library: str, manifest_path: Path) -> str:
    """The package name for a library: readable slug plus a hash that tells apart names a slug merges."""
    digest = hashlib.sha256(f"{library}\0{manifest_path}".encode()).hexdigest()[:10]
    return f"{PREFIX}{_slug(library)[:40]}_{digest}"


def open_package(library: str, manifest_path: Path) -> LibraryPackage:
    """A fresh package for a library about to be imported (again): what an earlier load imported is
    forgotten, so a reload runs the library's current files."""
    install_hook()
    name = package_name(library, manifest_path)
    directory = manifest_path.parent
    with _lock:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        importlib.invalidate_caches()
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(directory)]
        module = importlib.util.module_from_spec(spec)
        module.__path__ = [str(directory)]
        module.__doc__ = f"nodeisle's package for the code of library {library!r} ({directory})"
        sys.modules[name] = module
        package = _packages[name] = LibraryPackage(name, library, directory)
    return package


def package_of(module_name: str) -> LibraryPackage | None:
    """The library package a module belongs to, or None for a module of no library."""
    if not module_name.startswith(PREFIX):
        return None
    return _packages.get(module_name.partition(".")[0])


def watch_reserved(watcher: ReservedWatcher) -> None:
    """Call ``watcher`` whenever library code imports ``nodeisle`` or ``griptape_nodes`` (once per watcher)."""
    with _lock:
        if watcher not in _watchers:
            _watchers.append(watcher)


def _library_import(
    name: str,
    globals: Mapping[str, Any] | None = None,  # the signature of builtins.__import__
    locals: Mapping[str, Any] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> ModuleType:
    assert _original_import is not None
    importer = globals.get("__name__") if level == 0 and globals else None
    if isinstance(importer, str) and importer.startswith(PREFIX):
        package = _packages.get(importer.partition(".")[0])
        if package is not None:
            top = name.partition(".")[0]
            if top in RESERVED:
                for watcher in list(_watchers):
                    watcher(package, name)
            elif package.is_local(top):
                module = _original_import(f"{package.name}.{name}", globals, locals, fromlist, 0)
                return module if fromlist else sys.modules[f"{package.name}.{top}"]
    return _original_import(name, globals, locals, fromlist, level)


def install_hook() -> None:
    """Wrap ``builtins.__import__`` with the library-aware resolution (once per process)."""
    global _original_import
    with _lock:
        if _original_import is None:
            _original_import = builtins.__import__
            builtins.__import__ = _library_import
