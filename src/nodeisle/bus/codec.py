"""The value codec: Python values <-> a JSON tree plus out-of-band binary attachments.

Contract (see docs/values.md):
- JSON values (None, bool, int, float, str, list, dict with str keys) round-trip exactly.
- ``tuple`` stays a tuple; ``bytes``/``bytearray`` arrive as ``bytes``.
- numpy arrays arrive as numpy arrays with the same dtype and shape; other buffer-protocol objects
  (``memoryview``, ``array.array``) arrive as numpy arrays where numpy is importable, else as a
  ``memoryview`` with the same format and shape.
- Binary data never goes inside the JSON text: it becomes an attachment, sent as binary frames.
- Known wire dataclasses (requests, results and their parts) cross by name.
- Anything else (an open file, a lock, an arbitrary object) is refused with :class:`UnencodableValue`,
  which names where in the value it was found and its type.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
from collections.abc import Mapping
from typing import Any

TAG = "$ni"


class UnencodableValue(TypeError):
    def __init__(self, path: str, type_name: str, why: str = "") -> None:
        self.path = path
        self.type_name = type_name
        self.why = why
        super().__init__(f"value at {path or '<root>'} of type {type_name} cannot cross the bus{': ' + why if why else ''}")


class UndecodableValue(ValueError):
    """A tree that does not follow the codec's contract (bad tag, bad attachment reference)."""


class Encoder:
    """Encodes one value; collects its attachments in ``attachments`` (order = reference number)."""

    def __init__(self, wire_types: Mapping[str, type[Any]] | None = None) -> None:
        self.attachments: list[memoryview] = []
        self._wire_names = {cls: name for name, cls in (wire_types or {}).items()}

    def encode(self, value: Any, path: str = "") -> Any:
        # Exact type checks first: the common JSON cases stay fast.
        kind = type(value)
        if value is None or kind is str or kind is int or kind is float or kind is bool:
            return value
        if kind is list:
            return [self.encode(item, f"{path}[{i}]") for i, item in enumerate(value)]
        if kind is dict:
            return self._encode_dict(value, path)
        if isinstance(value, enum.Enum):
            return self.encode(value.value, path)
        if isinstance(value, (bytes, bytearray)):
            return {TAG: "bytes", "ref": self._attach(memoryview(value))}
        if isinstance(value, tuple):
            return {TAG: "tuple", "items": [self.encode(item, f"{path}[{i}]") for i, item in enumerate(value)]}
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, str):  # subclasses of the JSON scalars travel as the base type
            return str(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, list):
            return [self.encode(item, f"{path}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, Mapping):
            return self._encode_dict(value, path)
        if dataclasses.is_dataclass(value) and not isinstance(value, type) and kind in self._wire_names:
            fields = {f.name: self.encode(getattr(value, f.name), f"{path}.{f.name}")
                      for f in dataclasses.fields(value) if f.init}
            return {TAG: "dc", "type": self._wire_names[kind], "fields": fields}
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(value, numpy.ndarray):
            return self._encode_ndarray(value, path)
        if numpy is not None and isinstance(value, numpy.generic):
            encoded = self._encode_ndarray(numpy.asarray(value), path)
            encoded["scalar"] = True
            return encoded
        try:
            view = memoryview(value)
        except TypeError:
            raise UnencodableValue(path, _type_name(value)) from None
        return self._encode_buffer(view, path)

    def _encode_dict(self, value: Mapping[Any, Any], path: str) -> Any:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise UnencodableValue(f"{path}[{key!r}]", _type_name(key), "dictionary keys must be str")
            out[key] = self.encode(item, f"{path}.{key}" if path else key)
        if TAG in out:
            return {TAG: "dict", "items": out}
        return out

    def _encode_ndarray(self, array: Any, path: str) -> dict[str, Any]:
        if array.dtype.hasobject:
            raise UnencodableValue(path, f"numpy.ndarray[{array.dtype}]", "object arrays hold Python objects")
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        view = memoryview(array).cast("B") if array.ndim else memoryview(array.reshape(1)).cast("B")
        return {TAG: "ndarray", "ref": self._attach(view), "dtype": array.dtype.str, "shape": list(array.shape)}

    def _encode_buffer(self, view: memoryview, path: str) -> Any:
        if not view.c_contiguous:
            view = memoryview(view.tobytes())
        return {
            TAG: "buffer",
            "ref": self._attach(view.cast("B") if view.ndim else memoryview(view.tobytes())),
            "format": view.format,
            "shape": list(view.shape),
        }

    def _attach(self, view: memoryview) -> int:
        self.attachments.append(view.cast("B") if view.format != "B" or view.ndim != 1 else view)
        return len(self.attachments) - 1


class Decoder:
    def __init__(self, attachments: list[bytearray] | list[bytes], wire_types: Mapping[str, type[Any]] | None = None) -> None:
        self.attachments = attachments
        self.wire_types = wire_types or {}

    def decode(self, tree: Any) -> Any:
        kind = type(tree)
        if kind is list:
            return [self.decode(item) for item in tree]
        if kind is not dict:
            return tree
        tag = tree.get(TAG)
        if tag is None:
            return {key: self.decode(item) for key, item in tree.items()}
        if tag == "bytes":
            return bytes(self._attachment(tree))
        if tag == "tuple":
            return tuple(self.decode(item) for item in _list(tree, "items"))
        if tag == "dict":
            items = tree.get("items")
            if not isinstance(items, dict):
                raise UndecodableValue("escaped dict without items")
            return {key: self.decode(item) for key, item in items.items()}
        if tag == "ndarray":
            array = self._decode_array(tree, str(tree.get("dtype")))
            return array[()] if tree.get("scalar") is True and hasattr(array, "shape") else array
        if tag == "buffer":
            return self._decode_buffer(tree)
        if tag == "dc":
            cls = self.wire_types.get(str(tree.get("type")))
            fields = tree.get("fields")
            if cls is None or not isinstance(fields, dict):
                raise UndecodableValue(f"unknown wire type {tree.get('type')!r}")
            try:
                return cls(**{key: self.decode(item) for key, item in fields.items()})
            except TypeError as exc:
                raise UndecodableValue(f"bad fields for {cls.__name__}: {exc}") from None
        raise UndecodableValue(f"unknown tag {tag!r}")

    def _attachment(self, tree: dict[str, Any]) -> bytearray | bytes:
        ref = tree.get("ref")
        if type(ref) is not int or not 0 <= ref < len(self.attachments):
            raise UndecodableValue(f"attachment reference {ref!r} out of range")
        return self.attachments[ref]

    def _decode_array(self, tree: dict[str, Any], dtype: str) -> Any:
        data = self._attachment(tree)
        shape = tuple(_list(tree, "shape"))
        try:
            import numpy
        except ImportError:
            return memoryview(data)
        try:
            return numpy.frombuffer(data, dtype=numpy.dtype(dtype)).reshape(shape)
        except (TypeError, ValueError) as exc:
            raise UndecodableValue(f"bad array header: {exc}") from None

    def _decode_buffer(self, tree: dict[str, Any]) -> Any:
        fmt = str(tree.get("format"))
        shape = [int(n) for n in _list(tree, "shape")]
        try:
            import numpy
        except ImportError:
            view = memoryview(self._attachment(tree))
            try:
                return view.cast(fmt, shape) if shape else view.cast(fmt)
            except (TypeError, ValueError) as exc:
                raise UndecodableValue(f"bad buffer header: {exc}") from None
        try:
            dtype = numpy.dtype(fmt)
        except TypeError as exc:
            raise UndecodableValue(f"bad buffer format {fmt!r}: {exc}") from None
        return self._decode_array(tree, dtype.str) if shape else numpy.frombuffer(self._attachment(tree), dtype)


def _list(tree: dict[str, Any], key: str) -> list[Any]:
    value = tree.get(key)
    if not isinstance(value, list):
        raise UndecodableValue(f"{key!r} must be a list")
    return value


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def encode(value: Any, wire_types: Mapping[str, type[Any]] | None = None) -> tuple[Any, list[memoryview]]:
    encoder = Encoder(wire_types)
    tree = encoder.encode(value)
    return tree, encoder.attachments


def decode(tree: Any, attachments: list[bytearray] | list[bytes], wire_types: Mapping[str, type[Any]] | None = None) -> Any:
    return Decoder(attachments, wire_types).decode(tree)
