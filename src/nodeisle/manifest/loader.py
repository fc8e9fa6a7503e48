"""Finding, reading and checking a manifest file: :func:`find_manifest` and :func:`load_manifest`.

Stdlib only: worker subprocesses load their library's manifest with it. Errors are
:class:`~nodeisle.errors.ManifestError` (file, JSON path, what was found, what is expected);
oddities become the manifest's warnings. See docs/manifest.md.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from nodeisle.errors import ManifestError
from nodeisle.manifest.framework import implied_requirements
from nodeisle.manifest.model import (
    MANIFEST_FILE_NAMES,
    SECRETS_TO_REGISTER,
    Compatibility,
    Declarations,
    Dependencies,
    LibraryManifest,
    LibrarySettings,
    ManifestWarning,
    NodeEntry,
    WorkerMode,
)
from nodeisle.manifest.pins import pin_warning

_ACCEPTED = " or ".join(MANIFEST_FILE_NAMES)


def find_manifest(path: str | os.PathLike[str]) -> Path:
    """The absolute manifest path for a manifest file or a folder holding one.

    A folder must hold one of MANIFEST_FILE_NAMES (``griptape-nodes-library.json`` wins when both exist);
    a file path is taken as is, whatever its name.
    """
    target = Path(os.fspath(path)).resolve()
    if target.is_dir():
        for name in MANIFEST_FILE_NAMES:
            if (target / name).is_file():
                return target / name
        others = sorted(p.name for p in target.glob("griptape*nodes*library*.json"))
        hint = f"It holds {', '.join(others)}; pass that file's path to load it" if others else ""
        raise ManifestError(str(target), "$", "a folder without a library manifest",
                            f"a folder holding {_ACCEPTED}", hint)
    if target.is_file():
        return target
    raise ManifestError(str(target), "$", "nothing at this path (no such file or folder)",
                        f"the path of a {_ACCEPTED} file, or of a folder holding one")


def _read_json(file: Path) -> object:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ManifestError(str(file), "$", f"a file that cannot be read ({exc.strerror})",
                            "a readable UTF-8 JSON file") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(str(file), "$", f"bytes that are not UTF-8 (at byte offset {exc.start})",
                            "a UTF-8 encoded JSON file", "Save the file as UTF-8") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        found = f"invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
        raise ManifestError(str(file), "$", found, "a valid JSON object", _json_hint(text, exc)) from exc
    except (ValueError, RecursionError) as exc:  # e.g. an integer of thousands of digits, absurd nesting
        raise ManifestError(str(file), "$", f"JSON that cannot be read ({type(exc).__name__}: {exc})"[:300],
                            "a valid JSON object of reasonable size and depth") from None


def _json_hint(text: str, exc: json.JSONDecodeError) -> str:
    if "<<<<<<<" in text:
        lines = [str(i) for i, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith("<<<<<<<")]
        return (f"The file contains unresolved git merge-conflict markers ('<<<<<<<' / '=======' / '>>>>>>>',"
                f" first at line {lines[0] if lines else '?'}); resolve the conflict and delete the markers")
    before = text[: exc.pos].rstrip()
    if before.endswith(",") and text[exc.pos : exc.pos + 1] in ("}", "]"):
        return "Remove the trailing comma before this position: JSON allows no comma after the last item"
    if exc.msg.startswith("Expecting ','"):
        return "A comma is probably missing between the previous value and this one"
    return ""


_E = TypeVar("_E", bound=enum.StrEnum)
_MISSING = object()
_WORKER_TYPES = {"worker_mode_compatibility": "compatibility", "suggested_worker_mode": "mode",
                 "required_secrets": "keys"}
# Declared by the upstream format; nodeisle does not use them, so they load without a warning.
_UPSTREAM_TYPES = frozenset({"lifecycle_stage", "model_catalog", "library_dependency"})


def _found(value: object) -> str:
    if value is _MISSING or value is None:
        return "nothing (the key is missing)" if value is _MISSING else "null"
    kind = {bool: "boolean", str: "string", int: "number", float: "number", list: "list", dict: "object"}
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return f"the {kind.get(type(value), 'value')} {text if len(text) <= 80 else text[:77] + '...'}"


class _Builder:
    def __init__(self, file: Path, require_inside: bool = False) -> None:
        self.file = file
        self.require_inside = require_inside
        self.warnings: list[ManifestWarning] = []

    def warn(self, json_path: str, message: str) -> None:
        self.warnings.append(ManifestWarning(str(self.file), json_path, message))

    def error(self, json_path: str, found: object, expected: str, hint: str = "") -> ManifestError:
        return ManifestError(str(self.file), json_path, _found(found), expected, hint)

    def opt_str(self, obj: Mapping[str, object], path: str, key: str) -> str | None:
        value = obj.get(key)
        if value is None or isinstance(value, str):
            return value
        self.warn(f"{path}{key}", f"is {_found(value)}, expected a string; ignored")
        return None

    def str_list(self, value: object, path: str, what: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.error(path, value, f"a list of {what}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.error(f"{path}[{i}]", item, f"a non-empty string in a list of {what}")
        return tuple(value)

    def build(self, data: object) -> LibraryManifest:
        if not isinstance(data, dict):
            raise self.error("$", data, "a JSON object with name, metadata, categories and nodes")
        name = data.get("name", _MISSING)
        if not isinstance(name, str) or not name.strip():
            raise self.error("name", name, "a non-empty string naming the library")
        schema_version = data.get("library_schema_version")
        if not isinstance(schema_version, str):
            self.warn("library_schema_version", f"is {_found(data.get('library_schema_version', _MISSING))};"
                      ' expected a version string such as "0.10.0"; read as the oldest format')
            schema_version = None
        meta = data.get("metadata", _MISSING)
        if meta is _MISSING or meta is None:
            self.warn("metadata", "is missing; the library has no author, declarations or dependencies")
            meta = {}
        elif not isinstance(meta, dict):
            raise self.error("metadata", meta, "an object with author, description, library_version, ...")
        raw_tags = meta.get("tags")
        tags = tuple(t for t in raw_tags if isinstance(t, str)) if isinstance(raw_tags, list) else ()
        if raw_tags is not None and (not isinstance(raw_tags, list) or len(tags) != len(raw_tags)):
            self.warn("metadata.tags", f"is {_found(raw_tags)}; expected a list of strings (others ignored)")
        categories = data.get("categories", [])
        if not isinstance(categories, list):
            self.warn("categories", f"is {_found(categories)}, expected a list of objects; ignored")
            categories = []
        author, description, library_version, engine_version = (
            self.opt_str(meta, "metadata.", k) for k in ("author", "description", "library_version", "engine_version"))
        declarations = self.declarations(meta.get("declarations"))
        dependencies = self.dependencies(meta)
        declared = {str(k) for c in categories if isinstance(c, dict) for k in c}
        declared |= {c for c in categories if isinstance(c, str)}
        nodes = self.nodes(data.get("nodes", _MISSING), declared)
        workflows = data.get("workflows")
        if workflows is not None and not isinstance(workflows, list):
            self.warn("workflows", f"is {_found(workflows)}, expected a list of workflow file paths; ignored")
        for i, item in enumerate(workflows if isinstance(workflows, list) else []):
            if not isinstance(item, str) or not item.strip():
                self.warn(f"workflows[{i}]", f"is {_found(item)}, expected a workflow file path; ignored")
        advanced = self.advanced_library(data.get("advanced_library_path"))
        settings = self.settings(data.get("settings"))
        return LibraryManifest(
            path=self.file, name=name, schema_version=schema_version, author=author, description=description,
            library_version=library_version, engine_version=engine_version, tags=tags,
            declarations=declarations, dependencies=dependencies, categories=tuple(categories), nodes=nodes,
            raw=MappingProxyType(data), warnings=tuple(self.warnings), advanced_library=advanced,
            settings=settings,
        )

    def settings(self, value: object) -> tuple[LibrarySettings, ...]:
        """``settings``: config defaults by category, and ``secrets_to_register``. A bad entry is warned and ignored."""
        if value is None:
            return ()
        if not isinstance(value, list):
            self.warn("settings", f"is {_found(value)}, expected a list of objects with category and contents; ignored")
            return ()
        found: list[LibrarySettings] = []
        seen: dict[str, str] = {}
        for i, entry in enumerate(value):
            path = f"settings[{i}]"
            if not isinstance(entry, dict):
                self.warn(path, f"is {_found(entry)}, expected an object with category and contents; ignored")
                continue
            category, contents = entry.get("category"), entry.get("contents", {})
            if not isinstance(category, str) or not category.strip() or category != category.strip():
                self.warn(f"{path}.category", f"is {_found(category)}, expected a config category name such as "
                          '"my_library"; the entry is ignored')
                continue
            if not isinstance(contents, dict):
                self.warn(f"{path}.contents", f"is {_found(contents)}, expected an object of setting names and "
                          "default values; the entry is ignored")
                continue
            contents = dict(contents)
            secrets = contents.get(SECRETS_TO_REGISTER)
            if secrets is not None:
                names = list(secrets) if isinstance(secrets, (list, dict)) else None
                if names is None or not all(isinstance(n, str) and n.strip() for n in names):
                    self.warn(f"{path}.contents.{SECRETS_TO_REGISTER}", f"is {_found(secrets)}, expected a list of "
                              "secret names (or an object whose keys are the names); ignored")
                    contents.pop(SECRETS_TO_REGISTER)
                else:
                    contents[SECRETS_TO_REGISTER] = tuple(names)
            for key in contents:
                full = f"{category}.{key}"
                if key != SECRETS_TO_REGISTER and full in seen:
                    self.warn(f"{path}.contents.{key}", f"{full} is also set by {seen[full]}; the first one is used")
                seen.setdefault(full, path)
            description = entry.get("description")
            found.append(LibrarySettings(category, description if isinstance(description, str) else None,
                                         MappingProxyType(contents)))
        return tuple(found)

    def advanced_library(self, value: object) -> Path | None:
        """``advanced_library_path``: a .py file relative to the manifest (checked to exist at load)."""
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error("advanced_library_path", value, "the path of a .py file, relative to the manifest, that"
                             " defines an AdvancedNodeLibrary subclass", "Or leave the key out")
        resolved = Path(os.path.normpath(self.file.parent / value))
        real = Path(os.path.realpath(resolved))
        if not resolved.is_relative_to(self.file.parent) or not real.is_relative_to(self.file.parent):
            self.outside("advanced_library_path", "the advanced library", value, resolved, real)
        return resolved

    def dependencies(self, meta: Mapping[str, object]) -> Dependencies:
        path = "metadata.dependencies"
        deps = meta.get("dependencies", _MISSING)
        pip: tuple[str, ...] = ()
        flags: tuple[str, ...] = ()
        execs: tuple[str, ...] = ()
        what = "requirement strings such as 'torch==2.4.1'"
        if deps is _MISSING or deps is None:
            self.warn(path, "is missing; the library installs no pip dependencies"
                      ' (write {"pip_dependencies": []} to say so)')
        elif isinstance(deps, list):
            self.warn(path, 'is a list; expected an object {"pip_dependencies": [...], "pip_install_flags":'
                      " [...]}; the list is read as pip_dependencies")
            pip = self.str_list(deps, path, what)
        elif isinstance(deps, dict):
            pip = self.str_list(deps.get("pip_dependencies", []), f"{path}.pip_dependencies", what)
            flags = self.str_list(deps.get("pip_install_flags", []), f"{path}.pip_install_flags",
                                  "installer arguments such as '--extra-index-url'")
            if deps.get("pip_dependencies_exec") is not None:
                execs = self.str_list(deps["pip_dependencies_exec"], f"{path}.pip_dependencies_exec", what)
        else:
            raise self.error(path, deps, 'an object {"pip_dependencies": [...], "pip_install_flags": [...]}')
        if meta.get("pip_install_flags") is not None:
            stray = self.str_list(meta["pip_install_flags"], "metadata.pip_install_flags", "installer flags")
            self.warn("metadata.pip_install_flags", "belongs under metadata.dependencies"
                      + ("; used because metadata.dependencies has none" if not flags else "; ignored"))
            flags = flags or stray
        req_path = f"{path}.pip_dependencies" if isinstance(deps, dict) else path
        for prefix, reqs in ((req_path, pip), (f"{path}.pip_dependencies_exec", execs)):
            for i, req in enumerate(reqs):
                message = pin_warning(req)
                if message:
                    self.warn(f"{prefix}[{i}]", message)
        return Dependencies(pip, flags, execs, implied_requirements(self.file.parent, (*pip, *execs)))

    def declaration_items(self, value: object) -> list[tuple[str, object, bool]]:
        """(json path, declaration, value sits directly at the path) for each declaration; [] for none."""
        base = "metadata.declarations"
        if value is None:
            return []
        if isinstance(value, dict):
            self.warn(base, 'must be a list of typed objects such as [{"type": "worker_mode_compatibility",'
                      ' "compatibility": "COMPATIBLE"}]; found an object, read as {type: value} pairs')
            return [(f"{base}.{k}", {**v, "type": k} if isinstance(v, dict)
                     else {"type": k, _WORKER_TYPES.get(k, "value"): v}, not isinstance(v, dict))
                    for k, v in value.items()]
        if isinstance(value, list):
            return [(f"{base}[{i}]", v, False) for i, v in enumerate(value)]
        raise self.error(base, value, 'a list of declaration objects, each with a "type"')

    def declarations(self, value: object) -> Declarations:
        if value is None:
            return Declarations()
        compat: tuple[Compatibility, str] | None = None
        mode: tuple[WorkerMode, str] | None = None
        secrets: tuple[str, ...] | None = None
        unknown: list[str] = []
        seen: dict[str, str] = {}
        for path, raw, direct in self.declaration_items(value):
            kind, entry = self.declaration(path, raw, seen)
            if kind == "worker_mode_compatibility":
                compat = (self.enum_field(entry, path, "compatibility", Compatibility, direct), path)
            elif kind == "suggested_worker_mode":
                mode = (self.enum_field(entry, path, "mode", WorkerMode, direct), path)
            elif kind == "required_secrets":
                secrets = self.str_list(entry.get("keys", _MISSING), path if direct else f"{path}.keys",
                                        "secret names such as 'OPENAI_API_KEY'")
            elif kind not in _UPSTREAM_TYPES:
                unknown.append(kind)
                self.warn(path, f"unknown declaration type {kind!r}; ignored (nodeisle reads "
                          f"{', '.join(_WORKER_TYPES)})")
        if compat and mode and compat[0] is Compatibility.INCOMPATIBLE and mode[0] is WorkerMode.WORKER:
            raise ManifestError(
                str(self.file), "metadata.declarations",
                f"worker_mode_compatibility INCOMPATIBLE ({compat[1]}) together with suggested_worker_mode"
                f" WORKER ({mode[1]})",
                "suggested_worker_mode ORCHESTRATOR (or none) for an INCOMPATIBLE library, or"
                " worker_mode_compatibility COMPATIBLE to suggest WORKER",
                "A library that must never be hosted on a worker cannot suggest launching on one")
        return Declarations(compat[0] if compat else Compatibility.COMPATIBLE, mode[0] if mode else None,
                            secrets, tuple(unknown))

    def declaration(self, path: str, entry: object, seen: dict[str, str]) -> tuple[str, Mapping[str, object]]:
        """One declaration object and its ``type`` (``seen``: where each worker type was first declared)."""
        if not isinstance(entry, dict):
            raise self.error(path, entry, 'a declaration object with a "type" key')
        kind = entry.get("type", _MISSING)
        if not isinstance(kind, str) or not kind:
            raise self.error(f"{path}.type", kind, "a declaration type such as worker_mode_compatibility")
        if kind in _WORKER_TYPES and kind in seen:
            raise self.error(path, entry, f"at most one {kind} declaration",
                             f"The first one is {seen[kind]}; keep one of them")
        seen.setdefault(kind, path)
        return kind, entry

    def enum_field(self, entry: Mapping[str, object], path: str, key: str, cls: type[_E], direct: bool) -> _E:
        raw = entry.get(key, _MISSING)
        allowed = [m.value for m in cls]
        if isinstance(raw, str) and raw in allowed:
            return cls(raw)
        hint = ""
        if isinstance(raw, str) and raw.strip().upper() in allowed:
            hint = f'Values are upper case: write "{raw.strip().upper()}"'
        raise self.error(path if direct else f"{path}.{key}", raw,
                         "one of " + " or ".join(f'"{v}"' for v in allowed), hint)

    def outside(self, json_path: str, class_name: str, file_path: str, resolved: Path, real: Path) -> None:
        """A node file outside the library folder: an error for a library that is to run, else a warning."""
        target = str(resolved) if real == resolved else f"{resolved}, a symlink to {real}"
        if self.require_inside:
            raise ManifestError(
                str(self.file), json_path,
                f"{file_path!r} for {class_name}, which resolves to {target}, outside the library folder"
                f" {self.file.parent}",
                f"a {json_path.rpartition('.')[2]} inside the library folder",
                "nodeisle runs no node file from outside its library: move or copy the file into the library"
                " folder (a symlink must point inside it too) and point file_path at it")
        self.warn(json_path, f"{file_path!r} leaves the library directory ({target}); the library is not"
                  " self-contained, so copying or isolating it may break this node, and nodeisle refuses to"
                  " register it")

    def nodes(self, value: object, declared: set[str]) -> tuple[NodeEntry, ...]:
        if not isinstance(value, list):
            raise self.error("nodes", value, "a list of node objects (use [] for a library without nodes)")
        directory = self.file.parent
        out: list[NodeEntry] = []
        first: dict[str, int] = {}
        undeclared: dict[str, list[int]] = {}  # category -> indexes of the nodes using it
        for i, node in enumerate(value):
            path = f"nodes[{i}]"
            if not isinstance(node, dict):
                raise self.error(path, node, "a node object with class_name, file_path and metadata")
            for key, what in (("class_name", "the node's Python class name"),
                              ("file_path", "the node's .py file, relative to the manifest")):
                if not isinstance(node.get(key), str) or not node[key].strip():
                    raise self.error(f"{path}.{key}", node.get(key, _MISSING), f"a non-empty string: {what}")
            class_name, file_path = node["class_name"], node["file_path"]
            if class_name in first:
                self.warn(f"{path}.class_name", f"duplicate class_name {class_name!r}:"
                          f" nodes[{first[class_name]}] already declares it; this entry is ignored")
                continue
            first[class_name] = i
            meta = node.get("metadata", {})
            if not isinstance(meta, dict):
                self.warn(f"{path}.metadata", f"is {_found(meta)}, expected an object; ignored")
                meta = {}
            resolved = Path(os.path.normpath(directory / file_path))
            real = Path(os.path.realpath(resolved))  # the directory is already real (find_manifest resolves it)
            if not resolved.is_relative_to(directory) or not real.is_relative_to(directory):
                self.outside(f"{path}.file_path", f"node {class_name!r}", file_path, resolved, real)
            category = self.opt_str(meta, f"{path}.metadata.", "category")
            if category is not None and category not in declared:
                undeclared.setdefault(category, []).append(i)
            display_name = self.opt_str(meta, f"{path}.metadata.", "display_name")
            if display_name is None and isinstance(node.get("display_name"), str):
                display_name = node["display_name"]
            out.append(NodeEntry(class_name, file_path, resolved, category,
                                 self.opt_str(meta, f"{path}.metadata.", "description"), display_name,
                                 MappingProxyType(meta)))
        for category, where in undeclared.items():
            self.warn(f"nodes[{where[0]}].metadata.category",
                      f"category {category!r} (used by {len(where)} node(s)) is not declared in categories; add"
                      f' {{"{category}": {{"title": ..., "description": ...}}}} to categories')
        return tuple(out)


def load_manifest(path: str | os.PathLike[str], *, require_inside: bool = False) -> LibraryManifest:
    """Load and check the manifest at ``path`` (a manifest file, or a folder holding one).

    A node ``file_path`` that resolves outside the library folder (``../x.py``, an absolute path
    elsewhere, a symlink pointing out) is a warning, so any real manifest can be read; with
    ``require_inside`` (a library that is to run: the engine, a worker, ``libraries add``) it is a
    ManifestError naming the node and the path.
    """
    file = find_manifest(path)
    return _Builder(file, require_inside).build(_read_json(file))
