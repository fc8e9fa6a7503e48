"""The static-files area of the engine home: where node code saves files it makes (images, videos, ...).

Each library has its own folder, ``<home>/static_files/<library folder>/``, and writes only there:
a worker's :class:`~nodeisle.requests.SaveStaticFileRequest` is written by the orchestrator, into the
folder of the library whose worker sent it (rule ``static-files`` of nodeisle.orchestrator.authority),
so a worker never needs the engine home on its filesystem.

The folder is the library's name percent-encoded but for spaces (``Weird/Lib`` -> ``Weird%2FLib``): one folder per
name, also for names that differ only in punctuation, and never ``..`` or a path. A file name is
relative, ``/``-separated, and refused (never rewritten) when a segment is empty, ``.``/``..``,
starts with ``.`` (hidden files and the writer's temp files), holds a ``\\``, a control character, or
is over 255 bytes. Writes go to a temp file in the target folder, are fsynced, then renamed into place
(``overwrite``) or hard-linked to a name nobody holds (``create_new``, ``fail``): a reader sees the
whole file or none, and two writers never take the same new name.
"""

from __future__ import annotations

import contextlib
import enum
import os
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nodeisle.requests import SaveStaticFileRequest, SaveStaticFileResult

STATIC_FILES_DIR = "static_files"
MAX_SEGMENT_BYTES = 255
CREATE_NEW_ATTEMPTS = 10_000


class Policy(enum.StrEnum):
    """What happens when the file exists (Griptape's ``ExistingFilePolicy`` words)."""

    OVERWRITE = "overwrite"
    CREATE_NEW = "create_new"
    FAIL = "fail"


class StaticFileError(Exception):
    """A save that cannot be done; ``reason`` is the result's ``failure_reason``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SavedFile:
    path: Path
    file_name: str  # relative to the library's folder


def library_folder(library: str) -> str:
    """The folder name of ``library``: percent-encoded, so it is one path segment and never ``.``/``..``."""
    if not library:
        raise StaticFileError("invalid_name", "a static file needs the library it belongs to (library_name is empty)")
    encoded = urllib.parse.quote(library, safe=" ")
    return "%2E" + encoded[1:] if encoded.startswith(".") else encoded


def check_file_name(file_name: str) -> PurePosixPath:
    """``file_name`` as a relative path inside a library's folder; StaticFileError says what is wrong."""

    def refuse(why: str) -> StaticFileError:
        return StaticFileError(
            "invalid_name",
            f"static file name {file_name!r} {why}; use a relative name such as 'render.png' or 'shots/render.png'",
        )

    if not isinstance(file_name, str) or not file_name:
        raise refuse("is empty")
    if "\\" in file_name or any(ord(c) < 32 or ord(c) == 127 for c in file_name):
        raise refuse("holds a backslash or a control character")
    if file_name.startswith("/"):
        raise refuse("is absolute")
    for segment in file_name.split("/"):
        if segment in ("", ".", ".."):
            raise refuse("has an empty, '.' or '..' segment (no path traversal)")
        if segment.startswith("."):
            raise refuse(f"has a segment starting with '.' ({segment!r})")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise refuse(f"has a segment longer than {MAX_SEGMENT_BYTES} bytes")
    return PurePosixPath(file_name)


def _numbered(name: PurePosixPath, n: int) -> PurePosixPath:
    return name if n == 0 else name.with_name(f"{name.stem}_{n}{name.suffix}")


class StaticFiles:
    """Saves static files under ``root`` (``<home>/static_files``). Blocking: call it off the event loop."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, library: str) -> Path:
        return self.root / library_folder(library)

    def save(self, library: str, file_name: str, data: bytes, policy: str, max_bytes: int) -> SavedFile:
        name = check_file_name(file_name)
        if not isinstance(data, bytes):
            kind = type(data).__name__
            raise StaticFileError("invalid_name", f"static file {file_name!r}: data must be bytes, not {kind}")
        try:
            chosen = Policy(str(policy).lower())
        except ValueError:
            raise StaticFileError(
                "invalid_name", f"existing_file_policy {policy!r} is not one of {', '.join(p.value for p in Policy)}"
            ) from None
        if len(data) > max_bytes:
            raise StaticFileError(
                "too_large",
                f"static file {file_name!r} has {len(data)} bytes; at most {max_bytes} are allowed "
                "(the max_value_bytes setting)",
            )
        folder = self.folder(library)
        target = folder / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.parent.resolve().is_relative_to(folder.resolve()):
                raise StaticFileError("invalid_name", f"static file {file_name!r} would leave its library's folder")
            return self._write(folder, name, data, chosen)
        except OSError as exc:
            raise StaticFileError("io_error", f"cannot save static file {file_name!r}: {exc}") from None

    def _write(self, folder: Path, name: PurePosixPath, data: bytes, policy: Policy) -> SavedFile:
        parent = (folder / name).parent
        fd, tmp = tempfile.mkstemp(prefix=f".{name.name}.", suffix=".tmp", dir=parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
            if policy is Policy.OVERWRITE:
                os.replace(tmp, folder / name)
                return SavedFile(folder / name, str(name))
            attempts = 1 if policy is Policy.FAIL else CREATE_NEW_ATTEMPTS
            for n in range(attempts):
                candidate = _numbered(name, n)
                try:
                    os.link(tmp, folder / candidate)  # fails if the name is taken: no writer clobbers another
                except FileExistsError:
                    continue
                return SavedFile(folder / candidate, str(candidate))
            raise StaticFileError("exists", f"static file {str(name)!r} exists (existing_file_policy {policy.value!r})")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def answer(files: StaticFiles, request: SaveStaticFileRequest, max_bytes: int) -> SaveStaticFileResult:
    """The result of ``request``: where the file went, or why it was not written (nothing is then)."""
    try:
        saved = files.save(request.library_name, request.file_name, request.data, request.existing_file_policy,
                           max_bytes)
    except StaticFileError as exc:
        reason = exc.reason
        return SaveStaticFileResult.failure(f"library {request.library_name!r}: {exc}", failure_reason=reason)
    path = saved.path.absolute()
    return SaveStaticFileResult(
        path=str(path), url=path.as_uri(), file_name=saved.file_name,
        message=f"saved {len(request.data)} bytes to {path}",
    )
