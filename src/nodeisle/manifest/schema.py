"""The JSON Schema (draft 2020-12) of the manifests :func:`~nodeisle.manifest.load_manifest` accepts."""

from __future__ import annotations

from typing import Any

from nodeisle.manifest.model import Compatibility, WorkerMode


def manifest_json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of the manifests that load_manifest accepts without error.

    Tolerated oddities (a list for ``dependencies``, an object for ``declarations``) validate too;
    extra keys are allowed everywhere real files carry them.
    """

    def obj(description: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"type": "object", "description": description, "properties": properties,
                "additionalProperties": True, **extra}

    def text(description: str, **extra: Any) -> dict[str, Any]:
        return {"type": "string", "description": description, **extra}

    def strings(description: str) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "minLength": 1}, "description": description}

    def when(kind: str, key: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
                "then": {"properties": {key: value}, "required": [key]}}

    def has(kind: str, key: str, value: str) -> dict[str, Any]:
        return {"contains": {"properties": {"type": {"const": kind}, key: {"const": value}},
                             "required": ["type", key]}}

    compat = {"enum": [c.value for c in Compatibility],
              "description": "Whether the library may run on a worker subprocess (absent: COMPATIBLE)."}
    mode = {"enum": [m.value for m in WorkerMode],
            "description": "Where the library launches unless the user overrides it (absent: no suggestion)."}
    requirements = strings("pip requirement strings; pin each with '==' (e.g. 'torch==2.4.1').")
    declaration_list = {
        "type": "array",
        "description": "Typed declarations; unknown types are ignored with a warning.",
        "items": obj("One declaration.", {"type": text("Declaration type.", minLength=1)}, required=["type"],
                     allOf=[when("worker_mode_compatibility", "compatibility", compat),
                            when("suggested_worker_mode", "mode", mode),
                            when("required_secrets", "keys", strings("Secret names the library needs."))]),
        "not": {"allOf": [has("worker_mode_compatibility", "compatibility", "INCOMPATIBLE"),
                          has("suggested_worker_mode", "mode", "WORKER")],
                "description": "INCOMPATIBLE together with a suggested WORKER mode is contradictory."},
    }
    declaration_object = obj("Malformed but tolerated (warning): {type: value} pairs.",
                             {"worker_mode_compatibility": compat, "suggested_worker_mode": mode})
    dependencies = obj("What the library's environment installs.", {
        "pip_dependencies": requirements,
        "pip_install_flags": strings("Extra installer arguments; option and value are separate items."),
        "pip_dependencies_exec": requirements,
    })
    metadata = obj("Library metadata.", {
        "author": text("Author."),
        "description": text("What the library does."),
        "library_version": text("Version of the library."),
        "engine_version": text("Engine version the library was written for."),
        "tags": strings("Free-form tags."),
        "declarations": {"anyOf": [declaration_list, declaration_object]},
        "dependencies": {"anyOf": [dependencies, dict(requirements, description="Old form (warning).")]},
    })
    node = obj("One node class.", {
        "class_name": text("Python class name of the node.", minLength=1),
        "file_path": text("Python file that defines the class, relative to the manifest.", minLength=1),
        "metadata": obj("Node metadata.", {"category": text("Category name, declared in categories."),
                                           "description": text("What the node does."),
                                           "display_name": text("Name shown in the editor.")}),
    }, required=["class_name", "file_path"])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Griptape Nodes library manifest (griptape-nodes-library.json)",
        **obj("A node library: its metadata, categories and nodes.", {
            "name": text("Library name.", minLength=1),
            "library_schema_version": text("Manifest format version, e.g. 0.10.0 (absent: a warning)."),
            "metadata": metadata,
            "categories": {"type": "array", "description": "Objects mapping category names to display data."},
            "nodes": {"type": "array", "items": node, "description": "Node classes of the library."},
            "workflows": {"type": "array", "description": "Workflow file paths; empty entries are warned."},
            "settings": {"type": "array", "description": (
                "Library settings: objects with category, description and contents (config defaults read as "
                "<category>.<key>; contents.secrets_to_register names the secrets the library uses)"),
                "items": {"type": "object"}},
            "advanced_library_path": {"type": ["string", "null"], "minLength": 1, "description": (
                "Python file, relative to the manifest, defining an AdvancedNodeLibrary subclass (load hooks)")},
        }, required=["name", "nodes"]),
    }
