"""Griptape's parameter requests, with Griptape's field names, mapped onto nodeisle's requests.

``node_name`` (and ``node_id``, the newer Griptape name for it) may be None: the node whose code is
running. Fields nodeisle has no counterpart for (``data_type``, ``ui_options``, ``tooltip_as_*``,
``initial_setup``, ``is_output``, ``parent_container_name``) are accepted and not sent.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Self

from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import ParameterMode
from griptape_nodes.retained_mode.events.base_events import (
    RequestPayload,
    ResultPayload,
    ResultPayloadFailure,
    ResultPayloadSuccess,
    target_node,
)
from nodeisle import requests as _n

__all__ = [
    "AddParameterToNodeRequest",
    "AddParameterToNodeResultFailure",
    "AddParameterToNodeResultSuccess",
    "GetParameterValueRequest",
    "GetParameterValueResultFailure",
    "GetParameterValueResultSuccess",
    "RemoveParameterFromNodeRequest",
    "RemoveParameterFromNodeResultFailure",
    "RemoveParameterFromNodeResultSuccess",
    "SetParameterValueRequest",
    "SetParameterValueResultFailure",
    "SetParameterValueResultSuccess",
]


@dataclass(kw_only=True)
class SetParameterValueResultSuccess(ResultPayloadSuccess):
    finalized_value: Any = None  # the value as sent: nodeisle's answer does not carry the converted one
    data_type: str = ""


@dataclass(kw_only=True)
class SetParameterValueResultFailure(ResultPayloadFailure):
    pass


@dataclass
class SetParameterValueRequest(RequestPayload):
    parameter_name: str
    value: Any = None
    node_name: str | None = None
    node_id: str | None = None
    data_type: str | None = None
    initial_setup: bool = False
    is_output: bool = False

    def to_nodeisle(self) -> _n.Request:
        return _n.SetParameterValueRequest(
            node_name=target_node(self), parameter_name=self.parameter_name, value=self.value
        )

    def to_result(self, result: _n.Result) -> ResultPayload:
        if not result.succeeded:
            return SetParameterValueResultFailure(result_details=result.message)
        data_type = self.data_type or type(self.value).__name__
        return SetParameterValueResultSuccess(
            result_details=result.message, finalized_value=self.value, data_type=data_type
        )


@dataclass(kw_only=True)
class GetParameterValueResultSuccess(ResultPayloadSuccess):
    value: Any = None
    # Griptape also reports the parameter's types; nodeisle's answer carries the value only (None here).
    type: str | None = None
    input_types: list[str] | None = None
    output_type: str | None = None


@dataclass(kw_only=True)
class GetParameterValueResultFailure(ResultPayloadFailure):
    pass


@dataclass
class GetParameterValueRequest(RequestPayload):
    parameter_name: str
    node_name: str | None = None
    node_id: str | None = None

    def to_nodeisle(self) -> _n.Request:
        return _n.GetParameterValueRequest(node_name=target_node(self), parameter_name=self.parameter_name)

    def to_result(self, result: _n.Result) -> ResultPayload:
        if not result.succeeded or not isinstance(result, _n.GetParameterValueResult):
            return GetParameterValueResultFailure(result_details=result.message)
        return GetParameterValueResultSuccess(result_details=result.message, value=result.value)


@dataclass(kw_only=True)
class AddParameterToNodeResultSuccess(ResultPayloadSuccess):
    parameter_name: str = ""
    type: str = ""
    node_name: str = ""

    @property
    def node_id(self) -> str:
        return self.node_name


@dataclass(kw_only=True)
class AddParameterToNodeResultFailure(ResultPayloadFailure):
    pass


@dataclass
class AddParameterToNodeRequest(RequestPayload):
    node_name: str | None = None
    parameter_name: str | None = None
    default_value: Any = None
    tooltip: str | None = None
    tooltip_as_input: str | None = None
    tooltip_as_property: str | None = None
    tooltip_as_output: str | None = None
    type: str | None = None
    input_types: list[str] | None = None
    output_type: str | None = None
    ui_options: dict[str, Any] | None = None
    mode_allowed_input: bool = True
    mode_allowed_property: bool = True
    mode_allowed_output: bool = True
    parent_container_name: str | None = None
    initial_setup: bool = False
    node_id: str | None = None

    @classmethod
    def create(cls, **kwargs: Any) -> Self:
        """As in Griptape: ``name`` is ``parameter_name``, ``allowed_modes`` sets the three mode flags,
        and keywords the request has no field for are dropped."""
        if "name" in kwargs:
            kwargs["parameter_name"] = kwargs.pop("name")
        if "allowed_modes" in kwargs:
            modes = {ParameterMode(str(m).upper()) for m in kwargs.pop("allowed_modes")}
            kwargs["mode_allowed_input"] = ParameterMode.INPUT in modes
            kwargs["mode_allowed_property"] = ParameterMode.PROPERTY in modes
            kwargs["mode_allowed_output"] = ParameterMode.OUTPUT in modes
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in kwargs.items() if k in known})

    def resolved_type(self) -> str:
        """Griptape's rule: ``type``, else the first of ``input_types``, else ``output_type``, else ``str``."""
        return self.type or next(iter(self.input_types or []), None) or self.output_type or "str"

    def to_nodeisle(self) -> _n.Request:
        if not self.parameter_name:
            raise ValueError("AddParameterToNodeRequest needs a parameter_name")
        modes = [
            mode.value
            for mode, allowed in (
                (ParameterMode.INPUT, self.mode_allowed_input),
                (ParameterMode.OUTPUT, self.mode_allowed_output),
                (ParameterMode.PROPERTY, self.mode_allowed_property),
            )
            if allowed
        ]
        return _n.AddParameterToNodeRequest(
            node_name=target_node(self),
            parameter_name=self.parameter_name,
            type=self.resolved_type(),
            default_value=self.default_value,
            tooltip=self.tooltip or "",
            allowed_modes=modes,
        )

    def to_result(self, result: _n.Result) -> ResultPayload:
        if not result.succeeded:
            return AddParameterToNodeResultFailure(result_details=result.message)
        return AddParameterToNodeResultSuccess(
            result_details=result.message,
            parameter_name=self.parameter_name or "",
            type=self.resolved_type(),
            node_name=target_node(self),
        )


@dataclass(kw_only=True)
class RemoveParameterFromNodeResultSuccess(ResultPayloadSuccess):
    pass


@dataclass(kw_only=True)
class RemoveParameterFromNodeResultFailure(ResultPayloadFailure):
    pass


@dataclass
class RemoveParameterFromNodeRequest(RequestPayload):
    parameter_name: str
    node_name: str | None = None
    node_id: str | None = None

    def to_nodeisle(self) -> _n.Request:
        return _n.RemoveParameterFromNodeRequest(node_name=target_node(self), parameter_name=self.parameter_name)

    def to_result(self, result: _n.Result) -> ResultPayload:
        if not result.succeeded:
            return RemoveParameterFromNodeResultFailure(result_details=result.message)
        return RemoveParameterFromNodeResultSuccess(result_details=result.message)


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
