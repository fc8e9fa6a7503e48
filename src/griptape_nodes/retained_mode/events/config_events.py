"""Griptape's ``GetConfigValueRequest``: nodeisle's config, read with the key as given.

nodeisle's keys are its typed settings and ``libraries.<library>.<name>`` (docs/config.md); a
Griptape key such as ``nodes.<Library>.<name>`` is passed through unchanged, not translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.retained_mode.events.base_events import (
    RequestPayload,
    ResultPayload,
    ResultPayloadFailure,
    ResultPayloadSuccess,
)
from nodeisle import requests as _n

__all__ = ["GetConfigValueRequest", "GetConfigValueResultFailure", "GetConfigValueResultSuccess"]


@dataclass(kw_only=True)
class GetConfigValueResultSuccess(ResultPayloadSuccess):
    value: Any = None


@dataclass(kw_only=True)
class GetConfigValueResultFailure(ResultPayloadFailure):
    pass


@dataclass
class GetConfigValueRequest(RequestPayload):
    category_and_key: str

    def to_nodeisle(self) -> _n.Request:
        return _n.GetConfigValueRequest(key=self.category_and_key)

    def to_result(self, result: _n.Result) -> ResultPayload:
        if not result.succeeded or not isinstance(result, _n.GetConfigValueResult):
            return GetConfigValueResultFailure(result_details=result.message)
        return GetConfigValueResultSuccess(result_details=result.message, value=result.value)


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
