"""nodeisle.node.loading knows no hook by name: any registered finder's LibraryHooks run around the import."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from nodeisle.errors import LibraryError
from nodeisle.manifest import LibraryManifest, load_manifest
from nodeisle.node import loading

CALLS: list[str] = []


class Hooks:
    owner = "PlainHooks"

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def before_nodes_loaded(self) -> None:
        CALLS.append(f"before:{self.module.READY}")
        self.module.READY = "set by before"

    def after_nodes_loaded(self, classes: Mapping[str, type[Any]]) -> None:
        if getattr(self.module, "FAIL_AFTER", False):
            raise loading.HookFailed("after_nodes_loaded", RuntimeError("refused"))
        CALLS.append(f"after:{sorted(classes)}")

    def unload(self) -> None:
        CALLS.append("unload")
        raise OSError("teardown trouble")


def finder(manifest: LibraryManifest, module: ModuleType) -> Hooks | None:
    return Hooks(module) if hasattr(module, "READY") else None


loading.register_hooks_finder(finder)


def library(tmp_path: Path, advanced: str) -> LibraryManifest:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "extra.py").write_text(advanced)
    (tmp_path / "nodes.py").write_text(
        "import nodeisle\nimport extra\n\nclass Seen(nodeisle.BaseNode):\n    AT_IMPORT = extra.READY\n")
    data = {"name": "Plain Hooks", "metadata": {"dependencies": {"pip_dependencies": []}},
            "nodes": [{"class_name": "Seen", "file_path": "nodes.py"}], "advanced_library_path": "extra.py"}
    (tmp_path / "griptape-nodes-library.json").write_text(json.dumps(data))
    return load_manifest(tmp_path, require_inside=True)


def test_hooks_run_around_the_node_import_and_unload_problems_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    CALLS.clear()
    code = loading.import_library(library(tmp_path, "READY = 'initial'\n"))
    assert code.classes["Seen"].AT_IMPORT == "set by before"  # the node file saw what the hook set up
    assert CALLS == ["before:initial", "after:['Seen']"]
    with caplog.at_level(logging.WARNING, logger="nodeisle.library"):
        loading.unload_library(code)
    assert CALLS[-1] == "unload" and "unloading PlainHooks raised OSError: teardown trouble" in caplog.text


def test_a_failing_hook_fails_the_library_and_a_module_no_finder_knows_is_named(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match=r"PlainHooks\.after_nodes_loaded in .*extra\.py \(advanced_library_path\) "
                                           r"raised RuntimeError: refused; the library is not loaded"):
        loading.import_library(library(tmp_path / "a", "READY = 'x'\nFAIL_AFTER = True\n"))
    with pytest.raises(LibraryError, match=r"extra\.py defines no AdvancedNodeLibrary subclass"):
        loading.import_library(library(tmp_path / "b", "NOTHING = 1\n"))
