"""Project-file locations: Griptape's macro paths (``{outputs}/{node_name?:_}{file_name_base}.{file_extension}``)
mapped onto the running library's folder of the engine home's static-files area.

nodeisle has no Griptape project: the project folders ``{inputs}``, ``{outputs}`` and ``{temp}`` are
the folders ``inputs/``, ``outputs/`` and ``temp/`` of the library's static-files folder
(``$NODEISLE_HOME/static_files/<library>/outputs/...``), and a project file is written by the
orchestrator like a static file. A macro is ``{name}`` (required), ``{name?}`` (optional: empty when
not given), ``{name?:suffix}`` (the value then ``suffix`` when given), or ``{name:03}`` (a number,
zero-padded). No Griptape code is used; the syntax is the documented one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from griptape_nodes.retained_mode.events.os_events import ExistingFilePolicy

#: The project folders a macro may name, and the folder each is inside a library's static-files folder.
DIRECTORIES = {"inputs": "inputs", "outputs": "outputs", "temp": "temp"}
_MACRO = re.compile(r"\{([A-Za-z_][\w-]*)(\?)?(?::([^{}]*))?\}")

#: Griptape's default situations: where each kind of file goes, and what a write does when it exists.
SITUATIONS: dict[str, tuple[str, ExistingFilePolicy]] = {
    "save_file": ("{file_name_base}{_index?:03}.{file_extension}", ExistingFilePolicy.CREATE_NEW),
    "save_node_output": (
        "{outputs}/{sub_dirs?:/}{node_name?:_}{file_name_base}{_index?:03}.{file_extension}",
        ExistingFilePolicy.CREATE_NEW,
    ),
    "copy_external_file": (
        "{inputs}/{node_name?:_}{parameter_name?:_}{file_name_base}{_index?:03}.{file_extension}",
        ExistingFilePolicy.CREATE_NEW,
    ),
    "download_url": ("{inputs}/{sanitized_url}", ExistingFilePolicy.OVERWRITE),
    "save_static_file": ("{sub_dirs?:/}{file_name_base}.{file_extension}", ExistingFilePolicy.OVERWRITE),
}
#: What an unknown situation uses, as in Griptape (with an error logged).
FALLBACK = ("{outputs}/{node_name?:_}{file_name_base}{_index?:03}.{file_extension}", ExistingFilePolicy.CREATE_NEW)


class MacroError(ValueError):
    def __init__(self, message: str, missing: set[str]) -> None:
        super().__init__(message)
        self.missing = missing


def has_macros(text: str) -> bool:
    return _MACRO.search(text) is not None


def expand(template: str, variables: Mapping[str, str | int]) -> str:
    """``template`` with its macros filled in: a name relative to the library's static-files folder."""
    missing: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        name, optional, spec = match.group(1), match.group(2), match.group(3)
        value = variables.get(name, DIRECTORIES.get(name))
        if value is None or value == "":
            if not optional:
                missing.add(name)
            return ""
        if spec and spec.isdigit():
            return format(int(value), f"{spec}d") if str(value).lstrip("-").isdigit() else str(value)
        return f"{value}{spec or ''}"

    expanded = _MACRO.sub(fill, template)
    if missing:
        raise MacroError(
            f"project path {template!r} needs {', '.join(sorted(missing))} (no value given); the project folders "
            f"are {', '.join('{' + d + '}' for d in DIRECTORIES)}",
            missing,
        )
    return expanded


@dataclass(frozen=True)
class ProjectPath:
    """A macro path and its variables, resolved when it is written (into the running library's folder)."""

    template: str
    variables: Mapping[str, str | int] = field(default_factory=dict)

    def relative(self) -> str:
        return expand(self.template, self.variables)
