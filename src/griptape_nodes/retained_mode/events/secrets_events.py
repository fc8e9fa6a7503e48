"""Griptape's ``GetSecretValueRequest``, answered by nodeisle's secrets (``required_secrets`` apply)."""

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
from nodeisle import requests as _n

__all__ = ["GetSecretValueRequest", "GetSecretValueResultFailure", "GetSecretValueResultSuccess"]


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
        return _n.GetSecretValueRequest(key=self.key)

    def to_result(self, result: _n.Result) -> ResultPayload:
        if not result.succeeded or not isinstance(result, _n.GetSecretValueResult):
            return GetSecretValueResultFailure(result_details=result.message)
        if result.value is None and self.should_error_on_not_found:
            return GetSecretValueResultFailure(
                result_details=f"secret {self.key!r} is not set, or this library may not read it"
            )
        return GetSecretValueResultSuccess(result_details=result.message, value=result.value)


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
