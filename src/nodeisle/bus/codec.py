"""The value codec: Python values <-> a JSON tree plus out-of-band binary attachments.

Contract (see docs/values.md):
- JSON values (None, bool, int, float, str, list, dict with str keys) round-trip exactly; this
  includes ints of any size, ``-0.0``, ``nan`` and the infinities, and strings of any size (a long
  string travels as UTF-8 in an attachment, chunked like bytes; lone surrogates included). Subclasses of these types
  (``IntEnum``, ``StrEnum``, other enums by their value) travel as the base type.
- ``tuple`` stays a tuple; ``bytes``/``bytearray`` arrive as ``bytes``.
- numpy arrays arrive as numpy arrays with the same dtype (structured dtypes included) and shape,
  C-ordered; numpy scalars arrive as numpy scalars of the same dtype. Other buffer-protocol objects
  (``memoryview``, ``array.array``) arrive as numpy arrays where numpy is importable, else as a
  ``memoryview`` with the same format and shape where the format allows it. Where numpy is not
  importable, an array whose dtype has no struct format arrives as a :class:`RawArray` (its bytes,
  dtype and shape), which encodes back to the same array.
- Binary data never goes inside the JSON text: it becomes an attachment, sent as binary frames.
- Known wire dataclasses (requests, results and their parts) cross by name.
- Anything else (an open file, a lock, an arbitrary object, a set, a dict with non-str keys, an
  object array, a value nested deeper than :data:`MAX_DEPTH` or containing itself) is refused with
  :class:`UnencodableValue`, which names where in the value it was found and its type.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import sys
from collections.abc import Mapping
from typing import Any

from nodeisle.bus.coerce import coercers as _coercers
from nodeisle.bus.coerce import init_fields as _init_fields
from nodeisle.bus.coerce import wire_names as _wire_names
from nodeisle.bus.formats import PORTABLE_FORMAT as _PORTABLE_FORMAT
from nodeisle.bus.formats import format_dtype as format_dtype
from nodeisle.bus.formats import struct_char as _struct_char

TAG = "$ni"

#: How deeply containers may nest in one value; deeper values (and cycles) are refused.
MAX_DEPTH = 100

# Ints at least this large travel as hex text: JSON's decimal form is limited to a few thousand
# digits by ``sys.set_int_max_str_digits`` (minimum 640), hex conversion is not limited.
_INT_LIMIT = 1 << 2000

#: Strings longer than this travel as attachments, so the JSON text of a message stays small.
STR_INLINE_MAX = 4096

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class UnencodableValue(TypeError):
    """A value that cannot cross the bus; ``path`` says where in the value, ``type_name`` what it is."""

    def __init__(self, path: str, type_name: str, why: str = "") -> None:
        self.path = path
        self.type_name = type_name
        self.why = why
        where = path or "<root>"
        super().__init__(f"value at {where} of type {type_name} cannot cross the bus{': ' + why if why else ''}")

    def _inside(self, segment: str) -> UnencodableValue:
        """The same refusal, seen from the container that holds the value at ``segment``."""
        inner = self.path if not self.path or self.path.startswith("[") else "." + self.path
        return UnencodableValue((segment + inner).removeprefix("."), self.type_name, self.why)


@dataclasses.dataclass(frozen=True)
class Encoded:
    """A value already encoded, as :func:`encode` returns it: a peer sends it as it is, not again."""

    tree: Any
    attachments: list[memoryview]


class UndecodableValue(ValueError):
    """A tree that does not follow the codec's contract (bad tag, bad attachment reference)."""


class RawArray:
    """An array received where numpy is not importable, whose dtype has no struct format.

    Big-endian, ``datetime64``, unicode, structured arrays and the like: ``data`` holds the
    C-ordered bytes, ``dtype`` numpy's description as sent (``dtype.str``, or the field list of a
    structured dtype), ``shape`` the shape; ``scalar`` marks a numpy scalar. Encoding it sends
    the same array on, so a receiver with numpy gets the original dtype and shape back.
    """

    __slots__ = ("data", "dtype", "scalar", "shape")

    def __init__(self, data: memoryview, dtype: Any, shape: tuple[int, ...], scalar: bool = False) -> None:
        self.data = data
        self.dtype = dtype
        self.shape = shape
        self.scalar = scalar

    def tobytes(self) -> bytes:
        return self.data.tobytes()

    def __repr__(self) -> str:
        return f"RawArray(dtype={self.dtype!r}, shape={self.shape!r}{', scalar=True' if self.scalar else ''})"


def first_segment(path: str) -> tuple[str, str]:
    """Split an :class:`UnencodableValue` path into its first key and the rest: ``"a[0].b"`` gives
    ``("a", "[0].b")``, ``"a.b"`` gives ``("a", "b")`` (callers name the parameter behind a path)."""
    cut = min((i for i in (path.find("."), path.find("[")) if i >= 0), default=len(path))
    return path[:cut], path[cut:].removeprefix(".")


def _key_segment(key: str) -> str:
    return f".{key}" if _IDENTIFIER.fullmatch(key) else f"[{key!r}]"


_NOT_A_SUBCLASS = object()  # _encode_as_base: the value is no subclass of a JSON type


class Encoder:
    """Encodes one value; collects its attachments in ``attachments`` (order = reference number)."""

    def __init__(self, wire_types: Mapping[str, type[Any]] | None = None, limit: int | None = None) -> None:
        self.attachments: list[memoryview] = []
        self._wire_names = _wire_names(wire_types)
        self._depth = 0
        self._limit = limit  # bytes all attachments together may take; None: no limit
        self._total = 0

    def encode(self, value: Any, path: str = "") -> Any:
        """The JSON tree for ``value``; ``path`` prefixes the location named by UnencodableValue."""
        self._depth = 0
        try:
            return self._encode(value)
        except UnencodableValue as exc:
            raise exc._inside(path) if path else exc from None
        except RecursionError:  # MAX_DEPTH guards containers; this guards a caller already deep in its stack
            raise UnencodableValue(path, _type_name(value), "nested too deeply") from None

    def _encode(self, value: Any) -> Any:
        # Exact type checks first: the common JSON cases stay fast.
        kind = type(value)
        if kind is str:
            return value if len(value) <= STR_INLINE_MAX else self._encode_str(value)
        if value is None or kind is float or kind is bool:
            return value
        if kind is int:
            return value if -_INT_LIMIT < value < _INT_LIMIT else {TAG: "int", "hex": hex(value)}
        if kind is list:
            return self._encode_items(value)
        if kind is dict:
            return self._encode_dict(value)
        wire_name = self._wire_names.get(kind)  # a message or a part of one: the next most common case
        if wire_name is not None:
            return self._encode_dataclass(value, wire_name)
        return self._encode_other(value, kind)

    def _encode_other(self, value: Any, kind: type[Any]) -> Any:
        """Every value that is not exactly a JSON type, in the order the checks must run."""
        numpy = sys.modules.get("numpy")  # before the subclass checks: numpy.float64 is a float
        if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
            return self._encode_numpy(numpy, value)
        if isinstance(value, (bytes, bytearray)):
            return {TAG: "bytes", "ref": self._attach(memoryview(value), _type_name(value))}
        if kind is RawArray:
            return self._encode_raw(value)
        if isinstance(value, tuple):
            return {TAG: "tuple", "items": self._encode_items(value)}
        if isinstance(value, enum.Enum) and not isinstance(value, (int, float, str)):
            return self._encode(value.value)
        base = self._encode_as_base(value)
        if base is not _NOT_A_SUBCLASS:
            return base
        if dataclasses.is_dataclass(value) and not isinstance(value, type) and kind in self._wire_names:
            return self._encode_dataclass(value, self._wire_names[kind])
        try:
            view = memoryview(value)
        except TypeError:
            raise UnencodableValue("", _type_name(value), _HINTS.get(kind, "")) from None
        if numpy is not None:
            return self._encode_numpy(numpy, numpy.asarray(view), _type_name(value))
        return self._encode_buffer(view, _type_name(value))

    def _encode_as_base(self, value: Any) -> Any:
        """A subclass of a JSON type as its base type (the base method, not an override); else _NOT_A_SUBCLASS."""
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, str):
            return self._encode(str.__str__(value))
        if isinstance(value, int):
            return self._encode(int.__index__(value))
        if isinstance(value, float):
            return float.__float__(value)
        if isinstance(value, list):
            return self._encode_items(value)
        if isinstance(value, Mapping):
            return self._encode_dict(value)
        return _NOT_A_SUBCLASS

    def _encode_dataclass(self, value: Any, wire_name: str) -> dict[str, Any]:
        self._enter(value)
        fields = {}
        for name in _init_fields(type(value)):
            try:
                fields[name] = self._encode(getattr(value, name))
            except UnencodableValue as exc:
                raise exc._inside("." + name) from None
        self._depth -= 1
        return {TAG: "dc", "type": wire_name, "fields": fields}

    def _encode_str(self, value: str) -> dict[str, Any]:
        data = value.encode("utf-8", "surrogatepass")  # lone surrogates round-trip, as they do in JSON
        return {TAG: "str", "ref": self._attach(memoryview(data), "str")}

    def _nested(self, value: Any, segment: str) -> Any:
        """Encode a value held by a container; a refusal names ``segment`` in its path."""
        try:
            return self._encode(value)
        except UnencodableValue as exc:
            raise exc._inside(segment) from None

    def _enter(self, value: Any) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise UnencodableValue("", _type_name(value), f"nested deeper than {MAX_DEPTH} levels, or contains itself")

    def _encode_items(self, value: list[Any] | tuple[Any, ...]) -> list[Any]:
        self._enter(value)
        out = []
        for i, item in enumerate(value):
            try:
                out.append(self._encode(item))
            except UnencodableValue as exc:
                raise exc._inside(f"[{i}]") from None
        self._depth -= 1
        return out

    def _encode_dict(self, value: Mapping[Any, Any]) -> Any:
        self._enter(value)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnencodableValue(f"[{key!r}]", _type_name(key), "dictionary keys must be str")
            try:
                out[str.__str__(key)] = self._encode(item)
            except UnencodableValue as exc:
                raise exc._inside(_key_segment(key)) from None
        self._depth -= 1
        if TAG in out:
            return {TAG: "dict", "items": out}
        return out

    def _encode_numpy(self, numpy: Any, value: Any, type_name: str = "") -> dict[str, Any]:
        array = numpy.asarray(value)
        dtype = array.dtype
        if dtype.hasobject:
            raise UnencodableValue("", type_name or f"numpy.ndarray[{dtype}]", "object arrays hold Python objects")
        masked = sys.modules.get("numpy.ma")
        if masked is not None and isinstance(value, masked.MaskedArray):
            raise UnencodableValue("", _type_name(value), "the mask would be lost; send .data and .mask separately")
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        try:
            raw = array.reshape(-1).view(numpy.uint8)
        except (TypeError, ValueError) as exc:
            raise UnencodableValue("", type_name or f"numpy.ndarray[{dtype}]", str(exc)) from None
        descr: Any = dtype.str if dtype.names is None else numpy.lib.format.dtype_to_descr(dtype)
        ref = self._attach(memoryview(raw), type_name or f"numpy.ndarray[{dtype}]")
        encoded = {TAG: "ndarray", "ref": ref, "dtype": descr, "shape": list(array.shape)}
        if isinstance(value, numpy.generic):
            encoded["scalar"] = True
        return encoded

    def _encode_raw(self, value: RawArray) -> dict[str, Any]:
        ref = self._attach(memoryview(value.data), f"array({value.dtype})")
        encoded = {TAG: "ndarray", "ref": ref, "dtype": value.dtype, "shape": list(value.shape)}
        if value.scalar:
            encoded["scalar"] = True
        return encoded

    def _encode_buffer(self, view: memoryview, type_name: str) -> Any:
        """A buffer-protocol object while numpy is not loaded: only portable formats cross."""
        if not _PORTABLE_FORMAT.fullmatch(view.format):
            raise UnencodableValue("", type_name, f"buffer format {view.format!r} is not supported; send bytes")
        raw = view.cast("B") if view.c_contiguous and view.ndim else memoryview(view.tobytes())
        ref = self._attach(raw, type_name)
        return {TAG: "buffer", "ref": ref, "format": view.format, "shape": list(view.shape or ())}

    def _attach(self, view: memoryview, type_name: str) -> int:
        self._total += view.nbytes
        if self._limit is not None and self._total > self._limit:
            raise UnencodableValue(
                "", type_name, f"it takes {view.nbytes} bytes, and one message may carry at most {self._limit} "
                "bytes of values (the max_value_bytes setting)"
            )
        self.attachments.append(view if view.format == "B" and view.ndim == 1 else view.cast("B"))
        return len(self.attachments) - 1


_HINTS: dict[type[Any], str] = {
    set: "send a list or a tuple",
    frozenset: "send a list or a tuple",
    complex: "send a numpy complex scalar or two floats",
}


class Decoder:
    """Rebuilds a value from a tree and the attachments its ``ref`` numbers point into."""

    def __init__(
        self, attachments: list[bytearray] | list[bytes], wire_types: Mapping[str, type[Any]] | None = None
    ) -> None:
        self.attachments = attachments
        self.wire_types = wire_types or {}

    def decode(self, tree: Any) -> Any:
        try:
            return self._decode(tree)
        except RecursionError:
            raise UndecodableValue("tree is nested too deeply") from None

    def _decode(self, tree: Any) -> Any:
        kind = type(tree)
        if kind is list:
            return [self._decode(item) for item in tree]
        if kind is not dict:
            return tree
        tag = tree.get(TAG)
        if tag is None:
            return {key: self._decode(item) for key, item in tree.items()}
        return self._decode_tagged(tree, tag)

    def _decode_tagged(self, tree: dict[str, Any], tag: Any) -> Any:
        if tag == "bytes":
            return bytes(self._attachment(tree))
        if tag == "str":
            try:
                return self._attachment(tree).decode("utf-8", "surrogatepass")
            except UnicodeDecodeError as exc:
                raise UndecodableValue(f"string attachment is not UTF-8: {exc}") from None
        if tag == "tuple":
            return tuple(self._decode(item) for item in _list(tree, "items"))
        if tag == "dict":
            items = tree.get("items")
            if not isinstance(items, dict):
                raise UndecodableValue("escaped dict without items")
            return {key: self._decode(item) for key, item in items.items()}
        if tag == "int":
            return _hex_int(tree.get("hex"))
        if tag == "ndarray":
            scalar = tree.get("scalar") is True
            array = self._decode_array(tree, tree.get("dtype"), scalar)
            return array[()] if scalar and not isinstance(array, (memoryview, RawArray)) else array
        if tag == "buffer":
            return self._decode_buffer(tree)
        if tag == "dc":
            return self._decode_dataclass(tree)
        raise UndecodableValue(f"unknown tag {tag!r}")

    def _decode_dataclass(self, tree: dict[str, Any]) -> Any:
        cls = self.wire_types.get(str(tree.get("type")))
        fields = tree.get("fields")
        if cls is None or not isinstance(fields, dict):
            raise UndecodableValue(f"unknown wire type {tree.get('type')!r}")
        values = {key: self._decode(item) for key, item in fields.items()}
        lenient = hasattr(cls, "__post_init__")  # the class checks its own fields (a request's mode word)
        try:
            for name, coerce in _coercers(cls).items():  # enums travel as their values
                if name in values and values[name] is not None:
                    try:
                        values[name] = coerce(values[name])
                    except (ValueError, TypeError):
                        if not lenient:
                            raise
            return cls(**values)
        except Exception as exc:  # the class's own validation: any failure means a bad tree
            raise UndecodableValue(f"bad fields for {cls.__name__}: {type(exc).__name__}: {exc}") from None

    def _attachment(self, tree: dict[str, Any]) -> bytearray | bytes:
        ref = tree.get("ref")
        if type(ref) is not int or not 0 <= ref < len(self.attachments):
            raise UndecodableValue(f"attachment reference {ref!r} out of range")
        return self.attachments[ref]

    def _decode_array(self, tree: dict[str, Any], descr: Any, scalar: bool = False) -> Any:
        data = self._attachment(tree)
        shape = tuple(_list(tree, "shape"))
        try:
            import numpy
        except ImportError:
            return _plain_view(data, descr, shape, scalar)
        try:
            dtype = numpy.dtype(descr) if isinstance(descr, str) else numpy.lib.format.descr_to_dtype(_descr(descr))
            return numpy.frombuffer(data, dtype=dtype).reshape(shape)
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise UndecodableValue(f"bad array header {descr!r} {shape!r}: {exc}") from None

    def _decode_buffer(self, tree: dict[str, Any]) -> Any:
        fmt = tree.get("format")
        if not isinstance(fmt, str) or not _PORTABLE_FORMAT.fullmatch(fmt):
            raise UndecodableValue(f"bad buffer format {fmt!r}")
        try:
            import numpy
        except ImportError:
            return _plain_view(self._attachment(tree), format_dtype(fmt), tuple(_list(tree, "shape")))
        dtype = numpy.dtype(fmt.lstrip("@").replace("!", ">"))
        return self._decode_array(tree, dtype.str)


def _plain_view(data: bytearray | bytes, descr: Any, shape: tuple[Any, ...], scalar: bool = False) -> Any:
    """Without numpy: a memoryview with the item format and shape where struct syntax allows it, else a RawArray."""
    view = memoryview(data)
    if not all(type(n) is int and n >= 0 for n in shape):
        raise UndecodableValue(f"bad array shape {list(shape)!r}")
    char = _struct_char(descr)
    if char is not None:
        try:
            typed: memoryview = view.cast(char, list(shape))  # type: ignore[call-overload]
            return typed
        except (TypeError, ValueError):
            pass
    return RawArray(view, descr, shape, scalar)


def _descr(obj: Any) -> Any:
    """A numpy descr from its JSON form (lists where numpy wants tuples)."""
    if isinstance(obj, str):
        return obj
    if not isinstance(obj, list):
        raise UndecodableValue(f"bad dtype description {obj!r}")
    fields = []
    for field in obj:
        if not isinstance(field, list) or len(field) not in (2, 3):
            raise UndecodableValue(f"bad dtype field {field!r}")
        name, sub = field[0], _descr(field[1])
        fields.append((name, sub) if len(field) == 2 else (name, sub, tuple(_list({"s": field[2]}, "s"))))
    return fields


def _hex_int(text: Any) -> int:
    try:
        if isinstance(text, str):
            return int(text, 16)
    except ValueError:
        pass
    raise UndecodableValue(f"bad hex int {text!r}")


def _list(tree: dict[str, Any], key: str) -> list[Any]:
    value = tree.get(key)
    if not isinstance(value, list):
        raise UndecodableValue(f"{key!r} must be a list")
    return value


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def encode(
    value: Any, wire_types: Mapping[str, type[Any]] | None = None, limit: int | None = None
) -> tuple[Any, list[memoryview]]:
    """The JSON tree for ``value`` and its attachments (at most ``limit`` bytes); raises UnencodableValue."""
    encoder = Encoder(wire_types, limit)
    tree = encoder.encode(value)
    return tree, encoder.attachments


def decode(
    tree: Any, attachments: list[bytearray] | list[bytes], wire_types: Mapping[str, type[Any]] | None = None
) -> Any:
    """The value a tree and its attachments describe; raises UndecodableValue."""
    return Decoder(attachments, wire_types).decode(tree)
