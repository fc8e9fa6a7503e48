"""Reading a location's bytes (a path, a ``file://`` URL, a ``data:`` URI, an ``http(s)://`` URL) and
writing a local file atomically. Standard library only: this runs in every worker env."""

from __future__ import annotations

import base64
import binascii
import contextlib
import mimetypes
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from griptape_nodes.retained_mode.events.os_events import ExistingFilePolicy, FileIOFailureReason

HTTP_TIMEOUT = 120.0  # seconds, as Griptape's file drivers wait for a download
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/yaml")
_BINARY_TYPES = ("image/", "audio/", "video/", "application/octet-stream")


class SourceError(Exception):
    def __init__(self, reason: FileIOFailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def local_path(location: str) -> Path:
    """The local path of a plain path or a ``file://`` URL (``~`` expanded)."""
    if location.startswith("file:"):
        parsed = urllib.parse.urlparse(location)
        if parsed.netloc not in ("", "localhost"):
            raise SourceError(FileIOFailureReason.INVALID_PATH, f"file URL {location!r} names another host")
        return Path(urllib.request.url2pathname(parsed.path))
    if not location.strip():
        raise SourceError(FileIOFailureReason.INVALID_PATH, f"empty file path: {location!r}")
    return Path(location).expanduser()


def mime_type(location: str) -> str:
    """As Griptape guesses it: a data URI's own type, else by the name, else ``text/plain``."""
    if location.startswith("data:"):
        header = location[5:].split(",", 1)[0]
        return header.split(";", 1)[0] or "text/plain"
    guessed, _ = mimetypes.guess_type(location.split("?", 1)[0], strict=True)
    return guessed or "text/plain"


def is_text(content: bytes, mime: str) -> bool:
    if mime.startswith(_TEXT_TYPES):
        return True
    if mime.startswith(_BINARY_TYPES):
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _data_uri(location: str) -> bytes:
    header, sep, payload = location[5:].partition(",")
    if not sep:
        raise SourceError(FileIOFailureReason.INVALID_PATH, f"data URI without a ',': {location[:60]!r}")
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise SourceError(FileIOFailureReason.ENCODING_ERROR, f"data URI is not valid base64: {exc}") from None
    return urllib.parse.unquote_to_bytes(payload)


def _http(location: str) -> bytes:
    try:
        with urllib.request.urlopen(location, timeout=HTTP_TIMEOUT) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        raise SourceError(FileIOFailureReason.IO_ERROR, f"download of {location} failed: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        why = getattr(exc, "reason", exc)
        raise SourceError(FileIOFailureReason.IO_ERROR, f"download of {location} failed: {why}") from None


def read_bytes(location: str) -> bytes:
    if location.startswith("data:"):
        return _data_uri(location)
    if location.startswith(("http://", "https://")):
        return _http(location)
    path = local_path(location)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SourceError(FileIOFailureReason.FILE_NOT_FOUND, f"file not found: {path}") from None
    except IsADirectoryError:
        raise SourceError(FileIOFailureReason.IS_DIRECTORY, f"{path} is a directory, not a file") from None
    except PermissionError:
        raise SourceError(FileIOFailureReason.PERMISSION_DENIED, f"no permission to read {path}") from None
    except OSError as exc:
        raise SourceError(FileIOFailureReason.IO_ERROR, f"cannot read {path}: {exc}") from None


def _numbered(path: Path, n: int) -> Path:
    return path if n == 0 else path.with_name(f"{path.stem}_{n}{path.suffix}")


def write_local(path: Path, data: bytes, policy: ExistingFilePolicy, *, append: bool, create_parents: bool) -> Path:
    """Write ``data`` to ``path`` (a temp file, fsynced, then renamed or linked into place); the path written."""
    if not path.parent.is_dir():
        if not create_parents:
            raise SourceError(FileIOFailureReason.POLICY_NO_CREATE_PARENT_DIRS, f"folder {path.parent} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
    if append:
        with path.open("ab") as handle:
            handle.write(data)
        return path
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        if policy is ExistingFilePolicy.OVERWRITE:
            os.replace(tmp, path)
            return path
        for n in range(1 if policy is ExistingFilePolicy.FAIL else 10_000):
            try:
                os.link(tmp, _numbered(path, n))
            except FileExistsError:
                continue
            return _numbered(path, n)
        raise SourceError(FileIOFailureReason.POLICY_NO_OVERWRITE, f"{path} exists (existing_file_policy {policy})")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
