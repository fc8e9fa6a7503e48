"""How a manager sends a nodeisle request: through ``nodeisle.handle_request``, so forwarding, strict mode
and the authority's rules apply exactly as for nodeisle-API code; from the worker's event loop (an
``async def process``) the synchronous manager calls cannot wait, and say so."""

from __future__ import annotations

from typing import Any

import nodeisle
from griptape_nodes import _compat
from nodeisle.node.scope import current_scope
from nodeisle.requests import Request, Result


def send(request: Request) -> Result:
    return nodeisle.handle_request(request)


def current_library(what: str) -> str:
    """The library whose node code is running: the one a static file or project file belongs to."""
    scope = current_scope()
    if scope is None:
        raise RuntimeError(
            f"{what}: no node of a library is running here, so there is no library folder to save into; call it "
            "from a node's process (or send nodeisle's SaveStaticFileRequest with library_name)"
        )
    return scope.library


class Manager:
    """A manager's member this layer lacks (``ConfigManager().workspace_path`` ...) fails naming itself."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        kind = type(self).__name__
        raise _compat.CompatAttributeError(
            f"{kind}.{name}: nodeisle's griptape_nodes compatibility layer provides only part of Griptape's {kind} "
            "(docs/griptape-compat.md lists it), not this member",
            module=type(self).__module__,
            missing=f"{kind}.{name}",
        )
