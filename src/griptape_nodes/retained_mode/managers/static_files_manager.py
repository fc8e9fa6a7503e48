"""Griptape's ``StaticFilesManager``: ``save_static_file`` through nodeisle's ``SaveStaticFileRequest``.

The file goes to the running library's folder of the engine home's static-files area,
``$NODEISLE_HOME/static_files/<library>/<file_name>``; the orchestrator writes it (a worker sends the
bytes over the bus and never touches the engine home). Griptape returns a URL of its static file
server; nodeisle has no such server, so the answer is the saved file's ``file://`` URL, which
:class:`griptape_nodes.files.file.File`, ``urllib`` and artifact URLs read. The name it went under may
differ from ``file_name`` with ``ExistingFilePolicy.CREATE_NEW`` (``name_1.png`` ...).
"""

from __future__ import annotations

from griptape_nodes.retained_mode.events.os_events import ExistingFilePolicy
from griptape_nodes.retained_mode.managers._send import Manager, current_library, send
from nodeisle.requests import (
    GetConfigValueRequest,
    GetConfigValueResult,
    Result,
    SaveStaticFileRequest,
    SaveStaticFileResult,
)

__all__ = ["StaticFilesManager", "build_request", "check", "limit", "send"]


class StaticFileSaveError(RuntimeError):
    """What Griptape raises when a save fails (a RuntimeError); ``failure_reason`` is nodeisle's."""

    def __init__(self, message: str, failure_reason: str | None) -> None:
        super().__init__(message)
        self.failure_reason = failure_reason


class StaticFileExistsError(FileExistsError):
    """``ExistingFilePolicy.FAIL`` and the file exists (Griptape raises FileExistsError)."""

    failure_reason = "exists"


def build_request(
    data: bytes | bytearray | memoryview, file_name: str, policy: ExistingFilePolicy, what: str, limit: int | None
) -> SaveStaticFileRequest:
    """The request that saves ``data`` into the running library's folder; checked against ``limit`` first (a
    worker would otherwise fail to send it)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what}: data must be bytes, got {type(data).__name__}")
    if limit is not None and len(data) > limit:
        raise StaticFileSaveError(
            f"Failed to save static file {file_name}: it has {len(data)} bytes, and at most {limit} may be saved "
            "(the max_value_bytes setting)",
            "too_large",
        )
    return SaveStaticFileRequest(
        library_name=current_library(what), file_name=file_name, data=bytes(data),
        existing_file_policy=ExistingFilePolicy(policy).value,
    )


def check(result: Result, file_name: str, what: str) -> SaveStaticFileResult:
    """``result`` if the file was saved; else the exception Griptape raises."""
    if isinstance(result, SaveStaticFileResult) and result.succeeded and result.url is not None:
        return result
    reason = result.failure_reason if isinstance(result, SaveStaticFileResult) else None
    if reason == "exists":
        raise StaticFileExistsError(f"{what} {file_name!r}: {result.message}")
    raise StaticFileSaveError(f"Failed to save static file {file_name}: {result.message}", reason)


def limit() -> int | None:
    answer = send(GetConfigValueRequest(key="max_value_bytes"))  # a worker answers it from its view
    return answer.value if isinstance(answer, GetConfigValueResult) and isinstance(answer.value, int) else None


class StaticFilesManager(Manager):
    """Saves files node code makes into its library's folder of the engine home."""

    def save_static_file(
        self,
        data: bytes,
        file_name: str,
        existing_file_policy: ExistingFilePolicy | None = None,
        *,
        skip_metadata_injection: bool = False,
    ) -> str:
        """Save ``data`` as ``file_name`` and return its ``file://`` URL.

        ``existing_file_policy`` None is Griptape's default for static files: overwrite. nodeisle
        injects no workflow metadata into files, so ``skip_metadata_injection`` changes nothing."""
        what = "StaticFilesManager.save_static_file"
        current_library(what)  # outside node code, say so before asking the engine anything
        policy = ExistingFilePolicy.OVERWRITE if existing_file_policy is None else existing_file_policy
        url = check(send(build_request(data, file_name, policy, what, limit())), file_name, what).url
        assert url is not None  # check() passes only results with a URL
        return url
