"""Griptape's ``SecretsManager``: ``get_secret`` / ``set_secret`` through nodeisle's secret requests.

As in Griptape, a name is made compliant first (upper case, each run of other characters than
letters, digits and ``_`` becomes ``_``, a leading digit gets a ``_``), and a secret that is not set
is ``None`` with an error logged (``should_error_on_not_found=False`` keeps the log quiet). What
nodeisle decides stays: a library that declares ``required_secrets`` reads only those keys, so in a
worker another key raises :class:`nodeisle.RequestRefused` (rule ``declared-secrets``), exactly as
``nodeisle.handle_request(GetSecretValueRequest(...))`` does. Secret values are never logged.
"""

from __future__ import annotations

import logging
import re

from griptape_nodes.retained_mode.managers._send import Manager, send
from nodeisle.requests import GetSecretValueRequest, GetSecretValueResult, SetSecretValueRequest

__all__ = ["SecretsManager"]

LOGGER = logging.getLogger("griptape_nodes")
_NOT_A_NAME_CHARACTER = re.compile(r"\W+")


def compliant_name(secret_name: str) -> str:
    """The name as Griptape stores it: ``"openai api-key"`` -> ``"OPENAI_API_KEY"``."""
    name = _NOT_A_NAME_CHARACTER.sub("_", secret_name.upper())
    return "_" + name if name[:1].isdigit() else name


class SecretsManager(Manager):
    """Reads and writes nodeisle's secrets (``.env`` in the engine home and the operator's environment)."""

    def get_secret(self, secret_name: str, *, should_error_on_not_found: bool = True) -> str | None:
        key = compliant_name(secret_name)
        result = send(GetSecretValueRequest(key=key))
        value = result.value if isinstance(result, GetSecretValueResult) and result.succeeded else None
        if value is None and should_error_on_not_found:
            why = result.message or "it is not in .env nor in the engine's environment"
            LOGGER.error("Secret '%s' not found: %s", key, why)
        return value

    def set_secret(self, secret_name: str, secret_value: str) -> None:
        key = compliant_name(secret_name)
        result = send(SetSecretValueRequest(key=key, value=secret_value))
        if not result.succeeded:
            raise RuntimeError(f"cannot set secret '{key}': {result.message}")
