"""Griptape's ``GriptapeNodes`` facade: ``handle_request`` / ``ahandle_request`` through nodeisle's, and the
managers node code calls (``SecretsManager()``, ``ConfigManager()``, ``StaticFilesManager()``), which send
nodeisle's requests too; ``logger`` is Griptape's ``griptape_nodes`` logger."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.node_library import _loader
from griptape_nodes.retained_mode.events.base_events import RequestPayload, ResultPayload
from griptape_nodes.retained_mode.managers import config_manager as _config
from griptape_nodes.retained_mode.managers import secrets_manager as _secrets
from griptape_nodes.retained_mode.managers import static_files_manager as _static_files

__all__ = ["GriptapeNodes", "logger"]

logger = logging.getLogger("griptape_nodes")
_SECRETS = _secrets.SecretsManager()
_CONFIG = _config.ConfigManager()
_STATIC_FILES = _static_files.StaticFilesManager()
_LIBRARY_MANAGER = _loader.LibraryManager()  # is_worker, which advanced libraries' hooks ask


class _Facade(type):
    """A member of Griptape's facade this layer lacks (``GriptapeNodes.FlowManager()``, ...) is named."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise _compat.CompatAttributeError(
            f"GriptapeNodes.{name}: nodeisle's griptape_nodes compatibility layer provides GriptapeNodes."
            "handle_request, ahandle_request, SecretsManager, ConfigManager, StaticFilesManager and LibraryManager "
            "(is_worker) only, not this "
            "member of the Griptape engine",
            module=__name__,
            missing=f"GriptapeNodes.{name}",
        )


def _payload(request: object) -> RequestPayload:
    if not isinstance(request, RequestPayload):
        raise TypeError(
            f"GriptapeNodes.handle_request expects a griptape_nodes request payload, got {type(request).__name__}; "
            "a nodeisle request goes to nodeisle.handle_request"
        )
    return request


class GriptapeNodes(metaclass=_Facade):
    """The engine facade node code calls; nodeisle's engine answers (strict mode and forwarding apply)."""

    @staticmethod
    def handle_request(request: RequestPayload) -> ResultPayload:
        payload = _payload(request)
        answered = _loader.handle(payload)  # a request type a library registered a handler for
        if answered is not None:
            return answered
        return payload.to_result(nodeisle.handle_request(payload.to_nodeisle()))

    @staticmethod
    async def ahandle_request(request: RequestPayload) -> ResultPayload:
        payload = _payload(request)
        answered = await _loader.ahandle(payload)
        if answered is not None:
            return answered
        return payload.to_result(await nodeisle.ahandle_request(payload.to_nodeisle()))

    @staticmethod
    def SecretsManager() -> _secrets.SecretsManager:
        return _SECRETS

    @staticmethod
    def ConfigManager() -> _config.ConfigManager:
        return _CONFIG

    @staticmethod
    def StaticFilesManager() -> _static_files.StaticFilesManager:
        return _STATIC_FILES

    @staticmethod
    def LibraryManager() -> _loader.LibraryManager:
        return _LIBRARY_MANAGER


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
