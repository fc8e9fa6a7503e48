"""Griptape's ``FileSystemPicker`` trait: a file or folder chooser's options on a string parameter.

The options reach ``ui_options["fileSystemPicker"]``; the validator checks the picker's own
configuration (at least one of files / directories, extensions starting with a dot, sizes in order),
and with ``multiple`` a single path becomes a one-item list, as in Griptape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Trait

__all__ = ["FileSystemPicker"]


class FileSystemPicker(Trait):
    element_id = "FileSystemPicker"

    # Griptape's keywords, each a separate argument as node code passes them.
    def __init__(  # noqa: PLR0913
        self,
        *,
        allow_files: bool = False,
        allow_directories: bool = True,
        multiple: bool = False,
        file_types: list[str] | None = None,
        file_extensions: list[str] | None = None,
        exclude_patterns: list[str] | None = None,
        include_patterns: list[str] | None = None,
        max_file_size: int | None = None,
        min_file_size: int | None = None,
        workspace_only: bool = False,
        initial_path: str | None = None,
        allow_create: bool = False,
        allow_rename: bool = False,
    ) -> None:
        self.allow_files, self.allow_directories, self.multiple = allow_files, allow_directories, multiple
        self.file_types, self.file_extensions = list(file_types or []), list(file_extensions or [])
        self.exclude_patterns, self.include_patterns = list(exclude_patterns or []), list(include_patterns or [])
        self.max_file_size, self.min_file_size = max_file_size, min_file_size
        self.workspace_only, self.initial_path = workspace_only, initial_path
        self.allow_create, self.allow_rename = allow_create, allow_rename

    @classmethod
    def get_trait_keys(cls) -> list[str]:
        return ["file_system_picker"]

    def ui_options_for_trait(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "allowFiles": self.allow_files,
            "allowDirectories": self.allow_directories,
            "multiple": self.multiple,
            "workspaceOnly": self.workspace_only,
            "allowCreate": self.allow_create,
            "allowRename": self.allow_rename,
        }
        optional = {
            "fileTypes": self.file_types, "fileExtensions": self.file_extensions,
            "excludePatterns": self.exclude_patterns, "includePatterns": self.include_patterns,
            "maxFileSize": self.max_file_size, "minFileSize": self.min_file_size, "initialPath": self.initial_path,
        }
        options.update({k: v for k, v in optional.items() if v})
        return {"fileSystemPicker": options}

    def _problem(self) -> str | None:
        if not self.allow_files and not self.allow_directories:
            return "At least one of allow_files or allow_directories must be True"
        sizes = (self.min_file_size, self.max_file_size)
        if sizes[0] is not None and sizes[1] is not None and sizes[1] < sizes[0]:
            return "max_file_size cannot be less than min_file_size"
        for file_type in self.file_types + self.file_extensions:
            if not file_type.startswith("."):
                return f"File type '{file_type}' must start with a dot (e.g., '.py')"
        return None

    def validators_for_trait(self) -> list[Any]:
        def configured(parameter: nodeisle.Parameter, value: Any) -> None:
            problem = self._problem()
            if problem is not None:
                raise ValueError(f"parameter {parameter.name!r}: FileSystemPicker: {problem}")

        return [configured]

    def converters_for_trait(self) -> list[Any]:
        def listed(value: Any) -> Any:
            if isinstance(value, str) and self.multiple:
                return [value] if value else []
            return value

        return [listed]

    def __repr__(self) -> str:
        return f"FileSystemPicker(allow_files={self.allow_files!r}, allow_directories={self.allow_directories!r})"


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
