"""Griptape's ``ProjectFileParameter``: a file-name parameter whose value becomes a project destination.

``add_parameter()`` adds a ``str`` parameter (INPUT and PROPERTY by default) holding the file name,
``default_filename`` when nothing is set. ``build_file(**extra_vars)`` turns the current value into a
:class:`~griptape_nodes.files.project_file.ProjectFileDestination` of the situation (default
``save_node_output``), with ``node_name`` the node's name: written, it lands in the running library's
folder of the engine home (``static_files/<library>/outputs/<node>_<file>``; docs/griptape-compat.md).

Not in nodeisle: the file picker and "configure" button traits (nodeisle's editor has no file
browser), and taking a ``FileDestination`` from an upstream FileOutputSettings node (no such node:
connect a file name instead).
"""

from __future__ import annotations

from typing import Any

from griptape_nodes.exe_types.core_types import Parameter, ParameterMode
from griptape_nodes.files.project_file import ProjectFileDestination

__all__ = ["ProjectFileParameter"]


class ProjectFileParameter:
    """Adds a file-name parameter to ``node`` and builds the destination its value names."""

    DEFAULT_SITUATION = "save_node_output"

    def __init__(
        self,
        node: Any,
        name: str,
        *,
        default_filename: str,
        situation: str = DEFAULT_SITUATION,
        allowed_modes: set[ParameterMode] | None = None,
        ui_options: dict[str, Any] | None = None,
    ) -> None:
        self._node = node
        self._name = name
        self._situation = situation
        self._default_filename = default_filename
        self._allowed_modes = allowed_modes or {ParameterMode.INPUT, ParameterMode.PROPERTY}
        self._ui_options = ui_options

    @property
    def name(self) -> str:
        return self._name

    def add_parameter(self) -> None:
        self._node.add_parameter(
            Parameter(
                name=self._name,
                type="str",
                input_types=["str"],
                output_type="str",
                default_value=self._default_filename,
                allowed_modes=self._allowed_modes,
                tooltip=f"Output filename (uses '{self._situation}' situation template)",
                ui_options=self._ui_options,
            )
        )

    def build_file(self, **extra_vars: str | int) -> ProjectFileDestination:
        value = self._node.get_parameter_value(self._name)
        filename = value if isinstance(value, str) and value else self._default_filename
        extra_vars.setdefault("node_name", self._node.name)
        return ProjectFileDestination.from_situation(filename, self._situation, **extra_vars)
