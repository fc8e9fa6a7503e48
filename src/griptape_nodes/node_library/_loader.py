"""Running an ``AdvancedNodeLibrary`` for nodeisle's loader, and answering library-defined requests.

:func:`install` registers a hooks finder with :mod:`nodeisle.node.loading` (when
``advanced_node_library`` is imported, which the advanced library module does): it finds the one
``AdvancedNodeLibrary`` subclass the module defines and wraps it as nodeisle's ``LibraryHooks``.

Request handlers are process-wide, as in Griptape's engine: one handler per request type, answering
node code of any library in the same process (the orchestrator for Shared libraries, the library's own
worker for an Isolated one, where they run without a round trip). :func:`handle` / :func:`ahandle`
are what ``GriptapeNodes.handle_request`` / ``ahandle_request`` ask first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from griptape_nodes.node_library.library_registry import Library, LibraryRegistry, LibrarySchema
from griptape_nodes.retained_mode.events.base_events import RequestPayload, ResultPayload
from nodeisle.manifest import LibraryManifest
from nodeisle.node.loading import HookFailed, loading_in, register_hooks_finder
from nodeisle.node.scope import current_scope
from nodeisle.strict.rules import Context

if TYPE_CHECKING:
    from griptape_nodes.node_library.advanced_node_library import AdvancedNodeLibrary

LOGGER = logging.getLogger("nodeisle.library")
Handler = Callable[[Any], Any]


@dataclass(frozen=True)
class _Registered:
    library: str
    handler: Handler


_handlers: dict[type[Any], _Registered] = {}
_lock = threading.Lock()


def install(base: type[AdvancedNodeLibrary]) -> None:
    """Let nodeisle's loader recognise subclasses of ``base`` in advanced library modules."""
    register_hooks_finder(_Finder(base))


@dataclass(frozen=True)
class _Finder:
    base: type[AdvancedNodeLibrary]

    def __call__(self, manifest: LibraryManifest, module: ModuleType) -> AdvancedHooks | None:
        # As Griptape: the first subclass defined in the module itself (not one it imports).
        found = next((obj for obj in vars(module).values() if isinstance(obj, type) and issubclass(obj, self.base)
                      and obj is not self.base and obj.__module__ == module.__name__), None)
        if found is None:
            return None
        try:
            instance = found()
        except Exception as exc:
            raise HookFailed(f"{found.__name__}()", exc) from exc
        return AdvancedHooks(manifest, instance)


class AdvancedHooks:
    """nodeisle's ``LibraryHooks`` for one ``AdvancedNodeLibrary`` instance."""

    def __init__(self, manifest: LibraryManifest, instance: AdvancedNodeLibrary) -> None:
        self.owner = type(instance).__name__
        self.manifest = manifest
        self.instance = instance
        self.data = LibrarySchema.from_manifest(manifest)
        self.library = Library(self.data, instance)
        self.loaded = False  # the whole load went through: only then does before_library_unregistered run

    def _call(self, hook: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:
            raise HookFailed(hook, exc) from exc

    def before_nodes_loaded(self) -> None:
        LibraryRegistry._put(self.library)
        self._call("before_library_nodes_loaded",
                   lambda: self.instance.before_library_nodes_loaded(self.data, self.library))

    def after_nodes_loaded(self, classes: Mapping[str, type[Any]]) -> None:
        by_name = {n.class_name: n for n in self.data.nodes}
        for name, cls in classes.items():
            self.library.register_new_node_type(cls, by_name[name].metadata)
        self._call("after_library_nodes_loaded",
                   lambda: self.instance.after_library_nodes_loaded(self.data, self.library))
        pairs = self._call("get_request_handlers", self.instance.get_request_handlers)
        self._call("get_request_handlers", lambda: self._register(pairs))
        self.loaded = True

    def _register(self, pairs: object) -> None:
        """Check the whole list, then register it: a bad entry registers nothing."""
        shape = "a list of (request type, handler) pairs, the type a RequestPayload subclass"
        if not isinstance(pairs, (list, tuple)):
            raise TypeError(f"returned {type(pairs).__name__}, expected {shape}")
        checked: list[tuple[type[Any], Handler]] = []
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], type)
                    and issubclass(pair[0], RequestPayload) and callable(pair[1])):
                raise TypeError(f"entry {i} is {pair!r}, expected {shape}")
            if pair[0].to_nodeisle is not RequestPayload.to_nodeisle:
                raise ValueError(f"{pair[0].__name__} is one of Griptape's own requests, which the engine answers; "
                                 "a library registers handlers for request types it defines")
            checked.append((pair[0], pair[1]))
        name = self.manifest.name
        with _lock:
            for request_type, _ in checked:
                other = _handlers.get(request_type)
                if other is not None and other.library != name:
                    raise ValueError(f"{request_type.__name__} already has a handler, registered by library "
                                     f"{other.library!r}; a request type has one handler per process")
            for request_type in [t for t, r in _handlers.items() if r.library == name]:
                del _handlers[request_type]
            for request_type, handler in checked:
                _handlers[request_type] = _Registered(name, handler)
        self.library._request_types[:] = [t for t, _ in checked]

    def unload(self) -> None:
        try:
            if self.loaded:
                self.instance.before_library_unregistered(self.data, self.library)
        except Exception as exc:  # as Griptape: logged, and unregistering goes on
            LOGGER.warning("library %r: %s.before_library_unregistered raised %s: %s",
                           self.manifest.name, self.owner, type(exc).__name__, exc)
        with _lock:
            for request_type in self.library._request_types:
                registered = _handlers.get(request_type)
                if registered is not None and registered.library == self.manifest.name:
                    del _handlers[request_type]
        LibraryRegistry._drop(self.manifest.name, self.library)


def _handler(request: RequestPayload) -> _Registered | None:
    with _lock:
        return _handlers.get(type(request))


def _checked(registered: _Registered, request: RequestPayload, result: object) -> ResultPayload:
    if not isinstance(result, ResultPayload):
        raise TypeError(f"the handler library {registered.library!r} registered for {type(request).__name__} "
                        f"returned {type(result).__name__}, expected a ResultPayload")
    return result


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def handle(request: RequestPayload) -> ResultPayload | None:
    """The answer of the library handler for ``request``'s type, or None if no library handles it.

    An async handler called from synchronous code runs on an event loop of its own (in another
    thread if this one runs a loop), as Griptape's engine does.
    """
    registered = _handler(request)
    if registered is None:
        return None
    result = registered.handler(request)
    if inspect.isawaitable(result):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            result = asyncio.run(_awaited(result))
        else:
            with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="library-request") as side:
                result = side.submit(asyncio.run, _awaited(result)).result()
    return _checked(registered, request, result)


async def ahandle(request: RequestPayload) -> ResultPayload | None:
    """:func:`handle` for async callers: an async handler is awaited, a sync one called."""
    registered = _handler(request)
    if registered is None:
        return None
    result = registered.handler(request)
    if inspect.isawaitable(result):
        result = await result
    return _checked(registered, request, result)


class LibraryManager:
    """What hooks ask of Griptape's ``GriptapeNodes.LibraryManager()``: ``is_worker``."""

    @property
    def is_worker(self) -> bool:
        """Whether this code runs in a worker: a node's scope says, else the library load under way."""
        scope = current_scope()
        where = scope.context if scope is not None else loading_in()
        return where is Context.WORKER
