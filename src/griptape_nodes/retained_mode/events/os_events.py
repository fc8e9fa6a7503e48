"""Griptape's ``os_events`` names node code passes to file writes: ``ExistingFilePolicy`` and
``FileIOFailureReason`` (the ``failure_reason`` of ``FileLoadError`` / ``FileWriteError``)."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from griptape_nodes import _compat

__all__ = ["ExistingFilePolicy", "FileIOFailureReason"]


class ExistingFilePolicy(enum.StrEnum):
    """What a write does when the file exists."""

    OVERWRITE = "overwrite"
    FAIL = "fail"  # the write fails (FileExistsError / FileWriteError)
    CREATE_NEW = "create_new"  # a new name: name_1.ext, name_2.ext ...


class FileIOFailureReason(enum.StrEnum):
    """Why a read or a write failed."""

    POLICY_NO_OVERWRITE = "policy_no_overwrite"
    POLICY_NO_CREATE_PARENT_DIRS = "policy_no_create_parent_dirs"
    PERMISSION_DENIED = "permission_denied"
    FILE_NOT_FOUND = "file_not_found"
    FILE_LOCKED = "file_locked"
    DISK_FULL = "disk_full"
    INVALID_PATH = "invalid_path"
    IS_DIRECTORY = "is_directory"
    MISSING_MACRO_VARIABLES = "missing_macro_variables"
    ENCODING_ERROR = "encoding_error"
    EXTENSION_MISMATCH = "extension_mismatch"
    IO_ERROR = "io_error"
    UNKNOWN = "unknown"


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
