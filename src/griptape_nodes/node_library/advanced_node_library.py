"""Griptape's ``AdvancedNodeLibrary``: the class a library's ``advanced_library_path`` module subclasses.

nodeisle instantiates the one subclass defined in that file (without arguments) and calls its hooks
where the library's node classes are imported (the orchestrator for a Shared library, its worker for
an Isolated one): ``before_library_nodes_loaded`` before the first node file, then
``after_library_nodes_loaded``, then it registers what ``get_request_handlers`` returns;
``before_library_unregistered`` runs when the library goes away. Each hook gets the library's data
and the library (:mod:`griptape_nodes.node_library.library_registry`). A hook that raises fails the
library's load, naming the library, the file and the hook (see griptape_nodes.node_library._loader).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from griptape_nodes import _compat
from griptape_nodes.node_library import _loader
from griptape_nodes.node_library.library_registry import Library, LibrarySchema
from griptape_nodes.retained_mode.events.base_events import RequestPayload, ResultPayload

__all__ = ["AdvancedNodeLibrary"]

RequestHandler = Callable[[RequestPayload], ResultPayload] | Callable[[RequestPayload], Awaitable[ResultPayload]]


class AdvancedNodeLibrary:
    """Subclass it in the advanced library module; every hook is optional (these do nothing)."""

    def before_library_nodes_loaded(self, library_data: LibrarySchema, library: Library) -> None:
        """Before the library's node files are imported (set up what they need: paths, checkouts...)."""

    def after_library_nodes_loaded(self, library_data: LibrarySchema, library: Library) -> None:
        """After the node classes were imported and registered with ``library``."""

    def before_library_unregistered(self, library_data: LibrarySchema, library: Library) -> None:
        """The library is going away (unregistered, reloaded, its mode changed); what it raises is logged."""

    def get_request_handlers(self) -> list[tuple[type[RequestPayload], RequestHandler]]:
        """(request type, handler) pairs: ``GriptapeNodes.handle_request(request)`` of such a type calls the
        handler (sync or async) in the same process and returns its result. A type has one handler."""
        return []


_loader.install(AdvancedNodeLibrary)

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
