"""Importing a library: its node classes, and the load hooks an advanced library module brings.

The same code runs in the orchestrator (Shared) and in a worker (Isolated), so both modes import a
library the same way: into its own package (:mod:`nodeisle.node.libimport`), with the hooks of its
``advanced_library_path`` module (if any) around the import of the node classes, so the schema probe
that follows sees what they set up. nodeisle knows no hook by name: a compatibility layer (the
``griptape_nodes`` one) registers a :data:`HooksFinder` that recognises its kind of advanced library.
Standard library only (this runs in workers).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from nodeisle.errors import LibraryError
from nodeisle.manifest import LibraryManifest
from nodeisle.node import companions, libimport
from nodeisle.node.model import BaseNode
from nodeisle.strict.rules import Context

LOGGER = logging.getLogger("nodeisle.library")
companions.install()  # library code importing griptape_nodes beside a real Griptape engine is refused


@dataclass(frozen=True)
class DroppedClass:
    """A node class that is not part of the library's schema, and why."""

    class_name: str
    reason: str
    traceback: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"class_name": self.class_name, "reason": self.reason, "traceback": self.traceback}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DroppedClass:
        return cls(str(data["class_name"]), str(data["reason"]), str(data.get("traceback", "")))


class HookFailed(Exception):
    """A library's load hook raised: the library does not load. ``hook`` is the method's name."""

    def __init__(self, hook: str, cause: BaseException) -> None:
        self.hook = hook
        self.cause = cause
        super().__init__(f"{hook} raised {type(cause).__name__}: {cause}")


class LibraryHooks(Protocol):
    """What an advanced library module does around the import of its library's node classes."""

    owner: str  # the class the hooks are methods of, for messages

    def before_nodes_loaded(self) -> None: ...

    def after_nodes_loaded(self, classes: Mapping[str, type[BaseNode]]) -> None: ...

    def unload(self) -> None:
        """The library is going away (unregistered, reloaded, its mode changed): release what it registered."""
        ...


#: Recognises an advanced library module: its hooks, or None if the module is not of its kind.
HooksFinder = Callable[[LibraryManifest, ModuleType], "LibraryHooks | None"]
_finders: list[HooksFinder] = []
_loading_in: contextvars.ContextVar[Context | None] = contextvars.ContextVar("nodeisle_loading_in", default=None)
_finders_lock = threading.Lock()


def register_hooks_finder(finder: HooksFinder) -> None:
    """Let ``finder`` recognise advanced library modules (a compatibility layer calls this on import)."""
    with _finders_lock:
        if finder not in _finders:
            _finders.append(finder)


@dataclass
class LibraryCode:
    """A library's imported node classes, and its load hooks (None without an advanced library)."""

    manifest: LibraryManifest
    classes: dict[str, type[BaseNode]]
    dropped: list[DroppedClass]
    hooks: LibraryHooks | None = field(default=None, repr=False)


def loading_in() -> Context | None:
    """Where the library being imported in this context loads (its hooks may ask), or None outside a load."""
    return _loading_in.get()


def import_library(manifest: LibraryManifest, context: Context = Context.ORCHESTRATOR) -> LibraryCode:
    """Import every node class the manifest lists, between the advanced library's hooks.

    A class that cannot be imported is dropped, with why. The whole library fails (LibraryError)
    when its advanced library cannot be loaded or one of its hooks raises, and when an import is
    refused for the whole library (:class:`libimport.ImportRefused`, e.g. an engine conflict).
    ``context`` says where this runs (a worker passes WORKER), for :func:`loading_in`.
    """
    token = _loading_in.set(context)
    try:
        return _import_library(manifest)
    finally:
        _loading_in.reset(token)


def _import_library(manifest: LibraryManifest) -> LibraryCode:
    package = libimport.open_package(manifest.name, manifest.path)
    package.notes["manifest"] = manifest
    hooks = _load_hooks(manifest, package) if manifest.advanced_library is not None else None
    if hooks is not None:
        _run(manifest, hooks, hooks.before_nodes_loaded)
    modules: dict[Path, ModuleType | DroppedClass] = {}
    classes: dict[str, type[BaseNode]] = {}
    dropped: list[DroppedClass] = []
    for entry in manifest.nodes:
        loaded = modules.get(entry.path)
        if loaded is None:
            loaded = modules[entry.path] = _import_file(manifest, package, entry.path)
        if isinstance(loaded, DroppedClass):
            dropped.append(DroppedClass(entry.class_name, loaded.reason, loaded.traceback))
            continue
        cls = getattr(loaded, entry.class_name, None)
        if cls is None:
            dropped.append(DroppedClass(entry.class_name, f"{entry.path} defines no class {entry.class_name!r}"))
        elif not (isinstance(cls, type) and issubclass(cls, BaseNode)):
            dropped.append(
                DroppedClass(
                    entry.class_name, f"{entry.class_name} in {entry.path} is not a nodeisle.BaseNode subclass"
                )
            )
        else:
            classes[entry.class_name] = cls
    if hooks is not None:
        _run(manifest, hooks, lambda: hooks.after_nodes_loaded(dict(classes)))
    return LibraryCode(manifest, classes, dropped, hooks)


def unload_library(code: LibraryCode) -> None:
    """Tell the library's hooks it is going away; what they raise is logged, never raised."""
    if code.hooks is None:
        return
    try:
        code.hooks.unload()
    except Exception as exc:  # a failing teardown must not keep the library from going
        LOGGER.warning("library %r: unloading %s raised %s: %s", code.manifest.name, code.hooks.owner,
                       type(exc).__name__, exc)


def _refusal(exc: BaseException) -> libimport.ImportRefused | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, libimport.ImportRefused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _import_file(manifest: LibraryManifest, package: libimport.LibraryPackage, path: Path) -> ModuleType | DroppedClass:
    if not path.is_file():
        return DroppedClass("", f"node file {path} does not exist (nodes[].file_path in {manifest.path})")
    try:
        return package.import_file(path)
    except BaseException as exc:  # library code may raise anything, SystemExit included
        refused = _refusal(exc)
        if refused is not None:
            raise LibraryError(manifest.name, str(refused)) from None
        return DroppedClass(
            "", f"importing {path} raised {type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc))
        )


def _load_hooks(manifest: LibraryManifest, package: libimport.LibraryPackage) -> LibraryHooks:
    path = manifest.advanced_library
    assert path is not None
    where = f"advanced_library_path {manifest.raw.get('advanced_library_path')!r} in {manifest.path}"
    if not path.is_file():
        raise LibraryError(manifest.name, f"{where}: there is no file {path}; fix the path or remove the key")
    try:
        module = package.import_file(path)
    except BaseException as exc:  # library code may raise anything, SystemExit included
        refused = _refusal(exc)
        detail = str(refused) if refused else f"importing {path} raised {type(exc).__name__}: {exc}"
        raise LibraryError(manifest.name, f"{where}: {detail}\n{''.join(traceback.format_exception(exc))}") from None
    with _finders_lock:
        finders = list(_finders)
    for finder in finders:
        try:
            hooks = finder(manifest, module)
        except HookFailed as exc:
            raise LibraryError(manifest.name, f"{path}: {exc}\n{_trace(exc.cause)}") from None
        if hooks is not None:
            return hooks
    raise LibraryError(
        manifest.name,
        f"{where}: {path} defines no AdvancedNodeLibrary subclass; define one there (class MyLibrary("
        "AdvancedNodeLibrary), from griptape_nodes.node_library.advanced_node_library) or remove the key",
    )


def _trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def _run(manifest: LibraryManifest, hooks: LibraryHooks, step: Callable[[], None]) -> None:
    try:
        step()
    except HookFailed as exc:
        unload_library(LibraryCode(manifest, {}, [], hooks))  # what it registered so far goes
        raise LibraryError(
            manifest.name,
            f"{hooks.owner}.{exc.hook} in {manifest.advanced_library} (advanced_library_path) raised "
            f"{type(exc.cause).__name__}: {exc.cause}; the library is not loaded\n{_trace(exc.cause)}",
        ) from None
