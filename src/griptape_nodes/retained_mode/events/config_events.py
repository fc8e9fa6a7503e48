"""Griptape's ``GetConfigValueRequest`` and ``SetConfigValueRequest`` on nodeisle's config.

The key is mapped as ``ConfigManager`` maps it (:func:`~griptape_nodes.retained_mode.managers.
config_manager.nodeisle_key`): a dotted Griptape key ``<category>.<name>`` is nodeisle's
``libraries.<category>.<name>``; a key without a dot is a nodeisle setting.
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
from griptape_nodes.retained_mode.managers.config_manager import nodeisle_key
from nodeisle import requests as _n

__all__ = [
    "GetConfigValueRequest",
    "GetConfigValueResultFailure",
    "GetConfigValueResultSuccess",
    "SetConfigValueRequest",
    "SetConfigValueResultFailure",
    "SetConfigValueResultSuccess",
]


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
        return _n.GetConfigValueRequest(key=nodeisle_key(self.category_and_key))

    def to_result(self, result: _n.Result) -> ResultPayload:
        if not result.succeeded or not isinstance(result, _n.GetConfigValueResult):
            return GetConfigValueResultFailure(result_details=result.message)
        return GetConfigValueResultSuccess(result_details=result.message, value=result.value)


@dataclass(kw_only=True)
class SetConfigValueResultSuccess(ResultPayloadSuccess):
    pass


@dataclass(kw_only=True)
class SetConfigValueResultFailure(ResultPayloadFailure):
    pass


@dataclass
class SetConfigValueRequest(RequestPayload):
    category_and_key: str
    value: Any = None

    def to_nodeisle(self) -> _n.Request:
        return _n.SetConfigValueRequest(key=nodeisle_key(self.category_and_key), value=self.value)

    def to_result(self, result: _n.Result) -> ResultPayload:
        if not result.succeeded:
            return SetConfigValueResultFailure(result_details=result.message)
        return SetConfigValueResultSuccess(result_details=result.message)


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
