"""Griptape's ``GetSecretValueRequest`` and ``SetSecretValueRequest``, answered by nodeisle's secrets
(``required_secrets`` apply); the key is made compliant first, as Griptape does (``openai key`` is
``OPENAI_KEY``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from griptape_nodes import _compat
from griptape_nodes.retained_mode.events.base_events import (
    RequestPayload,
    ResultPayload,
    ResultPayloadFailure,
    ResultPayloadSuccess,
)
from griptape_nodes.retained_mode.managers.secrets_manager import compliant_name
from nodeisle import requests as _n

__all__ = [
    "GetSecretValueRequest",
    "GetSecretValueResultFailure",
    "GetSecretValueResultSuccess",
    "SetSecretValueRequest",
    "SetSecretValueResultFailure",
    "SetSecretValueResultSuccess",
]


@dataclass(kw_only=True)
class GetSecretValueResultSuccess(ResultPayloadSuccess):
    value: str | None = None

    def __repr__(self) -> str:
        shown = "None" if self.value is None else "'***'"
        return f"GetSecretValueResultSuccess(result_details={self.result_details!r}, value={shown})"


@dataclass(kw_only=True)
class GetSecretValueResultFailure(ResultPayloadFailure):
    pass


@dataclass
class GetSecretValueRequest(RequestPayload):
    key: str
    should_error_on_not_found: bool = True

    def to_nodeisle(self) -> _n.Request:
        return _n.GetSecretValueRequest(key=compliant_name(self.key))

    def to_result(self, result: _n.Result) -> ResultPayload:
        if not result.succeeded or not isinstance(result, _n.GetSecretValueResult):
            return GetSecretValueResultFailure(result_details=result.message)
        if result.value is None and self.should_error_on_not_found:
            return GetSecretValueResultFailure(
                result_details=f"secret {compliant_name(self.key)!r} is not set, or this library may not read it"
            )
        return GetSecretValueResultSuccess(result_details=result.message, value=result.value)


@dataclass(kw_only=True)
class SetSecretValueResultSuccess(ResultPayloadSuccess):
    pass


@dataclass(kw_only=True)
class SetSecretValueResultFailure(ResultPayloadFailure):
    pass


@dataclass
class SetSecretValueRequest(RequestPayload):
    key: str
    value: str

    def __repr__(self) -> str:
        return f"SetSecretValueRequest(key={self.key!r}, value='***')"

    def to_nodeisle(self) -> _n.Request:
        return _n.SetSecretValueRequest(key=compliant_name(self.key), value=str(self.value))

    def to_result(self, result: _n.Result) -> ResultPayload:
        if not result.succeeded:
            return SetSecretValueResultFailure(result_details=result.message)
        return SetSecretValueResultSuccess(result_details=result.message)


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
