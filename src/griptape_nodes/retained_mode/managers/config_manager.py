"""Griptape's ``ConfigManager``: ``get_config_value`` / ``set_config_value`` on nodeisle's config.

Keys (docs/griptape-compat.md#config): a Griptape library setting is ``<category>.<name>``
(``advanced_media_library.temp_folder_name``, or the older ``nodes.<Service>.<name>``); nodeisle keeps
library values under ``libraries.<library>.<name>``, so a dotted key ``K`` is read and written as
``libraries.K`` (category ``advanced_media_library``, setting ``temp_folder_name``). A key without a
dot is one of nodeisle's own settings (``max_value_bytes``, ...), and a key that starts with
``libraries.`` is taken as it is. Writes go through ``SetConfigValueRequest``, so a worker may write
only ``libraries.<its library's name>.*`` (rule ``engine-config``): a library whose category is its
own name can write its settings, others can read them.

As in Griptape, a key that is not set reads as ``default`` (None unless given), a string value
``"$NAME"`` is the secret ``NAME`` (``should_load_env_var_if_detected``), and ``cast_type`` turns a
text value into a bool, int, float or str. ``config_source`` is accepted: nodeisle has one merged
view of its layers (defaults, ``config.json``, ``NODEISLE_*``, ``-c``), which every source reads.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from griptape_nodes.retained_mode.managers._send import Manager, send
from griptape_nodes.retained_mode.managers.secrets_manager import SecretsManager
from nodeisle.errors import NotConnectedError
from nodeisle.node.scope import Phase, current_scope
from nodeisle.requests import GetConfigValueRequest, GetConfigValueResult, SetConfigValueRequest

__all__ = ["ConfigManager", "nodeisle_key"]

LOGGER = logging.getLogger("griptape_nodes")
_LIBRARIES = "libraries."
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def nodeisle_key(key: str) -> str:
    """The nodeisle config key a Griptape key reads and writes."""
    if key.startswith(_LIBRARIES) or "." not in key:
        return key
    return _LIBRARIES + key


def _async_node_code() -> bool:
    """Node code (past ``__init__``) running on an event loop: an async process or hook."""
    scope = current_scope()
    if scope is None or scope.phase is Phase.CONSTRUCTION:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _cast(key: str, value: Any, cast_type: type[Any]) -> Any:
    if cast_type is bool and isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError(f"config key {key!r}: cannot read {value!r} as a bool (use true/false, 1/0, yes/no, on/off)")
    try:
        return cast_type(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"config key {key!r}: cannot convert {value!r} to {cast_type.__name__}: {exc}") from None


class ConfigManager(Manager):
    """Reads and writes nodeisle's config with Griptape's calls."""

    def get_config_value(
        self,
        key: str,
        *,
        should_load_env_var_if_detected: bool = True,
        config_source: str = "merged_config",
        default: Any | None = None,
        cast_type: type[Any] | None = None,
    ) -> Any:
        target = nodeisle_key(key)
        try:
            result = send(GetConfigValueRequest(key=target))
        except NotConnectedError:
            if not _async_node_code():
                raise  # __init__ (reentrant-bus-in-init, as for nodeisle's API), or no engine at all
            # An async process in a worker, and the worker's view (its whole config) lacks the key: not set.
            LOGGER.debug("config key %r (%s) is not set in this worker's view", key, target)
            return default
        if not result.succeeded or not isinstance(result, GetConfigValueResult):
            LOGGER.debug("config key %r (%s) not found: %s", key, target, result.message)
            return default
        value = default if result.value is None else result.value
        if should_load_env_var_if_detected and isinstance(value, str) and value.startswith("$"):
            value = SecretsManager().get_secret(value[1:])
        if cast_type is not None and value is not None:
            value = _cast(key, value, cast_type)
        return value

    def set_config_value(self, key: str, value: Any, *, should_set_env_var_if_detected: bool = True) -> bool:
        """Store ``value`` in ``config.json``; False (with the reason logged) when nodeisle did not store it.

        ``should_set_env_var_if_detected`` is accepted; nodeisle does not create an empty secret for a
        ``"$NAME"`` value (set the secret itself with ``SecretsManager().set_secret``)."""
        result = send(SetConfigValueRequest(key=nodeisle_key(key), value=value))
        if not result.succeeded:
            LOGGER.error("config key %r was not set: %s", key, result.message)
        return result.succeeded
