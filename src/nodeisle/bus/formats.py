"""Buffer formats as struct syntax and as numpy dtype strings, for a side without numpy (nodeisle.bus.codec)."""

from __future__ import annotations

import re
import struct
import sys
from typing import Any

# Buffer formats a receiver without numpy can still rebuild (struct syntax, one item).
PORTABLE_FORMAT = re.compile(r"[@=<>!]?[?bBhHiIlLqQnNefd]")


_NATIVE = "<" if sys.byteorder == "little" else ">"
_STRUCT_CHARS = {
    "b1": "?", "i1": "b", "u1": "B", "i2": "h", "u2": "H", "i4": "i", "u4": "I", "i8": "q", "u8": "Q",
    "f2": "e", "f4": "f", "f8": "d",
}


def struct_char(descr: Any) -> str | None:
    """The native struct character for a numpy dtype string or a struct format, if there is one."""
    if not isinstance(descr, str):
        return None
    if PORTABLE_FORMAT.fullmatch(descr):
        order, char = descr[:-1], descr[-1]
        return char if order in ("", "@", "=", _NATIVE) else None
    match = re.fullmatch(r"([<>|=])([a-z]\d+)", descr)
    if match is None or match[1] not in ("|", "=", _NATIVE):
        return None
    return _STRUCT_CHARS.get(match[2])


_KINDS = {"?": "b", **dict.fromkeys("bhilqn", "i"), **dict.fromkeys("BHILQN", "u"), **dict.fromkeys("efd", "f")}


def format_dtype(fmt: str) -> str:
    """numpy's ``dtype.str`` for a portable struct format (``"f"`` -> ``"<f4"`` on a little-endian machine)."""
    if not PORTABLE_FORMAT.fullmatch(fmt):
        raise ValueError(f"struct format {fmt!r} is not one of the portable number formats")
    size = struct.calcsize(fmt)
    order = {"<": "<", ">": ">", "!": ">"}.get(fmt[0], _NATIVE) if size > 1 else "|"
    return f"{order}{_KINDS[fmt[-1]]}{size}"
