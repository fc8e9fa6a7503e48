"""Griptape's library objects, as an advanced library's hooks receive them: ``LibrarySchema`` (the
manifest, typed) and ``Library`` (the registered node classes), plus ``LibraryRegistry`` lookups.

Built from nodeisle's manifest with Griptape's field names; values the manifest leaves out get
Griptape's defaults ("" for texts, [] for lists). Read-only in spirit: nodeisle reads the manifest,
not these objects. A field Griptape has and this stand-in lacks fails naming it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from nodeisle.manifest import LibraryManifest

if TYPE_CHECKING:
    from griptape_nodes.node_library.advanced_node_library import AdvancedNodeLibrary

__all__ = [
    "CategoryDefinition",
    "Dependencies",
    "Library",
    "LibraryMetadata",
    "LibraryRegistry",
    "LibrarySchema",
    "NodeDefinition",
    "NodeMetadata",
    "Setting",
    "WidgetDefinition",
]


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _texts(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class _Strict:
    """A field of Griptape's model that this stand-in does not have is named, not a bare AttributeError."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise _compat.CompatAttributeError(
            f"{type(self).__name__}.{name}: nodeisle's griptape_nodes compatibility layer does not provide this "
            f"field of Griptape's {type(self).__name__}; read the manifest's raw JSON instead",
            module=__name__,
            missing=f"{type(self).__name__}.{name}",
        )


@dataclass
class Dependencies(_Strict):
    pip_dependencies: list[str] | None = None
    pip_install_flags: list[str] | None = None


@dataclass
class LibraryMetadata(_Strict):
    author: str = ""
    description: str = ""
    library_version: str = ""
    engine_version: str = ""
    tags: list[str] = field(default_factory=list)
    dependencies: Dependencies | None = None
    is_griptape_nodes_searchable: bool = True


@dataclass
class CategoryDefinition(_Strict):
    title: str = ""
    description: str = ""
    color: str = ""
    icon: str = ""
    group: str | None = None


@dataclass
class NodeMetadata(_Strict):
    category: str = ""
    description: str = ""
    display_name: str = ""
    tags: list[str] | None = None
    icon: str | None = None
    color: str | None = None
    group: str | None = None


@dataclass
class NodeDefinition(_Strict):
    class_name: str
    file_path: str
    metadata: NodeMetadata


@dataclass
class Setting(_Strict):
    category: str
    contents: dict[str, Any]
    description: str | None = None


@dataclass
class WidgetDefinition(_Strict):
    name: str
    path: str
    description: str | None = None


def _node_metadata(data: Mapping[str, Any]) -> NodeMetadata:
    tags = data.get("tags")
    return NodeMetadata(
        category=_text(data, "category"), description=_text(data, "description"),
        display_name=_text(data, "display_name"), tags=_texts(tags) if isinstance(tags, list) else None,
        icon=data.get("icon") if isinstance(data.get("icon"), str) else None,
        color=data.get("color") if isinstance(data.get("color"), str) else None,
        group=data.get("group") if isinstance(data.get("group"), str) else None,
    )


def _categories(value: object) -> list[dict[str, CategoryDefinition]]:
    out: list[dict[str, CategoryDefinition]] = []
    for entry in value if isinstance(value, list) else []:
        for key, body in _mapping(entry).items():
            data = _mapping(body)
            out.append({str(key): CategoryDefinition(
                _text(data, "title"), _text(data, "description"), _text(data, "color"), _text(data, "icon"),
                data.get("group") if isinstance(data.get("group"), str) else None)})
    return out


@dataclass
class LibrarySchema(_Strict):
    """The library's manifest with Griptape's field names."""

    name: str
    library_schema_version: str
    metadata: LibraryMetadata
    categories: list[dict[str, CategoryDefinition]]
    nodes: list[NodeDefinition]
    workflows: list[str] | None = None
    scripts: list[str] | None = None
    settings: list[Setting] | None = None
    is_default_library: bool | None = None
    advanced_library_path: str | None = None
    widgets: list[WidgetDefinition] | None = None

    @classmethod
    def from_manifest(cls, manifest: LibraryManifest) -> LibrarySchema:
        raw = manifest.raw
        meta = _mapping(raw.get("metadata"))
        deps = manifest.dependencies
        metadata = LibraryMetadata(
            author=manifest.author or "", description=manifest.description or "",
            library_version=manifest.library_version or "", engine_version=manifest.engine_version or "",
            tags=list(manifest.tags),
            dependencies=Dependencies(list(deps.pip_dependencies), list(deps.pip_install_flags)),
            is_griptape_nodes_searchable=meta.get("is_griptape_nodes_searchable") is not False,
        )
        settings = [Setting(_text(s, "category"), dict(_mapping(s.get("contents"))), s.get("description"))
                    for s in raw.get("settings") or [] if isinstance(s, Mapping)]
        widgets = [WidgetDefinition(_text(w, "name"), _text(w, "path"), w.get("description"))
                   for w in raw.get("widgets") or [] if isinstance(w, Mapping)]
        default = raw.get("is_default_library")
        return cls(
            name=manifest.name, library_schema_version=manifest.schema_version or "", metadata=metadata,
            categories=_categories(raw.get("categories")),
            nodes=[NodeDefinition(n.class_name, n.file_path, _node_metadata(n.metadata)) for n in manifest.nodes],
            workflows=_texts(raw.get("workflows")) if "workflows" in raw else None,
            scripts=_texts(raw.get("scripts")) if "scripts" in raw else None,
            settings=settings if "settings" in raw else None,
            is_default_library=default if isinstance(default, bool) else None,
            advanced_library_path=raw.get("advanced_library_path") if isinstance(
                raw.get("advanced_library_path"), str) else None,
            widgets=widgets if "widgets" in raw else None,
        )


class Library(_Strict):
    """A loaded library: its data, its node classes as they are registered, its advanced library."""

    def __init__(self, library_data: LibrarySchema, advanced_library: AdvancedNodeLibrary | None = None) -> None:
        self._library_data = library_data
        self._advanced_library = advanced_library
        self._node_types: dict[str, type[Any]] = {}
        self._node_metadata: dict[str, NodeMetadata] = {}
        self._request_types: list[type[Any]] = []

    def register_new_node_type(self, node_class: type[Any], metadata: NodeMetadata) -> None:
        self._node_types[node_class.__name__] = node_class
        self._node_metadata[node_class.__name__] = metadata

    def get_library_data(self) -> LibrarySchema:
        return self._library_data

    def get_registered_nodes(self) -> list[str]:
        return list(self._node_types)

    def has_node_type(self, node_type: str) -> bool:
        return node_type in self._node_types

    def get_node_class(self, node_type: str) -> type[Any]:
        if node_type not in self._node_types:
            raise KeyError(f"library {self._library_data.name!r} has no node type {node_type!r}")
        return self._node_types[node_type]

    def get_node_metadata(self, node_type: str) -> NodeMetadata:
        if node_type not in self._node_metadata:
            raise KeyError(f"library {self._library_data.name!r} has no node type {node_type!r}")
        return self._node_metadata[node_type]

    def get_nodes_by_base_type(self, base_type: type) -> list[str]:
        return [name for name, cls in self._node_types.items() if issubclass(cls, base_type)]

    def get_categories(self) -> list[dict[str, CategoryDefinition]]:
        return self._library_data.categories

    def get_metadata(self) -> LibraryMetadata:
        return self._library_data.metadata

    def get_advanced_library(self) -> AdvancedNodeLibrary | None:
        return self._advanced_library

    def get_registered_request_handler_types(self) -> list[type[Any]]:
        return list(self._request_types)

    def is_default_library(self) -> bool:
        return bool(self._library_data.is_default_library)


class LibraryRegistry:
    """The libraries with an advanced library loaded in this process, by name."""

    _libraries: dict[str, Library] = {}  # noqa: RUF012 (process-wide, as Griptape's)
    _lock = threading.Lock()

    @classmethod
    def get_library(cls, name: str) -> Library:
        with cls._lock:
            if name not in cls._libraries:
                raise KeyError(f"no library named {name!r} with an advanced library is loaded in this process")
            return cls._libraries[name]

    @classmethod
    def list_libraries(cls) -> list[str]:
        with cls._lock:
            return list(cls._libraries)

    @classmethod
    def _put(cls, library: Library) -> None:
        with cls._lock:
            cls._libraries[library.get_library_data().name] = library

    @classmethod
    def _drop(cls, name: str, library: Library) -> None:
        with cls._lock:
            if cls._libraries.get(name) is library:
                del cls._libraries[name]


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
