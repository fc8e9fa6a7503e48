"""Griptape's ``griptape_nodes.files``: ``File`` / ``FileDestination`` (``files.file``) and project-file
destinations (``files.project_file``), mapped onto the engine home (docs/griptape-compat.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from griptape_nodes import _compat

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
