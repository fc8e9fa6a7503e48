"""The loaded manifest: its types, frozen. Stdlib only (workers import it)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_FILE_NAMES: tuple[str, ...] = ("griptape-nodes-library.json", "griptape_nodes_library.json")


class Compatibility(enum.StrEnum):
    """``worker_mode_compatibility``: whether the library may be hosted on a worker subprocess."""
    COMPATIBLE = "COMPATIBLE"
    INCOMPATIBLE = "INCOMPATIBLE"


class WorkerMode(enum.StrEnum):
    """``suggested_worker_mode``: where the author suggests the library launches."""
    ORCHESTRATOR = "ORCHESTRATOR"
    WORKER = "WORKER"


@dataclass(frozen=True, slots=True)
class ManifestWarning:
    """Something odd in a manifest that does not stop the library from loading."""
    file: str
    json_path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.json_path}: {self.message}"


@dataclass(frozen=True, slots=True)
class Declarations:
    """The library-level ``metadata.declarations`` that nodeisle interprets."""
    compatibility: Compatibility = Compatibility.COMPATIBLE
    suggested_mode: WorkerMode | None = None
    required_secrets: tuple[str, ...] | None = None
    unknown: tuple[str, ...] = ()  # declaration type names nodeisle does not know


@dataclass(frozen=True, slots=True)
class Dependencies:
    """``metadata.dependencies``: pip requirement strings and extra installer arguments."""
    pip_dependencies: tuple[str, ...] = ()
    pip_install_flags: tuple[str, ...] = ()
    pip_dependencies_exec: tuple[str, ...] = ()
    implied: tuple[str, ...] = ()  # what Griptape's engine would provide: the griptape framework (framework.py)

    @property
    def worker_env(self) -> tuple[str, ...]:
        """What the library's worker env installs: ``pip_dependencies``, then ``pip_dependencies_exec`` (the
        execution set, which only the process running the nodes needs), then the ``implied`` ones."""
        return (*self.pip_dependencies, *self.pip_dependencies_exec, *self.implied)


@dataclass(frozen=True, slots=True)
class NodeEntry:
    """One entry of ``nodes``."""
    class_name: str
    file_path: str  # as written, relative to the manifest
    path: Path  # absolute, normalised
    category: str | None
    description: str | None
    display_name: str | None
    metadata: Mapping[str, Any] = field(hash=False)


#: The key of a ``settings`` entry's contents that names secrets instead of holding a config value.
SECRETS_TO_REGISTER = "secrets_to_register"


@dataclass(frozen=True, slots=True)
class LibrarySettings:
    """One entry of the manifest's top-level ``settings`` (Griptape's library settings).

    ``contents`` are config defaults under ``category``: a node reads ``<category>.<key>`` through
    Griptape's ConfigManager, which is nodeisle's ``libraries.<category>.<key>``. The contents key
    ``secrets_to_register`` (a list of names, or an object whose keys are the names) is not config:
    it names secrets the library uses.
    """
    category: str
    description: str | None
    contents: Mapping[str, Any] = field(hash=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        names = self.contents.get(SECRETS_TO_REGISTER) or ()
        return tuple(str(name) for name in names)

    @property
    def config_defaults(self) -> dict[str, Any]:
        return {f"libraries.{self.category}.{key}": value for key, value in self.contents.items()
                if key != SECRETS_TO_REGISTER}


@dataclass(frozen=True, slots=True)
class LibraryManifest:
    """A loaded library manifest. ``raw`` is the whole JSON document, extras included."""
    path: Path  # absolute path of the manifest file
    name: str
    schema_version: str | None
    author: str | None
    description: str | None
    library_version: str | None
    engine_version: str | None
    tags: tuple[str, ...]
    declarations: Declarations
    dependencies: Dependencies
    categories: tuple[Any, ...] = field(hash=False)
    nodes: tuple[NodeEntry, ...]
    raw: Mapping[str, Any] = field(hash=False)
    warnings: tuple[ManifestWarning, ...]
    # ``advanced_library_path`` made absolute: the file with the library's AdvancedNodeLibrary subclass.
    advanced_library: Path | None = None
    settings: tuple[LibrarySettings, ...] = ()

    @property
    def registered_secrets(self) -> tuple[str, ...]:
        """The secret names the ``settings`` register (``secrets_to_register``): known secrets, not a limit."""
        return tuple(dict.fromkeys(name for entry in self.settings for name in entry.secrets))

    @property
    def config_defaults(self) -> dict[str, Any]:
        """The config defaults the ``settings`` declare, keyed as nodeisle's config keys."""
        found: dict[str, Any] = {}
        for entry in self.settings:
            for key, value in entry.config_defaults.items():
                found.setdefault(key, value)  # the first entry naming a key wins, as the loader warns
        return found

    @property
    def config_categories(self) -> tuple[str, ...]:
        """The config categories the library's ``settings`` declare: its own, besides its name."""
        return tuple(dict.fromkeys(entry.category for entry in self.settings))

    @property
    def directory(self) -> Path:
        """The library folder: node ``file_path`` values are relative to it."""
        return self.path.parent

    def node(self, class_name: str) -> NodeEntry | None:
        """The node entry with this class name, or None."""
        return next((n for n in self.nodes if n.class_name == class_name), None)
