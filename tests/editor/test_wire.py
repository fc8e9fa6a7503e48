"""The editor's JSON messages: requests built by class name, results and events as plain data."""

from __future__ import annotations

import json

import numpy
import pytest

from nodeisle.editor.wire import (
    PAGE_REQUESTS,
    BadMessage,
    decode_request,
    dumps,
    event_message,
    result_message,
    to_json,
)
from nodeisle.orchestrator.events import NodeStatusChanged
from nodeisle.requests import (
    LibraryMode,
    RemoteError,
    RunFlowResult,
    SetLibraryModeRequest,
    SetParameterValueRequest,
)


def test_a_request_is_its_class_by_name_with_its_fields() -> None:
    request = decode_request("SetParameterValueRequest", {"node_name": "n", "parameter_name": "p", "value": [1, 2]})
    assert request == SetParameterValueRequest(node_name="n", parameter_name="p", value=[1, 2])
    mode = decode_request("SetLibraryModeRequest", {"library_name": "L", "mode": "Isolated"})
    assert isinstance(mode, SetLibraryModeRequest) and mode.mode is LibraryMode.ISOLATED


def test_the_broadcasts_to_workers_are_not_the_pages_to_send() -> None:
    assert "RunFlowRequest" in PAGE_REQUESTS and "ReloadConfigRequest" not in PAGE_REQUESTS
    with pytest.raises(BadMessage, match="unknown request 'RefreshSecretsRequest'"):
        decode_request("RefreshSecretsRequest", {})


@pytest.mark.parametrize(
    ("name", "fields", "expected"),
    [
        ("Nope", {}, "unknown request 'Nope'; the page may send: "),
        (None, {}, "unknown request None"),
        ("RunFlowRequest", [], "RunFlowRequest: 'fields' must be an object"),
        ("RunFlowRequest", {"flow": "f"}, "RunFlowRequest has no field 'flow'; its fields are: flow_name"),
        ("RunFlowRequest", {}, "RunFlowRequest: "),
    ],
)
def test_a_bad_request_names_the_class_and_the_field(name: object, fields: object, expected: str) -> None:
    with pytest.raises(BadMessage) as caught:
        decode_request(name, fields)
    assert str(caught.value).startswith(expected), caught.value


def test_results_and_events_are_plain_json() -> None:
    result = RunFlowResult(status="succeeded", message="1 of 1 nodes succeeded")
    message = result_message(3, result)
    assert message == {"id": 3, "result": "RunFlowResult", "fields": {
        "succeeded": True, "message": "1 of 1 nodes succeeded", "status": "succeeded", "nodes": {},
        "library_errors": {}}}
    event = NodeStatusChanged(flow="f", node="n", status="failed", error=RemoteError(type="E", message="m"), at=1.5,
                              outputs={"a": numpy.zeros((2, 3), dtype="float32"), "nan": float("nan"), "b": b"hi"})
    data = json.loads(dumps(event_message(event)))
    assert data["event"] == "NodeStatusChanged"
    assert data["fields"]["error"] == {"type": "E", "message": "m", "traceback": ""}
    assert data["fields"]["outputs"]["a"] == {"$type": "ndarray", "dtype": "float32", "shape": [2, 3]}
    assert data["fields"]["outputs"]["nan"] == "nan"
    assert data["fields"]["outputs"]["b"]["$type"] == "bytes"
    assert to_json(LibraryMode.SHARED) == "shared"
