"""Griptape's ``ProjectFileDestination``: a destination built from a situation (``save_node_output`` ...).

nodeisle maps a situation's project path onto the running library's folder of the engine home
(nodeisle's griptape_nodes.files._project lists the situations): ``save_node_output`` of
``render.png`` from node ``Blur`` is ``static_files/<library>/outputs/Blur_render.png``. The ``File``
a write returns holds the absolute path it went to (Griptape maps it back to a macro such as
``{outputs}/Blur_render.png``; in nodeisle that macro would not say which library's folder).
An absolute file name is written where it says, as in Griptape.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Any

from griptape_nodes.files._project import FALLBACK, SITUATIONS, ProjectPath
from griptape_nodes.files.file import FileDestination

__all__ = ["ProjectFileDestination"]

LOGGER = logging.getLogger("griptape_nodes")


class ProjectFileDestination(FileDestination):
    """A destination in the running library's project folders (see the module)."""

    @classmethod
    def from_situation(cls, filename: str, situation: str, **extra_vars: Any) -> ProjectFileDestination:
        if situation in SITUATIONS:
            template, policy = SITUATIONS[situation]
        else:
            LOGGER.error(
                "Failed to load situation '%s' (nodeisle knows %s), using fallback macro template",
                situation, ", ".join(SITUATIONS),
            )
            template, policy = FALLBACK
        path = PurePosixPath(filename.replace("\\", "/"))
        if path.is_absolute():
            return cls(filename, existing_file_policy=policy)
        variables: dict[str, Any] = {
            "file_name_base": path.stem if path.suffix else path.name,
            "file_extension": path.suffix.lstrip("."),
            **extra_vars,
        }
        if str(path.parent) not in ("", ".") and "sub_dirs" not in extra_vars:
            variables["sub_dirs"] = str(path.parent)
        return cls(ProjectPath(template, variables), existing_file_policy=policy)
