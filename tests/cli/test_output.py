"""How a run is shown: arrays by dtype and shape, the same with numpy in this process and without it."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import pytest

from nodeisle.bus import codec
from nodeisle.cli.output import print_run, run_to_json
from nodeisle.requests import NodeRunResult, RunFlowResult

ARRAYS: dict[str, Any] = {
    "grid": np.zeros((3, 4), dtype=np.float32),
    "ints": np.arange(5, dtype=np.int64),
    "flags": np.array([True, False]),
    "big_endian": np.arange(6, dtype=">f4").reshape(2, 3),
    "stamps": np.array(["2026-01-01"], dtype="datetime64[D]"),
    "words": np.array(["ab", "c"], dtype="<U2"),
    "records": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
    "nested": {"inner": [np.ones(2, dtype=np.uint8)]},
}

TEXT = (
    "grid=array(float32, shape=(3, 4))  ints=array(int64, shape=(5,))  flags=array(bool, shape=(2,))  "
    "big_endian=array(>f4, shape=(2, 3))  stamps=array(datetime64[D], shape=(1,))  words=array(<U2, shape=(2,))  "
    "records=array([('a', '<i4'), ('b', '<f8')], shape=(2,))  nested={\"inner\": [array(uint8, shape=(2,))]}"
)


def result_with(outputs: dict[str, Any]) -> RunFlowResult:
    return RunFlowResult(status="succeeded", message="1 of 1 nodes succeeded",
                         nodes={"arrays": NodeRunResult(status="succeeded", outputs=outputs)})


def shown(result: RunFlowResult, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, Any]]:
    print_run(result)
    return capsys.readouterr().out, run_to_json(result)


def test_numpy_arrays_render_with_dtype_and_shape(capsys: pytest.CaptureFixture[str]) -> None:
    text, doc = shown(result_with(ARRAYS), capsys)
    assert text.splitlines()[0] == f"       ok  arrays  {TEXT}"
    outputs = doc["nodes"]["arrays"]["outputs"]
    assert outputs["grid"] == {"$type": "ndarray", "dtype": "float32", "shape": [3, 4]}
    assert outputs["nested"] == {"inner": [{"$type": "ndarray", "dtype": "uint8", "shape": [2]}]}
    for name, value in ARRAYS.items():  # numpy's own name for each dtype
        if name != "nested":
            assert outputs[name]["dtype"] == str(value.dtype)


def test_arrays_decoded_without_numpy_render_as_with_numpy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An orchestrator without numpy gets typed memoryviews and codec.RawArray; they render the same."""
    tree, attachments = codec.encode(ARRAYS)
    wire = json.loads(json.dumps(tree)), [bytearray(a) for a in attachments]
    expected = shown(result_with(ARRAYS), capsys)
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now fails
    received = codec.decode(*wire)
    assert isinstance(received["grid"], memoryview) and isinstance(received["big_endian"], codec.RawArray)
    assert shown(result_with(received), capsys) == expected


def test_a_memoryview_renders_as_an_array_of_its_format(capsys: pytest.CaptureFixture[str]) -> None:
    view = memoryview(bytearray(24)).cast("d", [3, 1])
    text, doc = shown(result_with({"view": view}), capsys)
    assert "view=array(float64, shape=(3, 1))" in text
    assert doc["nodes"]["arrays"]["outputs"]["view"] == {"$type": "ndarray", "dtype": "float64", "shape": [3, 1]}
