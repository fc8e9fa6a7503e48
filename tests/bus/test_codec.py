"""The value codec: what round-trips exactly, what is refused, and that binary data stays out of JSON."""

from __future__ import annotations

import array
import json
import math
import sys
import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeisle.bus import codec
from nodeisle.bus.codec import TAG, UndecodableValue, UnencodableValue
from nodeisle.requests import WIRE_TYPES, ExecuteNodeRequest, ExecuteNodeResult


def wire(value: Any, wire_types: Any = None) -> tuple[Any, list[bytearray]]:
    """Encode and pass through JSON text and bytes, as the protocol does."""
    tree, attachments = codec.encode(value, wire_types)
    return json.loads(json.dumps(tree)), [bytearray(a) for a in attachments]


def round_trip(value: Any, wire_types: Any = None) -> Any:
    tree, attachments = wire(value, wire_types)
    return codec.decode(tree, attachments, wire_types)


def same(a: Any, b: Any) -> bool:
    """Exact equality: same types all the way down, -0.0 is not 0.0, nan equals nan."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def same_array(got: Any, expected: np.ndarray) -> bool:
    return (
        type(got) is np.ndarray and got.dtype == expected.dtype and got.shape == expected.shape
        and np.array_equal(got, expected, equal_nan=expected.dtype.kind in "fc")
    )


# -- JSON values --------------------------------------------------------------------------------------
JSON_VALUES = {
    "none": None, "true": True, "false": False, "zero": 0, "negative": -17,
    "big int": 2**200, "negative big int": -(3**150), "huge int": 7**6000,
    "float": 1.5, "negative zero": -0.0, "inf": math.inf, "-inf": -math.inf, "tiny float": 5e-324,
    "empty str": "", "unicode": "żółw 🐢 \u0000 \ud7ff 漢字", "empty list": [], "empty dict": {},
    "nested": {"a": [1, {"b": [None, 2.5, "x", [[]]]}], "c": {"d": {"e": False}}},
    "dict order": {"z": 1, "a": 2, "m": 3},
}


@pytest.mark.parametrize("value", JSON_VALUES.values(), ids=JSON_VALUES.keys())
def test_json_value_round_trips_exactly(value: Any) -> None:
    assert same(round_trip(value), value)


def test_nan_arrives_as_nan() -> None:
    result = round_trip([math.nan])
    assert type(result[0]) is float and math.isnan(result[0])


def test_int_beyond_decimal_digit_limit_travels_as_hex_not_decimal() -> None:
    tree, _ = codec.encode(10**5000)
    assert tree[TAG] == "int"
    assert len(json.dumps(tree)) < 5000  # hex: no int->str digit limit, and shorter


def test_json_subclasses_travel_as_base_types() -> None:
    import enum

    class Color(enum.Enum):
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 3

    class Text(str):
        def __str__(self) -> str:
            return "overridden"

    assert same(round_trip([Color.RED, Level.HIGH, Text("kept"), True]), ["red", 3, "kept", True])


# -- tuples, bytes, escaped dicts ------------------------------------------------------------------------
def test_tuple_stays_a_tuple_also_nested() -> None:
    value = (1, (2, [3, (4,)]), ())
    assert same(round_trip(value), value)


@pytest.mark.parametrize("value", [b"", b"\x00\xff" * 10, bytearray(b"abc")], ids=["empty", "binary", "bytearray"])
def test_bytes_and_bytearray_arrive_as_bytes(value: bytes | bytearray) -> None:
    assert same(round_trip({"data": value}), {"data": bytes(value)})


def test_bytes_never_appear_inside_the_json_tree() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    tree, attachments = codec.encode({"blob": payload, "again": [payload]})
    assert len(json.dumps(tree)) < 200
    assert [a.nbytes for a in attachments] == [len(payload), len(payload)]


def test_array_data_never_appears_inside_the_json_tree() -> None:
    tree, attachments = codec.encode(np.ones((512, 512), dtype=np.float32))
    assert len(json.dumps(tree)) < 200
    assert attachments[0].nbytes == 512 * 512 * 4


def test_dict_with_tag_key_is_escaped_and_round_trips() -> None:
    value = {TAG: "bytes", "ref": 0, "inner": {TAG: None}}
    tree, attachments = codec.encode(value)
    assert tree[TAG] == "dict" and attachments == []
    assert same(round_trip(value), value)


# -- numpy --------------------------------------------------------------------------------------------
ARRAYS = {
    "float32 1-d": np.arange(10, dtype=np.float32),
    "float64 2-d with nan": np.array([[1.0, math.nan], [-0.0, math.inf]]),
    "int8": np.array([-128, 0, 127], dtype=np.int8),
    "uint64": np.array([2**64 - 1], dtype=np.uint64),
    "bool": np.array([True, False, True]),
    "complex128": np.array([1 + 2j, -3j]),
    "float16 3-d": np.arange(24, dtype=np.float16).reshape(2, 3, 4),
    "big-endian int32": np.arange(6, dtype=">i4"),
    "unicode": np.array(["ab", "żółw"]),
    "bytes": np.array([b"ab", b"c"]),
    "datetime64": np.array(["2020-01-01", "1970-01-02"], dtype="M8[D]"),
    "structured": np.array([(1, [0.5, 1.5]), (2, [2.5, 3.5])], dtype=[("a", "<i4"), ("b", "<f8", (2,))]),
    "0-d": np.array(3.25),
    "empty 2-d": np.zeros((0, 3)),
    "non-contiguous": np.arange(20, dtype=np.int16).reshape(4, 5)[::2, ::-2],
    "Fortran order": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
    "transposed": np.arange(6, dtype=np.int64).reshape(2, 3).T,
}


@pytest.mark.parametrize("array_value", ARRAYS.values(), ids=ARRAYS.keys())
def test_numpy_array_round_trips_with_dtype_shape_and_values(array_value: np.ndarray) -> None:
    result = round_trip({"a": array_value})["a"]
    assert same_array(result, array_value)
    assert result.flags.c_contiguous


SCALARS = [np.float64(1.5), np.float32(-0.0), np.int32(-7), np.uint8(255), np.bool_(True), np.complex64(1 - 1j),
           np.str_("ż"), np.bytes_(b"x"), np.datetime64("2021-03-04T05:06")]


@pytest.mark.parametrize("scalar", SCALARS, ids=[type(s).__name__ for s in SCALARS])
def test_numpy_scalar_round_trips_as_numpy_scalar_of_same_dtype(scalar: Any) -> None:
    result = round_trip([scalar])[0]
    assert type(result) is type(scalar)
    assert result.dtype == scalar.dtype
    assert result == scalar
    if scalar.dtype.kind == "f":
        assert np.signbit(result) == np.signbit(scalar)


def test_decoded_array_is_writable() -> None:
    result = round_trip(np.zeros(3))
    result[0] = 1.0
    assert result[0] == 1.0


# -- other buffers ---------------------------------------------------------------------------------------
BUFFERS = {
    "memoryview of bytes": (memoryview(b"abc"), np.frombuffer(b"abc", dtype=np.uint8)),
    "array.array d": (array.array("d", [1.0, -2.5]), np.array([1.0, -2.5])),
    "array.array i": (array.array("i", [1, 2, 3]), np.array([1, 2, 3], dtype=np.intc)),
    "array.array q empty": (array.array("q"), np.array([], dtype=np.longlong)),
    "2-d memoryview": (memoryview(bytearray(b"abcdef")).cast("B", [2, 3]),
                       np.frombuffer(b"abcdef", dtype=np.uint8).reshape(2, 3)),
    "non-contiguous memoryview": (memoryview(np.arange(12, dtype=np.int16).reshape(3, 4)[:, ::2]),
                                  np.arange(12, dtype=np.int16).reshape(3, 4)[:, ::2]),
}


@pytest.mark.parametrize("value, expected", BUFFERS.values(), ids=BUFFERS.keys())
def test_buffer_arrives_as_numpy_array_with_same_dtype_and_shape(value: Any, expected: np.ndarray) -> None:
    assert same_array(round_trip(value), expected)


@pytest.mark.parametrize("value, expected", BUFFERS.values(), ids=BUFFERS.keys())
def test_buffer_encoded_without_numpy_loaded_still_arrives_as_numpy_array(
    value: Any, expected: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "numpy")
    tree, attachments = wire(value)
    monkeypatch.undo()
    assert tree[TAG] == "buffer"
    assert same_array(codec.decode(tree, attachments), expected)


def test_array_decoded_without_numpy_is_a_memoryview_with_format_and_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    tree, attachments = wire(np.arange(6, dtype=np.float64).reshape(2, 3))
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now fails
    result = codec.decode(tree, attachments)
    assert isinstance(result, memoryview)
    assert (result.format, result.shape, result.tolist()) == ("d", (2, 3), [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])


NO_STRUCT_FORMAT = {
    "big-endian": np.arange(6, dtype=">f4").reshape(2, 3),
    "datetime64": np.array(["2026-01-01", "2026-12-31"], dtype="datetime64[D]"),
    "unicode": np.array([["ab", "c"]], dtype="<U2"),
    "structured": np.array([(1, 2.5), (3, 4.5)], dtype=[("a", "<i4"), ("b", "<f8")]),
    "scalar": np.datetime64("2026-01-01", "D"),
}


@pytest.mark.parametrize("value", NO_STRUCT_FORMAT.values(), ids=NO_STRUCT_FORMAT.keys())
def test_array_without_a_struct_format_decoded_without_numpy_keeps_its_dtype_and_shape(
    value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, attachments = wire(value)
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now fails
    result = codec.decode(tree, attachments)
    assert isinstance(result, codec.RawArray)
    assert (result.dtype, result.shape, result.scalar) == (tree["dtype"], tuple(value.shape), np.isscalar(value))
    assert result.tobytes() == np.ascontiguousarray(value).tobytes()
    again, raw = wire(result)  # an orchestrator without numpy passes it on unchanged
    monkeypatch.undo()
    assert again == tree
    passed = codec.decode(again, raw)
    assert type(passed) is type(value) and passed.dtype == value.dtype and np.array_equal(passed, value)


# -- wire dataclasses --------------------------------------------------------------------------------------
def test_wire_dataclass_round_trips_by_name_with_bytes_inside() -> None:
    request = ExecuteNodeRequest(node_name="n1", parameter_values={"blob": b"\x00" * 1000, "t": (1, 2)})
    tree, attachments = codec.encode(request, WIRE_TYPES)
    assert tree[TAG] == "dc" and tree["type"] == "ExecuteNodeRequest"
    assert len(json.dumps(tree)) < 300 and attachments[0].nbytes == 1000
    result = round_trip(request, WIRE_TYPES)
    assert type(result) is ExecuteNodeRequest
    assert result == request


def test_wire_result_round_trips() -> None:
    result = ExecuteNodeResult.failure("broken")
    assert round_trip(result, WIRE_TYPES) == result


def test_dataclass_not_in_wire_types_is_refused() -> None:
    with pytest.raises(UnencodableValue, match="ExecuteNodeRequest"):
        codec.encode(ExecuteNodeRequest(node_name="n"))


def test_unknown_wire_type_name_is_undecodable() -> None:
    tree, attachments = wire(ExecuteNodeRequest(node_name="n"), WIRE_TYPES)
    with pytest.raises(UndecodableValue, match="unknown wire type"):
        codec.decode(tree, attachments, {})


def test_wire_type_with_bad_fields_is_undecodable() -> None:
    tree = {TAG: "dc", "type": "ExecuteNodeRequest", "fields": {"no_such_field": 1}}
    with pytest.raises(UndecodableValue, match="bad fields"):
        codec.decode(tree, [], WIRE_TYPES)


# -- refusals ------------------------------------------------------------------------------------------
def test_open_file_is_refused_naming_path_and_type(tmp_path: Any) -> None:
    with open(tmp_path / "f.txt", "w") as handle, pytest.raises(UnencodableValue) as caught:
        codec.encode({"inputs": [1, {"file": handle}]})
    assert caught.value.path == "inputs[1].file"
    assert caught.value.type_name == "_io.TextIOWrapper"
    assert "inputs[1].file" in str(caught.value) and "_io.TextIOWrapper" in str(caught.value)


REFUSED = {
    "lock": (threading.Lock(), "_thread.lock"),
    "object": (object(), "object"),
    "set": ({1, 2}, "set"),
    "frozenset": (frozenset(), "frozenset"),
    "complex": (1j, "complex"),
    "function": (len, "builtin_function_or_method"),
    "object array": (np.array([1, "a", None], dtype=object), "numpy.ndarray[object]"),
    "masked array": (np.ma.masked_array([1, 2], mask=[0, 1]), "numpy.ma.MaskedArray"),
}


@pytest.mark.parametrize("value, type_name", REFUSED.values(), ids=REFUSED.keys())
def test_unencodable_value_is_refused_with_its_path_and_type(value: Any, type_name: str) -> None:
    with pytest.raises(UnencodableValue) as caught:
        codec.encode({"x": (0, value)})
    assert (caught.value.path, caught.value.type_name) == ("x[1]", type_name)
    assert isinstance(caught.value, TypeError)


def test_root_value_refusal_names_the_root() -> None:
    with pytest.raises(UnencodableValue, match="<root>"):
        codec.encode(object())


@pytest.mark.parametrize("key", [1, None, (1, 2), b"k"], ids=["int", "None", "tuple", "bytes"])
def test_non_str_dict_key_is_refused(key: Any) -> None:
    with pytest.raises(UnencodableValue, match="keys must be str") as caught:
        codec.encode({"outer": {key: 1}})
    assert caught.value.path == f"outer[{key!r}]"


def test_odd_dict_keys_are_quoted_in_the_path() -> None:
    with pytest.raises(UnencodableValue) as caught:
        codec.encode({"a b": {"ok": [object()]}})
    assert caught.value.path == "['a b'].ok[0]"


def test_self_containing_value_is_refused_not_a_recursion_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(UnencodableValue, match="contains itself"):
        codec.encode(loop)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = ([value], (value,), {"k": value})[level % 3]
    return value


def test_value_nested_max_depth_levels_round_trips() -> None:
    assert same(round_trip(nested(codec.MAX_DEPTH)), nested(codec.MAX_DEPTH))


def test_value_nested_deeper_than_max_depth_is_refused() -> None:
    with pytest.raises(UnencodableValue, match="nested deeper"):
        codec.encode(nested(codec.MAX_DEPTH + 1))


# -- undecodable trees ------------------------------------------------------------------------------------
UNDECODABLE = {
    "unknown tag": ({TAG: "pickle", "data": "x"}, "unknown tag"),
    "ref out of range": ({TAG: "bytes", "ref": 1}, "out of range"),
    "negative ref": ({TAG: "bytes", "ref": -1}, "out of range"),
    "ref not int": ({TAG: "bytes", "ref": "0"}, "out of range"),
    "bool ref": ({TAG: "bytes", "ref": True}, "out of range"),
    "tuple without items": ({TAG: "tuple"}, "items"),
    "escaped dict without items": ({TAG: "dict"}, "items"),
    "bad dtype": ({TAG: "ndarray", "ref": 0, "dtype": "nonsense", "shape": [1]}, "bad array header"),
    "object dtype": ({TAG: "ndarray", "ref": 0, "dtype": "|O", "shape": [1]}, "bad array header"),
    "shape mismatch": ({TAG: "ndarray", "ref": 0, "dtype": "<f8", "shape": [3]}, "bad array header"),
    "shape not list": ({TAG: "ndarray", "ref": 0, "dtype": "<f8", "shape": 1}, "shape"),
    "bad buffer format": ({TAG: "buffer", "ref": 0, "format": "T{i}", "shape": [1]}, "format"),
    "bad hex int": ({TAG: "int", "hex": "zz"}, "hex"),
}


@pytest.mark.parametrize("tree, match", UNDECODABLE.values(), ids=UNDECODABLE.keys())
def test_malformed_tree_is_undecodable(tree: Any, match: str) -> None:
    with pytest.raises(UndecodableValue, match=match):
        codec.decode({"v": [tree]}, [bytearray(8)])


def test_too_deep_tree_is_undecodable_not_a_recursion_error() -> None:
    tree: Any = 0
    for _ in range(5000):
        tree = [tree]
    with pytest.raises(UndecodableValue, match="too deeply"):
        codec.decode(tree, [])


# -- property ------------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_round_trips_exactly(value: Any) -> None:
    assert same(round_trip(value), value)
