"""The ``.env`` format: parse and edit ``KEY=VALUE`` lines. Standard library only (workers use it too).

Accepted syntax, one assignment per line::

    # a comment
    export PLAIN=value-without-spaces      # an inline comment after whitespace
    SINGLE='taken literally; \\' and \\\\ are the only escapes'
    DOUBLE="escapes \\n \\r \\t \\" \\\\ ; may span
    several lines"
    EMPTY=

Keys are ``[A-Za-z_][A-Za-z0-9_]*``. A later assignment of a key wins. There is no ``${VAR}``
interpolation. Lines that are not assignments are reported by line number only: a line of a
secrets file may hold a secret, so no message quotes it.

:class:`DotenvDocument` edits a file's text and keeps every other line (comments, order, blank
lines) as the operator wrote it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*")
_SAFE_BARE = re.compile(r"[A-Za-z0-9_./:@+,%=-]*")
_DOUBLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}


@dataclass(frozen=True)
class Assignment:
    key: str
    value: str
    first_line: int  # 0-based index into the document's lines
    last_line: int  # inclusive; > first_line for a quoted value spanning lines


@dataclass
class ParseResult:
    assignments: list[Assignment] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)  # 1-based line numbers

    def values(self) -> dict[str, str]:
        return {a.key: a.value for a in self.assignments}


def _scan_quoted(lines: list[str], index: int, start: int, quote: str) -> tuple[str, int, int] | None:
    """Read a quoted value starting after the opening quote at ``lines[index][start]``.

    Returns (value, line index of the closing quote, column after it), or None if never closed.
    """
    out: list[str] = []
    line_no, col = index, start
    while line_no < len(lines):
        text = lines[line_no]
        while col < len(text):
            ch = text[col]
            if ch == "\\" and col + 1 < len(text):
                nxt = text[col + 1]
                if quote == '"' and nxt in _DOUBLE_ESCAPES:
                    out.append(_DOUBLE_ESCAPES[nxt])
                    col += 2
                    continue
                if quote == "'" and nxt in ("'", "\\"):
                    out.append(nxt)
                    col += 2
                    continue
            if ch == quote:
                return "".join(out), line_no, col + 1
            out.append(ch)
            col += 1
        line_no, col = line_no + 1, 0
        if line_no < len(lines):
            out.append("\n")
    return None


def split_lines(text: str) -> list[str]:
    """Lines split at ``\n`` (and ``\r\n``) only: a form feed or ``\u2028`` inside a value is not a line break."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")  # a BOM from a Windows editor
    return lines[:-1] if lines and lines[-1] == "" else lines


def parse(text: str) -> ParseResult:
    """Parse ``.env`` text; never raises on bad content (see :attr:`ParseResult.bad_lines`)."""
    lines = split_lines(text)
    result = ParseResult()
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        match = _ASSIGNMENT.match(line)
        if match is None:
            result.bad_lines.append(index + 1)
            index += 1
            continue
        key, rest_at = match.group(1), match.end()
        rest = line[rest_at:]
        if rest[:1] in ('"', "'"):
            scanned = _scan_quoted(lines, index, rest_at + 1, rest[0])
            if scanned is None:
                result.bad_lines.append(index + 1)
                index += 1
                continue
            value, end_line, end_col = scanned
            tail = lines[end_line][end_col:].strip()
            if tail and not tail.startswith("#"):
                result.bad_lines.append(index + 1)
                index = end_line + 1
                continue
            result.assignments.append(Assignment(key, value, index, end_line))
            index = end_line + 1
            continue
        value = re.split(r"\s#", rest, maxsplit=1)[0].strip()
        result.assignments.append(Assignment(key, value, index, index))
        index += 1
    return result


def format_value(value: str) -> str:
    """``value`` as it is written after ``KEY=``: bare when safe, else quoted so it reads back the same."""
    if _SAFE_BARE.fullmatch(value):
        return value
    if not any(ch in value for ch in "'\\\n\r"):
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def format_assignment(key: str, value: str) -> str:
    return f"{key}={format_value(value)}"


class DotenvDocument:
    """The text of a ``.env`` file, edited line by line: other lines are kept as written."""

    def __init__(self, text: str = "") -> None:
        self.lines = split_lines(text)

    def parsed(self) -> ParseResult:
        return parse("\n".join(self.lines))

    def values(self) -> dict[str, str]:
        return self.parsed().values()

    def set(self, key: str, value: str) -> None:
        """Assign ``key``: its last assignment is replaced in place, earlier ones are removed."""
        if not KEY_PATTERN.fullmatch(key):
            raise ValueError(f"{key!r} is not a valid .env key: use letters, digits and _, not starting with a digit")
        spans = [a for a in self.parsed().assignments if a.key == key]
        new_line = format_assignment(key, value)
        if not spans:
            self.lines.append(new_line)
            return
        last = spans[-1]
        self.lines[last.first_line : last.last_line + 1] = [new_line]
        for span in reversed(spans[:-1]):
            del self.lines[span.first_line : span.last_line + 1]

    def delete(self, key: str) -> bool:
        """Remove every assignment of ``key``; True if there was one."""
        spans = [a for a in self.parsed().assignments if a.key == key]
        for span in reversed(spans):
            del self.lines[span.first_line : span.last_line + 1]
        return bool(spans)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n" if self.lines else ""
