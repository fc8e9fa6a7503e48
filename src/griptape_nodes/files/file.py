"""Griptape's ``File``, ``FileDestination``, ``FileContent``, ``FileLoadError`` and ``FileWriteError``.

A ``File`` holds a location and does no I/O until asked. It reads a local path (``~`` expanded, a
relative path from the current folder), a ``file://`` URL (what ``StaticFilesManager.save_static_file``
returns), a ``data:`` URI, or an ``http(s)://`` URL, which is downloaded with ``urllib`` (a failure,
offline included, is a ``FileLoadError`` naming the URL). As in Griptape, text content (by its MIME type,
else by decoding) is read as ``str``, anything else as ``bytes``.

A location with project macros (``"{outputs}/render.png"``, or a project destination's path) is a
project file in the running library's folder of the engine home (nodeisle.files._project): writing it
sends nodeisle's ``SaveStaticFileRequest``, so the orchestrator writes it, also for a worker. nodeisle
resolves a project path when it writes it; reading or resolving one before that is a ``FileLoadError``
that says to use the ``File`` the write returned (its absolute path). A plain path is written in this
process, atomically (a temp file renamed into place).
"""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import nodeisle
from griptape_nodes.files import _sources
from griptape_nodes.files._project import MacroError, ProjectPath, has_macros
from griptape_nodes.retained_mode.events.os_events import ExistingFilePolicy, FileIOFailureReason
from griptape_nodes.retained_mode.managers import static_files_manager as _static
from griptape_nodes.retained_mode.managers._send import current_library
from nodeisle.errors import NotConnectedError
from nodeisle.requests import GetConfigValueRequest, GetConfigValueResult

__all__ = ["File", "FileContent", "FileDestination", "FileDestinationProvider", "FileLoadError", "FileWriteError"]


class FileLoadError(Exception):
    """A read (or a resolve) failed; ``failure_reason`` says why, ``result_details`` in words."""

    def __init__(
        self,
        failure_reason: FileIOFailureReason,
        result_details: str,
        missing_variables: set[str] | None = None,
        conflicting_variables: set[str] | None = None,
    ) -> None:
        self.failure_reason = failure_reason
        self.result_details = result_details
        self.missing_variables = missing_variables
        self.conflicting_variables = conflicting_variables
        super().__init__(result_details)


class FileWriteError(Exception):
    """A write failed; ``failure_reason`` says why, ``result_details`` in words."""

    def __init__(
        self, failure_reason: FileIOFailureReason, result_details: str, missing_variables: set[str] | None = None
    ) -> None:
        self.failure_reason = failure_reason
        self.result_details = result_details
        self.missing_variables = missing_variables
        super().__init__(result_details)


class FileContent(NamedTuple):
    content: str | bytes
    mime_type: str
    encoding: str | None
    size: int


_WRITE_REASONS = {
    "invalid_name": FileIOFailureReason.INVALID_PATH,
    "exists": FileIOFailureReason.POLICY_NO_OVERWRITE,
    "too_large": FileIOFailureReason.IO_ERROR,
    "io_error": FileIOFailureReason.IO_ERROR,
}


def _content(location: str, data: bytes, encoding: str) -> FileContent:
    mime = _sources.mime_type(location)
    if _sources.is_text(data, mime):
        try:
            return FileContent(data.decode(encoding), mime, encoding, len(data))
        except (UnicodeDecodeError, LookupError):
            pass
    return FileContent(data, mime, None, len(data))


class File:
    """A file to read or write, by location (a path, ``file://`` / ``data:`` / ``http(s)://``, or a project path)."""

    def __init__(self, file_path: str | os.PathLike[str] | ProjectPath, *, file_metadata: Any = None) -> None:
        self._file_metadata = file_metadata  # Griptape's sidecar metadata; nodeisle writes no sidecar files
        if isinstance(file_path, ProjectPath):
            self._path: str | ProjectPath = file_path
        else:
            text = os.fspath(file_path)
            self._path = ProjectPath(text) if has_macros(text) else text

    def __repr__(self) -> str:
        return f"File({self.location!r})"

    @property
    def location(self) -> str:
        """The macro template of a project path, else the location as given. No I/O."""
        return self._path.template if isinstance(self._path, ProjectPath) else self._path

    @property
    def name(self) -> str:
        return Path(self.location).name

    def resolve(self) -> str:
        """The absolute path of a local file; a project path is resolved when it is written (see the module)."""
        if isinstance(self._path, ProjectPath):
            raise FileLoadError(
                FileIOFailureReason.INVALID_PATH,
                f"project path {self._path.template!r}: nodeisle resolves project paths when they are written, into "
                "the library's folder of the engine home; write it (FileDestination.write_bytes) and use the File "
                "that returns, which holds its absolute path",
            )
        if self._path.startswith(("http://", "https://", "data:")):
            return self._path
        try:
            return str(_sources.local_path(self._path).absolute())
        except _sources.SourceError as exc:
            raise FileLoadError(exc.reason, str(exc)) from None

    # -- reading ----------------------------------------------------------------------------------
    def read(self, encoding: str = "utf-8") -> FileContent:
        location = self.resolve()
        try:
            return _content(location, _sources.read_bytes(location), encoding)
        except _sources.SourceError as exc:
            raise FileLoadError(exc.reason, str(exc)) from None

    async def aread(self, encoding: str = "utf-8") -> FileContent:
        return await asyncio.to_thread(self.read, encoding)

    def read_bytes(self) -> bytes:
        content = self.read().content
        return content if isinstance(content, bytes) else content.encode("utf-8")

    async def aread_bytes(self) -> bytes:
        return await asyncio.to_thread(self.read_bytes)

    def read_text(self, encoding: str = "utf-8") -> str:
        found = self.read(encoding)
        if isinstance(found.content, bytes):
            raise TypeError(f"Expected text content but got binary content (mime_type={found.mime_type}).")
        return found.content

    async def aread_text(self, encoding: str = "utf-8") -> str:
        return await asyncio.to_thread(self.read_text, encoding)

    def read_data_uri(self, fallback_mime: str = "application/octet-stream") -> str:
        found = self.read()
        data = found.content if isinstance(found.content, bytes) else found.content.encode(found.encoding or "utf-8")
        return f"data:{found.mime_type or fallback_mime};base64,{base64.b64encode(data).decode('ascii')}"

    async def aread_data_uri(self, fallback_mime: str = "application/octet-stream") -> str:
        return await asyncio.to_thread(self.read_data_uri, fallback_mime)

    # -- writing ----------------------------------------------------------------------------------
    def write_bytes(
        self,
        content: bytes,
        *,
        existing_file_policy: ExistingFilePolicy = ExistingFilePolicy.OVERWRITE,
        append: bool = False,
        create_parents: bool = True,
        coerce_extension_to_match_bytes: bool = True,
    ) -> Path:
        """Write ``content``; the path it went to (``CREATE_NEW`` may number the name). The extension is not
        checked against the bytes in nodeisle (``coerce_extension_to_match_bytes`` changes nothing)."""
        if isinstance(self._path, ProjectPath):
            return self._save_project(bytes(content), existing_file_policy, append=append)
        return self._write_local(bytes(content), existing_file_policy, append=append, create_parents=create_parents)

    async def awrite_bytes(
        self,
        content: bytes,
        *,
        existing_file_policy: ExistingFilePolicy = ExistingFilePolicy.OVERWRITE,
        append: bool = False,
        create_parents: bool = True,
        coerce_extension_to_match_bytes: bool = True,
    ) -> Path:
        if isinstance(self._path, ProjectPath):  # from the event loop: the request must not block it
            return await self._asave_project(bytes(content), existing_file_policy, append=append)
        return await asyncio.to_thread(
            self._write_local, bytes(content), existing_file_policy, append=append, create_parents=create_parents
        )

    def write_text(
        self,
        content: str,
        encoding: str = "utf-8",
        *,
        existing_file_policy: ExistingFilePolicy = ExistingFilePolicy.OVERWRITE,
        append: bool = False,
        create_parents: bool = True,
    ) -> Path:
        return self.write_bytes(
            content.encode(encoding), existing_file_policy=existing_file_policy, append=append,
            create_parents=create_parents,
        )

    async def awrite_text(
        self,
        content: str,
        encoding: str = "utf-8",
        *,
        existing_file_policy: ExistingFilePolicy = ExistingFilePolicy.OVERWRITE,
        append: bool = False,
        create_parents: bool = True,
    ) -> Path:
        return await self.awrite_bytes(
            content.encode(encoding), existing_file_policy=existing_file_policy, append=append,
            create_parents=create_parents,
        )

    def _write_local(self, data: bytes, policy: ExistingFilePolicy, *, append: bool, create_parents: bool) -> Path:
        if isinstance(self._path, str) and self._path.startswith(("http://", "https://", "data:")):
            raise FileWriteError(
                FileIOFailureReason.INVALID_PATH, f"{self._path[:60]!r} can be read, not written: write to a path"
            )
        try:
            path = Path(self.resolve())
            return _sources.write_local(path, data, ExistingFilePolicy(policy), append=append,
                                        create_parents=create_parents)
        except FileLoadError as exc:
            raise FileWriteError(exc.failure_reason, exc.result_details) from None
        except _sources.SourceError as exc:
            raise FileWriteError(exc.reason, str(exc)) from None
        except OSError as exc:
            raise FileWriteError(FileIOFailureReason.IO_ERROR, f"cannot write {self.location}: {exc}") from None

    def _project_name(self, append: bool) -> str:
        assert isinstance(self._path, ProjectPath)
        if append:
            raise FileWriteError(
                FileIOFailureReason.INVALID_PATH,
                f"project file {self._path.template!r}: appending is not supported (the orchestrator writes whole "
                "files, atomically); write the whole content",
            )
        try:
            name = self._path.relative()
        except MacroError as exc:
            raise FileWriteError(FileIOFailureReason.MISSING_MACRO_VARIABLES, str(exc), exc.missing) from None
        current_library("writing a project file")  # outside node code, say so before asking the engine anything
        return name

    def _save_project(self, data: bytes, policy: ExistingFilePolicy, *, append: bool) -> Path:
        name = self._project_name(append)
        try:
            request = _static.build_request(data, name, policy, "File.write_bytes", _static.limit())
            return Path(_static.check(_static.send(request), name, "File.write_bytes").path or "")
        except NotConnectedError as exc:  # an async process in a worker: the loop cannot wait for the answer
            raise FileWriteError(
                FileIOFailureReason.IO_ERROR,
                f"project file {name!r}: write_bytes / write_text cannot wait on the worker's event loop (an async "
                f"process of an Isolated library); use `await ....awrite_bytes(...)` / awrite_text there ({exc})",
            ) from None
        except (FileExistsError, RuntimeError) as exc:
            raise _write_error(exc) from None

    async def _asave_project(self, data: bytes, policy: ExistingFilePolicy, *, append: bool) -> Path:
        name = self._project_name(append)
        try:
            request = _static.build_request(data, name, policy, "File.awrite_bytes", await _alimit())
            result = await nodeisle.ahandle_request(request)
            return Path(_static.check(result, name, "File.awrite_bytes").path or "")
        except (FileExistsError, RuntimeError) as exc:
            raise _write_error(exc) from None


def _write_error(exc: Exception) -> FileWriteError:
    reason = getattr(exc, "failure_reason", None)
    return FileWriteError(_WRITE_REASONS.get(reason or "", FileIOFailureReason.IO_ERROR), str(exc))


async def _alimit() -> int | None:
    answer = await nodeisle.ahandle_request(GetConfigValueRequest(key="max_value_bytes"))
    return answer.value if isinstance(answer, GetConfigValueResult) and isinstance(answer.value, int) else None


class FileDestination:
    """A location with its write policy baked in: ``write_bytes`` / ``write_text`` return the ``File`` written."""

    def __init__(
        self,
        file_path: str | os.PathLike[str] | ProjectPath,
        *,
        existing_file_policy: ExistingFilePolicy = ExistingFilePolicy.OVERWRITE,
        append: bool = False,
        create_parents: bool = True,
        file_metadata: Any = None,
        coerce_extension_to_match_bytes: bool = True,
    ) -> None:
        self._file = File(file_path, file_metadata=file_metadata)
        self._policy = existing_file_policy
        self._append = append
        self._create_parents = create_parents

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r}, existing_file_policy={str(self._policy)!r})"

    def resolve(self) -> str:
        return self._file.resolve()

    @property
    def location(self) -> str:
        return self._file.location

    @property
    def name(self) -> str:
        return self._file.name

    def write_bytes(self, content: bytes) -> File:
        return File(self._file.write_bytes(
            content, existing_file_policy=self._policy, append=self._append, create_parents=self._create_parents
        ))

    async def awrite_bytes(self, content: bytes) -> File:
        return File(await self._file.awrite_bytes(
            content, existing_file_policy=self._policy, append=self._append, create_parents=self._create_parents
        ))

    def write_text(self, content: str, encoding: str = "utf-8") -> File:
        return self.write_bytes(content.encode(encoding))

    async def awrite_text(self, content: str, encoding: str = "utf-8") -> File:
        return await self.awrite_bytes(content.encode(encoding))


@runtime_checkable
class FileDestinationProvider(Protocol):
    """A node that hands a ``FileDestination`` to the nodes it feeds (Griptape's FileOutputSettings)."""

    @property
    def file_destination(self) -> FileDestination | None: ...
