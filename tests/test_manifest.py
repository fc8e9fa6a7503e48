"""Tests of nodeisle.manifest: reading griptape-nodes-library.json files."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from nodeisle.errors import ManifestError
from nodeisle.manifest import (
    MANIFEST_FILE_NAMES,
    Compatibility,
    Declarations,
    Dependencies,
    LibraryManifest,
    ManifestWarning,
    WorkerMode,
    find_manifest,
    load_manifest,
    manifest_json_schema,
    unpinned_requirements,
)

HYPHEN, UNDERSCORE = MANIFEST_FILE_NAMES

# ---------------------------------------------------------------- corpus location

_CORPUS_ENV = "NODEISLE_CORPUS_DIR"
_DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "manifests"


def _corpus_dir() -> Path:
    return Path(os.environ[_CORPUS_ENV]) if os.environ.get(_CORPUS_ENV) else _DEFAULT_CORPUS


def _corpus_missing_message() -> str:
    return (f"manifest corpus not found: looked in {_corpus_dir()} "
            f"(set {_CORPUS_ENV} to the folder holding the corpus manifests/*.json)")


def _corpus_files() -> list[str]:
    folder = _corpus_dir()
    names = sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []
    return names or ["<corpus missing>"]  # a placeholder that fails, so a missing corpus never skips


# The four invalid-JSON files listed in SOURCES.md, with the position json reports.
INVALID_CORPUS = {
    "griptape-ai__griptape-nodes-library-standard__griptape_nodes_library__at_b2ddd279.json": (31, 1),
    "griptape-ai__griptape-nodes-library-diffusers__griptape-nodes-library__at_ccca0477.json": (298, 5),
    "griptape-ai__griptape-nodes-sam-audio-library__griptape_nodes_sam_audio_library_"
    "griptape-nodes-library.json": (38, 3),
    "shhlife__griptape-nodes-library-flow-production-tracking__flow_production_tracking_"
    "griptape-nodes-library.json": (14, 7),
}


def corpus_or_fail() -> Path:
    """The corpus folder; fails (never skips) the calling test when it is missing."""
    folder = _corpus_dir()
    if not folder.is_dir() or not any(folder.glob("*.json")):
        pytest.fail(_corpus_missing_message())
    return folder


# ---------------------------------------------------------------- helpers

BASE: dict[str, Any] = {
    "name": "Test Library",
    "library_schema_version": "0.10.0",
    "metadata": {
        "author": "Ada",
        "description": "A test library",
        "library_version": "0.1.0",
        "engine_version": "0.85.0",
        "tags": ["AI", "Test"],
        "dependencies": {"pip_dependencies": ["torch==2.4.1"], "pip_install_flags": []},
    },
    "categories": [{"test": {"title": "Test", "description": "Test nodes"}}],
    "nodes": [
        {
            "class_name": "Echo",
            "file_path": "nodes/echo.py",
            "metadata": {"category": "test", "description": "Echoes", "display_name": "Echo"},
        }
    ],
}

COMPAT_DECL = {"type": "worker_mode_compatibility", "compatibility": "COMPATIBLE"}
INCOMPAT_DECL = {"type": "worker_mode_compatibility", "compatibility": "INCOMPATIBLE"}
WORKER_DECL = {"type": "suggested_worker_mode", "mode": "WORKER"}
ORCH_DECL = {"type": "suggested_worker_mode", "mode": "ORCHESTRATOR"}


def manifest(**changes: Any) -> dict[str, Any]:
    """A copy of BASE; keys with dots ("metadata.declarations") set nested values, None deletes."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        target = data
        for key in parents:
            target = target[key]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return data


def write(folder: Path, data: Any, name: str = HYPHEN) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
    return path


def load(tmp_path: Path, **changes: Any) -> LibraryManifest:
    return load_manifest(write(tmp_path, manifest(**changes)))


def load_error(tmp_path: Path, data: Any) -> ManifestError:
    path = write(tmp_path, data)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    err = info.value
    assert err.file == str(path) and str(path) in str(err)
    assert err.json_path and err.found and err.expected
    return err


def messages(m: LibraryManifest, json_path_prefix: str = "") -> list[str]:
    return [w.message for w in m.warnings if w.json_path.startswith(json_path_prefix)]


# ---------------------------------------------------------------- file names and folders


@pytest.mark.parametrize("name", MANIFEST_FILE_NAMES)
def test_loads_a_manifest_file_by_either_accepted_name(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, manifest(), name)
    m = load_manifest(path)
    assert m.path == path.resolve() and m.path.is_absolute()
    assert m.name == "Test Library" and m.directory == tmp_path.resolve()


@pytest.mark.parametrize("name", MANIFEST_FILE_NAMES)
def test_loads_a_folder_holding_either_accepted_name(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / "lib", manifest(), name)
    assert find_manifest(tmp_path / "lib") == path.resolve()
    assert load_manifest(str(tmp_path / "lib")).path == path.resolve()


def test_folder_with_both_names_prefers_the_hyphenated_file(tmp_path: Path) -> None:
    write(tmp_path, manifest(name="underscored"), UNDERSCORE)
    write(tmp_path, manifest(name="hyphenated"), HYPHEN)
    assert load_manifest(tmp_path).name == "hyphenated"


def test_missing_path_error_names_the_path_and_both_file_names(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / HYPHEN
    with pytest.raises(ManifestError) as info:
        load_manifest(missing)
    text = str(info.value)
    assert str(missing) in text and HYPHEN in text and UNDERSCORE in text


def test_folder_without_manifest_error_names_both_file_names_and_near_misses(tmp_path: Path) -> None:
    write(tmp_path, manifest(), "griptape-nodes-library-cuda129.json")
    with pytest.raises(ManifestError) as info:
        find_manifest(tmp_path)
    text = str(info.value)
    assert str(tmp_path) in text and HYPHEN in text and UNDERSCORE in text
    assert "griptape-nodes-library-cuda129.json" in info.value.hint


def test_file_with_a_utf8_bom_loads(tmp_path: Path) -> None:
    path = tmp_path / HYPHEN
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(manifest(name="Bäume — Nodes")).encode("utf-8"))
    assert load_manifest(path).name == "Bäume — Nodes"


def test_file_that_is_not_utf8_is_a_manifest_error(tmp_path: Path) -> None:
    path = tmp_path / HYPHEN
    path.write_bytes(json.dumps(manifest(name="X")).encode("utf-8").replace(b'"X"', b'"\xff"'))
    with pytest.raises(ManifestError, match="UTF-8"):
        load_manifest(path)


# ---------------------------------------------------------------- fields


def test_fields_are_read_into_the_dataclasses(tmp_path: Path) -> None:
    m = load(tmp_path, settings=[{"category": "c", "contents": {"x": 1}}], widgets=[], is_default_library=False)
    assert (m.schema_version, m.author, m.description) == ("0.10.0", "Ada", "A test library")
    assert (m.library_version, m.engine_version, m.tags) == ("0.1.0", "0.85.0", ("AI", "Test"))
    assert m.dependencies == Dependencies(("torch==2.4.1",), (), ())
    assert m.declarations == Declarations()
    assert m.categories == ({"test": {"title": "Test", "description": "Test nodes"}},)
    assert m.config_defaults == {"libraries.c.x": 1}
    assert m.raw["widgets"] == [] and m.raw["is_default_library"] is False
    assert m.warnings == ()


def test_node_entries_resolve_file_paths_and_are_found_by_class_name(tmp_path: Path) -> None:
    m = load(tmp_path)
    node = m.node("Echo")
    assert node is not None and m.node("Missing") is None
    assert node.path == (tmp_path / "nodes" / "echo.py").resolve() and node.path.is_absolute()
    assert node.file_path == "nodes/echo.py"
    assert (node.category, node.description, node.display_name) == ("test", "Echoes", "Echo")
    assert node.metadata["category"] == "test"


def test_node_display_name_at_top_level_is_used_when_metadata_lacks_it(tmp_path: Path) -> None:
    node = {"class_name": "ToInteger", "file_path": "a.py", "display_name": "To Integer",
            "metadata": {"category": "test", "description": "d"}}
    entry = load(tmp_path, nodes=[node]).node("ToInteger")
    assert entry is not None and entry.display_name == "To Integer"


def test_manifest_warning_str_is_file_path_and_message() -> None:
    assert str(ManifestWarning("f.json", "nodes[0]", "odd")) == "f.json: nodes[0]: odd"


# ---------------------------------------------------------------- declarations

DECLARATION_CASES = [
    ([], Compatibility.COMPATIBLE, None),
    ([COMPAT_DECL], Compatibility.COMPATIBLE, None),
    ([INCOMPAT_DECL], Compatibility.INCOMPATIBLE, None),
    ([WORKER_DECL], Compatibility.COMPATIBLE, WorkerMode.WORKER),
    ([ORCH_DECL], Compatibility.COMPATIBLE, WorkerMode.ORCHESTRATOR),
    ([COMPAT_DECL, WORKER_DECL], Compatibility.COMPATIBLE, WorkerMode.WORKER),
    ([COMPAT_DECL, ORCH_DECL], Compatibility.COMPATIBLE, WorkerMode.ORCHESTRATOR),
    ([INCOMPAT_DECL, ORCH_DECL], Compatibility.INCOMPATIBLE, WorkerMode.ORCHESTRATOR),
    ([ORCH_DECL, INCOMPAT_DECL], Compatibility.INCOMPATIBLE, WorkerMode.ORCHESTRATOR),
]


@pytest.mark.parametrize(("declarations", "compatibility", "mode"), DECLARATION_CASES)
def test_every_allowed_declaration_combination_is_parsed(
    tmp_path: Path, declarations: list[dict[str, str]], compatibility: Compatibility, mode: WorkerMode | None
) -> None:
    m = load(tmp_path, **{"metadata.declarations": declarations})
    assert m.declarations == Declarations(compatibility, mode, None, ())
    assert m.warnings == ()


def test_absent_declarations_mean_compatible_with_no_suggestion(tmp_path: Path) -> None:
    m = load(tmp_path, **{"metadata.declarations": None})
    assert m.declarations.compatibility is Compatibility.COMPATIBLE
    assert m.declarations.suggested_mode is None and m.declarations.required_secrets is None


@pytest.mark.parametrize("order", [[INCOMPAT_DECL, WORKER_DECL], [WORKER_DECL, INCOMPAT_DECL]])
def test_incompatible_with_suggested_worker_is_rejected_naming_file_and_both_declarations(
    tmp_path: Path, order: list[dict[str, str]]
) -> None:
    err = load_error(tmp_path, manifest(**{"metadata.declarations": order}))
    text = str(err)
    assert "worker_mode_compatibility" in text and "suggested_worker_mode" in text
    assert "INCOMPATIBLE" in text and "WORKER" in text
    assert err.json_path == "metadata.declarations"


@pytest.mark.parametrize(
    ("declaration", "json_path", "bad"),
    [
        ({"type": "worker_mode_compatibility", "compatibility": "MAYBE"},
         "metadata.declarations[0].compatibility", "MAYBE"),
        ({"type": "suggested_worker_mode", "mode": "SOMETIMES"}, "metadata.declarations[0].mode", "SOMETIMES"),
        ({"type": "suggested_worker_mode", "mode": 3}, "metadata.declarations[0].mode", "3"),
        ({"type": "worker_mode_compatibility"}, "metadata.declarations[0].compatibility", "missing"),
    ],
)
def test_bad_declaration_value_error_names_json_path_found_and_allowed_values(
    tmp_path: Path, declaration: dict[str, Any], json_path: str, bad: str
) -> None:
    err = load_error(tmp_path, manifest(**{"metadata.declarations": [declaration]}))
    assert err.json_path == json_path and json_path in str(err)
    assert bad in err.found
    allowed = ["COMPATIBLE", "INCOMPATIBLE"] if "compatibility" in json_path else ["ORCHESTRATOR", "WORKER"]
    assert all(value in err.expected for value in allowed)


def test_lowercase_declaration_value_is_an_error_with_an_upper_case_hint(tmp_path: Path) -> None:
    err = load_error(tmp_path, manifest(**{"metadata.declarations": [COMPAT_DECL, {**WORKER_DECL,
                                                                                    "mode": "worker"}]}))
    assert err.json_path == "metadata.declarations[1].mode" and '"WORKER"' in err.hint


def test_duplicate_worker_declaration_is_an_error(tmp_path: Path) -> None:
    err = load_error(tmp_path, manifest(**{"metadata.declarations": [COMPAT_DECL, INCOMPAT_DECL]}))
    assert err.json_path == "metadata.declarations[1]" and "metadata.declarations[0]" in err.hint


@pytest.mark.parametrize(
    ("declarations", "json_path"),
    [
        ("WORKER", "metadata.declarations"),
        (["worker_mode_compatibility"], "metadata.declarations[0]"),
        ([{"compatibility": "COMPATIBLE"}], "metadata.declarations[0].type"),
    ],
)
def test_declarations_of_the_wrong_shape_are_errors(tmp_path: Path, declarations: Any, json_path: str) -> None:
    assert load_error(tmp_path, manifest(**{"metadata.declarations": declarations})).json_path == json_path


def test_required_secrets_are_kept_as_a_tuple(tmp_path: Path) -> None:
    decl = {"type": "required_secrets", "keys": ["OPENAI_API_KEY", "HF_TOKEN"]}
    m = load(tmp_path, **{"metadata.declarations": [decl, COMPAT_DECL]})
    assert m.declarations.required_secrets == ("OPENAI_API_KEY", "HF_TOKEN")
    assert m.declarations.compatibility is Compatibility.COMPATIBLE


@pytest.mark.parametrize(
    ("keys", "json_path"),
    [("OPENAI_API_KEY", "metadata.declarations[0].keys"), (["A", ""], "metadata.declarations[0].keys[1]"),
     (["A", 7], "metadata.declarations[0].keys[1]"), (None, "metadata.declarations[0].keys")],
)
def test_required_secrets_must_be_a_list_of_non_empty_strings(tmp_path: Path, keys: Any, json_path: str) -> None:
    decl: dict[str, Any] = {"type": "required_secrets"} if keys is None else {"type": "required_secrets",
                                                                              "keys": keys}
    assert load_error(tmp_path, manifest(**{"metadata.declarations": [decl]})).json_path == json_path


def test_unknown_declaration_type_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    m = load(tmp_path, **{"metadata.declarations": [{"type": "gpu_budget", "gb": 8}, WORKER_DECL]})
    assert m.declarations.unknown == ("gpu_budget",)
    assert m.declarations.suggested_mode is WorkerMode.WORKER
    [warning] = m.warnings
    assert warning.json_path == "metadata.declarations[0]" and "gpu_budget" in warning.message


def test_upstream_declaration_types_load_silently(tmp_path: Path) -> None:
    decls = [{"type": "lifecycle_stage", "stage": "LABS"}, {"type": "model_catalog", "providers": {}},
             {"type": "library_dependency", "url": "https://example.com/x.git", "required": False}]
    m = load(tmp_path, **{"metadata.declarations": decls})
    assert m.declarations == Declarations() and m.warnings == ()


# ---------------------------------------------------------------- requirement pins


@pytest.mark.parametrize(
    "req",
    ["torch>=2.0", "torch", "torch~=2.1", "numpy<2", "tokenizers>=0.22.0,<0.23", "numpy==1.*",
     "griptape[drivers-prompt-openai]", "flash-attn; sys_platform == 'linux'",
     "git+https://github.com/kohya-ss/sd-scripts.git@sd3", "git+https://github.com/org/repo.git",
     "dacvae@git+https://github.com/facebookresearch/dacvae.git",
     "x @ https://github.com/org/x/archive/main.zip", "-e .", "./local/package"],
)
def test_unpinned_requirement_is_reported(req: str) -> None:
    assert unpinned_requirements([req]) == [req]


@pytest.mark.parametrize(
    "req",
    ["torch==2.4.1", "torch==2.10.0+cu128", "torch==2.10.0+cu128; sys_platform == 'linux'",
     "diffusers[torch]==0.32.1", "x===1.0", "a (==1.0)", "requests>=2,==2.32.3",
     "git+https://github.com/huggingface/diffusers.git@00f95b9755718aabb65456e791b8408526ae6e76",
     "diffusers @ https://github.com/huggingface/diffusers/archive/5ffb73d4aeac9eaef8366d7b21872d64009bd1c7.zip",
     "flash-attn @ https://example.com/flash_attn-2.8.2+cu128-cp311-cp311-win_amd64.whl ; sys_platform == 'win32'",
     "pkg @ https://example.com/pkg-1.0.tar.gz#sha256=0123abcd"],
)
def test_pinned_requirement_is_not_reported(req: str) -> None:
    assert unpinned_requirements([req]) == []


def test_unpinned_requirements_keeps_input_order() -> None:
    assert unpinned_requirements(["b", "a==1", "c>=2"]) == ["b", "c>=2"]


def test_unpinned_dependency_warning_names_it_and_says_to_pin_with_double_equals(tmp_path: Path) -> None:
    m = load(tmp_path, **{"metadata.dependencies.pip_dependencies": ["torch==2.4.1", "torch>=2.0", "numpy"]})
    assert [w.json_path for w in m.warnings] == ["metadata.dependencies.pip_dependencies[1]",
                                                 "metadata.dependencies.pip_dependencies[2]"]
    assert "'torch>=2.0'" in m.warnings[0].message and "==" in m.warnings[0].message
    assert "torch==2.4.1" in m.warnings[0].message
    assert "'numpy'" in m.warnings[1].message and "numpy==" in m.warnings[1].message


def test_vcs_branch_dependency_warning_asks_for_a_commit(tmp_path: Path) -> None:
    req = "git+https://github.com/griptape-ai/griptape-cloud-python-client.git@main"
    m = load(tmp_path, **{"metadata.dependencies.pip_dependencies": [req]})
    [warning] = m.warnings
    assert req in warning.message and "'main'" in warning.message and "commit" in warning.message
    assert "==" in warning.message


@pytest.mark.parametrize(
    ("field", "value", "json_path"),
    [("pip_dependencies", "torch==2.4.1", "metadata.dependencies.pip_dependencies"),
     ("pip_dependencies", ["torch==2.4.1", 3], "metadata.dependencies.pip_dependencies[1]"),
     ("pip_install_flags", "--upgrade", "metadata.dependencies.pip_install_flags")],
)
def test_dependency_lists_of_the_wrong_type_are_errors(tmp_path: Path, field: str, value: Any,
                                                       json_path: str) -> None:
    err = load_error(tmp_path, manifest(**{f"metadata.dependencies.{field}": value}))
    assert err.json_path == json_path


def test_dependencies_of_the_wrong_type_are_an_error(tmp_path: Path) -> None:
    assert load_error(tmp_path, manifest(**{"metadata.dependencies": "torch"})).json_path == "metadata.dependencies"


# ---------------------------------------------------------------- broken JSON


def test_broken_json_reports_line_and_column(tmp_path: Path) -> None:
    err = load_error(tmp_path, '{\n  "name": "x",\n  "nodes": [}\n')
    assert "line 3 column 13" in str(err) and err.json_path == "$"


def test_trailing_comma_gets_a_hint(tmp_path: Path) -> None:
    err = load_error(tmp_path, '{\n  "name": "x",\n  "nodes": [],\n}\n')
    assert "line 4 column 1" in str(err) and "trailing comma" in err.hint


def test_merge_conflict_markers_are_named_in_the_hint(tmp_path: Path) -> None:
    text = '{\n<<<<<<< HEAD\n  "name": "a",\n=======\n  "name": "b",\n>>>>>>> feature\n  "nodes": []\n}\n'
    err = load_error(tmp_path, text)
    assert "line 2 column 1" in str(err)
    assert "merge-conflict markers" in err.hint and "merge-conflict markers" in str(err)


# ---------------------------------------------------------------- errors that make the library unusable


@pytest.mark.parametrize(
    ("data", "json_path"),
    [
        ([BASE], "$"),
        (manifest(name=None), "name"),
        (manifest(name=5), "name"),
        (manifest(name="  "), "name"),
        (manifest(metadata=["a"]), "metadata"),
        (manifest(nodes=None), "nodes"),
        (manifest(nodes={"Echo": "nodes/echo.py"}), "nodes"),
        (manifest(nodes=["Echo"]), "nodes[0]"),
        (manifest(nodes=[{"file_path": "a.py", "metadata": {}}]), "nodes[0].class_name"),
        (manifest(nodes=[{"class_name": "A", "metadata": {}}]), "nodes[0].file_path"),
        (manifest(nodes=[{"class_name": "A", "file_path": 7}]), "nodes[0].file_path"),
    ],
)
def test_unusable_library_is_a_manifest_error_with_file_json_path_found_and_expected(
    tmp_path: Path, data: Any, json_path: str
) -> None:
    err = load_error(tmp_path, data)
    assert err.json_path == json_path
    assert f"{err.file}: {json_path}: found {err.found}; expected {err.expected}" in str(err)


# ---------------------------------------------------------------- tolerated oddities (warnings)


def test_missing_schema_version_is_a_warning(tmp_path: Path) -> None:
    m = load(tmp_path, library_schema_version=None)
    assert m.schema_version is None
    assert [w.json_path for w in m.warnings] == ["library_schema_version"]


def test_dependencies_as_a_list_is_a_warning_and_read_as_pip_dependencies(tmp_path: Path) -> None:
    m = load(tmp_path, **{"metadata.dependencies": ["torch==2.7.0", "numpy==2.2.4"],
                          "metadata.pip_install_flags": ["--preview", "--torch-backend=auto"]})
    assert m.dependencies == Dependencies(("torch==2.7.0", "numpy==2.2.4"), ("--preview", "--torch-backend=auto"))
    assert any("is a list" in w.message for w in m.warnings if w.json_path == "metadata.dependencies")
    assert any("belongs under metadata.dependencies" in msg for msg in messages(m, "metadata.pip_install_flags"))


def test_unpinned_requirement_in_a_dependency_list_is_warned_at_its_index(tmp_path: Path) -> None:
    m = load(tmp_path, **{"metadata.dependencies": ["torch==2.7.0", "torch>=2.0"]})
    assert "metadata.dependencies[1]" in [w.json_path for w in m.warnings]


def test_missing_dependencies_is_a_warning(tmp_path: Path) -> None:
    m = load(tmp_path, **{"metadata.dependencies": None})
    assert m.dependencies == Dependencies()
    assert [w.json_path for w in m.warnings] == ["metadata.dependencies"]


def test_missing_metadata_is_a_warning(tmp_path: Path) -> None:
    m = load(tmp_path, metadata=None)
    assert m.author is None and m.tags == () and m.declarations == Declarations()
    assert "metadata" in [w.json_path for w in m.warnings]


def test_declarations_as_an_object_is_a_warning_and_still_interpreted(tmp_path: Path) -> None:
    m = load(tmp_path, **{"metadata.declarations": {"worker_mode_compatibility": "COMPATIBLE",
                                                    "suggested_worker_mode": "WORKER"}})
    assert m.declarations == Declarations(Compatibility.COMPATIBLE, WorkerMode.WORKER)
    [warning] = m.warnings
    assert warning.json_path == "metadata.declarations"
    assert "must be a list of typed objects" in warning.message


def test_declarations_object_with_a_bad_value_is_an_error_at_its_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, manifest(**{"metadata.declarations": {"worker_mode_compatibility": "MAYBE"}}))
    assert err.json_path == "metadata.declarations.worker_mode_compatibility" and "MAYBE" in err.found


def test_declarations_object_rejects_incompatible_with_worker(tmp_path: Path) -> None:
    data = manifest(**{"metadata.declarations": {"worker_mode_compatibility": "INCOMPATIBLE",
                                                 "suggested_worker_mode": "WORKER"}})
    assert load_error(tmp_path, data).json_path == "metadata.declarations"


def test_undeclared_node_category_is_one_warning_per_category(tmp_path: Path) -> None:
    nodes = [{"class_name": f"N{i}", "file_path": f"n{i}.py", "metadata": {"category": cat}}
             for i, cat in enumerate(["image/würstchen", "test", "image/würstchen", "Diffusers/Encode\\Decode"])]
    m = load(tmp_path, nodes=nodes)
    assert [w.json_path for w in m.warnings] == ["nodes[0].metadata.category", "nodes[3].metadata.category"]
    assert "image/würstchen" in m.warnings[0].message and "2 node(s)" in m.warnings[0].message


def test_duplicate_class_name_is_a_warning_and_the_first_entry_wins(tmp_path: Path) -> None:
    nodes = [{"class_name": "A", "file_path": "first.py", "metadata": {"category": "test"}},
             {"class_name": "A", "file_path": "second.py", "metadata": {"category": "test"}}]
    m = load(tmp_path, nodes=nodes)
    assert len(m.nodes) == 1 and m.nodes[0].file_path == "first.py"
    [warning] = m.warnings
    assert warning.json_path == "nodes[1].class_name" and "nodes[0]" in warning.message


@pytest.mark.parametrize("file_path", ["../../exe_types/subflow_node.py", "../Setup/model_download.py",
                                       "/abs/node.py"])
def test_file_path_leaving_the_library_directory_is_a_warning(tmp_path: Path, file_path: str) -> None:
    lib = tmp_path / "a" / "b"
    m = load_manifest(write(lib, manifest(nodes=[{"class_name": "A", "file_path": file_path,
                                                  "metadata": {"category": "test"}}])))
    assert m.nodes[0].path == Path(os.path.normpath(lib.resolve() / file_path))
    assert [w.json_path for w in m.warnings] == ["nodes[0].file_path"]
    assert "leaves the library directory" in m.warnings[0].message


def _escaping_library(tmp_path: Path, how: str) -> tuple[Path, str, Path]:
    """A library folder whose one node file resolves outside it: (folder, file_path, where it resolves)."""
    lib, outside = tmp_path / "lib", tmp_path / "elsewhere" / "x.py"
    outside.parent.mkdir(parents=True)
    outside.write_text("")
    lib.mkdir()
    if how == "dotdot":
        file_path = "../elsewhere/x.py"
    elif how == "absolute":
        file_path = str(outside)
    else:  # a symlink inside the folder that points out of it
        (lib / "nodes.py").symlink_to(outside)
        file_path = "nodes.py"
    write(lib, manifest(nodes=[{"class_name": "Echo", "file_path": file_path, "metadata": {"category": "test"}}]))
    return lib, file_path, outside.resolve()


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_file_path_outside_the_library_folder_is_an_error_for_a_library_that_is_to_run(
    tmp_path: Path, how: str
) -> None:
    lib, file_path, target = _escaping_library(tmp_path, how)
    with pytest.raises(ManifestError) as info:
        load_manifest(lib, require_inside=True)
    error = info.value
    assert error.file == str(lib.resolve() / HYPHEN) and error.json_path == "nodes[0].file_path"
    assert f"{file_path!r} for node 'Echo'" in error.found and str(target) in error.found
    assert "outside the library folder" in error.found and "move or copy the file into the library" in error.hint


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_file_path_outside_the_library_folder_is_still_only_a_warning_when_reading(tmp_path: Path, how: str) -> None:
    lib, _file_path, target = _escaping_library(tmp_path, how)
    m = load_manifest(lib)
    [warning] = m.warnings
    assert warning.json_path == "nodes[0].file_path" and "leaves the library directory" in warning.message
    assert str(target) in warning.message


def test_a_symlink_that_stays_inside_the_library_folder_is_fine(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    (lib / "impl").mkdir(parents=True)
    (lib / "impl" / "real.py").write_text("")
    (lib / "nodes.py").symlink_to(lib / "impl" / "real.py")
    write(lib, manifest(nodes=[{"class_name": "Echo", "file_path": "nodes.py", "metadata": {"category": "test"}}]))
    assert load_manifest(lib, require_inside=True).warnings == ()


def test_file_path_with_dotdot_inside_the_library_is_not_warned(tmp_path: Path) -> None:
    m = load(tmp_path, nodes=[{"class_name": "A", "file_path": "nodes/../a.py", "metadata": {"category": "test"}}])
    assert m.warnings == () and m.nodes[0].path == tmp_path.resolve() / "a.py"


def test_empty_workflow_entries_are_warnings(tmp_path: Path) -> None:
    m = load(tmp_path, workflows=["workflows/ok.py", "", None])
    assert [w.json_path for w in m.warnings] == ["workflows[1]", "workflows[2]"]
    assert m.raw["workflows"] == ["workflows/ok.py", "", None]


def test_pip_dependencies_exec_is_kept_as_a_tuple_and_checked_for_pins(tmp_path: Path) -> None:
    m = load(tmp_path, **{"metadata.dependencies.pip_dependencies_exec": ["torch==2.10.0+cu128", "einops"]})
    assert m.dependencies.pip_dependencies_exec == ("torch==2.10.0+cu128", "einops")
    assert [w.json_path for w in m.warnings] == ["metadata.dependencies.pip_dependencies_exec[1]"]


@pytest.mark.parametrize(
    ("changes", "json_path"),
    [({"metadata.author": 5}, "metadata.author"), ({"metadata.tags": "AI"}, "metadata.tags"),
     ({"categories": {"test": {}}}, "categories"), ({"workflows": "w.py"}, "workflows"),
     ({"nodes": [{"class_name": "A", "file_path": "a.py", "metadata": "x"}]}, "nodes[0].metadata")],
)
def test_wrong_types_in_descriptive_fields_are_warnings(tmp_path: Path, changes: dict[str, Any],
                                                        json_path: str) -> None:
    m = load(tmp_path, **changes)
    assert json_path in [w.json_path for w in m.warnings]


# ---------------------------------------------------------------- JSON Schema


def test_json_schema_is_draft_2020_12_with_descriptions_and_open_objects() -> None:
    schema = manifest_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is True and schema["description"]
    assert schema["required"] == ["name", "nodes"]
    node = schema["properties"]["nodes"]["items"]
    assert node["additionalProperties"] is True and node["required"] == ["class_name", "file_path"]
    assert schema["properties"]["metadata"]["additionalProperties"] is True
    assert manifest_json_schema() is not schema  # a fresh copy each call


def test_json_schema_accepts_every_valid_corpus_file_and_rejects_contradictions() -> None:
    corpus = corpus_or_fail()
    import jsonschema  # a test dependency (pyproject [test])
    schema = manifest_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    checked = 0
    for path in sorted(corpus.glob("*.json")):
        if path.name in INVALID_CORPUS:
            continue
        errors = [e.message for e in validator.iter_errors(json.loads(path.read_text(encoding="utf-8")))]
        assert errors == [], f"{path.name}: {errors}"
        checked += 1
    assert checked == 49
    assert validator.is_valid(manifest(**{"metadata.declarations": [INCOMPAT_DECL, ORCH_DECL]}))
    assert not validator.is_valid(manifest(**{"metadata.declarations": [INCOMPAT_DECL, WORKER_DECL]}))
    assert not validator.is_valid(manifest(**{"metadata.declarations": [{**COMPAT_DECL, "compatibility": "MAYBE"}]}))


# ---------------------------------------------------------------- the real-world corpus


def test_corpus_folder_is_present_with_all_files() -> None:
    corpus = corpus_or_fail()
    names = {p.name for p in corpus.glob("*.json")}
    assert len(names) == 53, f"expected the 53 corpus manifests in {corpus}, found {len(names)}"
    assert set(INVALID_CORPUS) <= names


@pytest.mark.parametrize("name", _corpus_files())
def test_every_corpus_file_loads_or_fails_with_line_and_column(name: str) -> None:
    path = _corpus_dir() / name
    if not path.is_file():
        pytest.fail(_corpus_missing_message())
    if name in INVALID_CORPUS:
        line, column = INVALID_CORPUS[name]
        with pytest.raises(ManifestError) as info:
            load_manifest(path)
        assert f"line {line} column {column}" in str(info.value) and info.value.file == str(path.resolve())
        return
    m = load_manifest(path)
    assert m.name.strip() and m.path == path.resolve()
    assert all(isinstance(w, ManifestWarning) and w.file == str(m.path) for w in m.warnings)


def test_corpus_merge_conflict_file_hint_names_merge_conflict_markers() -> None:
    corpus = corpus_or_fail()
    name = "griptape-ai__griptape-nodes-library-standard__griptape_nodes_library__at_b2ddd279.json"
    with pytest.raises(ManifestError) as info:
        load_manifest(corpus / name)
    assert "merge-conflict markers" in info.value.hint


def test_corpus_seedvr_declares_compatible_and_suggests_worker() -> None:
    corpus = corpus_or_fail()
    m = load_manifest(corpus / "griptape-ai__griptape-nodes-library-seedvr__griptape-nodes-library.json")
    assert m.declarations == Declarations(Compatibility.COMPATIBLE, WorkerMode.WORKER)
    assert "torch" in unpinned_requirements(m.dependencies.pip_dependencies)
    assert m.dependencies.pip_install_flags == ("--preview", "--torch-backend=auto")


def test_corpus_honggooni_declares_incompatible_and_suggests_orchestrator() -> None:
    corpus = corpus_or_fail()
    m = load_manifest(corpus / "Honggooni__HMB_GP_Production__griptape-nodes-library.json")
    assert m.declarations == Declarations(Compatibility.INCOMPATIBLE, WorkerMode.ORCHESTRATOR)
    assert unpinned_requirements(m.dependencies.pip_dependencies) == []


def test_corpus_seedvr_object_declarations_warn_and_still_suggest_worker() -> None:
    corpus = corpus_or_fail()
    name = "griptape-ai__griptape-nodes-library-seedvr__griptape_nodes_library_seedvr_griptape-nodes-library.json"
    m = load_manifest(corpus / name)
    assert m.declarations == Declarations(Compatibility.COMPATIBLE, WorkerMode.WORKER)
    assert any("must be a list of typed objects" in msg for msg in messages(m, "metadata.declarations"))


def test_corpus_oddities_load_as_warnings() -> None:
    corpus = corpus_or_fail()
    advanced = load_manifest(
        corpus / "griptape-ai__griptape-nodes__libraries_griptape_nodes_advanced_library_griptape_nodes_library.json")
    assert len(advanced.dependencies.pip_dependencies) == 10
    assert advanced.dependencies.pip_install_flags == ("--preview", "--torch-backend=auto")
    oldest = load_manifest(corpus / "griptape-ai__griptape-nodes__nodes_griptape_nodes_library.json")
    assert oldest.schema_version is None and oldest.dependencies == Dependencies()
    subflow = load_manifest(corpus / "griptape-ai__griptape-nodes-engine__src_griptape_nodes_bundled_libraries_"
                                     "subflow_node_griptape_nodes_library.json")
    assert any("leaves the library directory" in msg for msg in messages(subflow, "nodes[0].file_path"))
    fork = load_manifest(corpus / "qvrex00-stack__griptape-local-gpu-nodes__griptape_nodes_library.json")
    assert len(fork.nodes) == len(fork.raw["nodes"]) - 2
    assert len([w for w in fork.warnings if "duplicate class_name" in w.message]) == 2
    vibe = load_manifest(corpus / "kieranwestfoundry__Kieran-s-Vibe-Library__griptape-nodes-library.json")
    assert "workflows[0]" in [w.json_path for w in vibe.warnings]
    ace = load_manifest(corpus / "griptape-ai__griptape-nodes-ace-step-1.5-library__griptape_nodes_ace_step_1_5_"
                                 "library_griptape-nodes-library.json")
    assert len(ace.dependencies.pip_dependencies_exec) == 45 and ace.dependencies.pip_dependencies == ()
    assert not any("torch==2.10.0+cu128" in w.message for w in ace.warnings)


def test_valid_json_that_python_cannot_read_is_a_manifest_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "griptape-nodes-library.json"
    path.write_text('{"name": "Big", "nodes": [], "metadata": {"library_version": ' + "9" * 5000 + "}}")
    with pytest.raises(ManifestError, match="cannot be read") as info:
        load_manifest(path)
    assert str(path) in str(info.value)
    path.write_text('{"name": "Deep", "nodes": [], "x": ' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(ManifestError, match="cannot be read"):
        load_manifest(path)


# ---------------------------------------------------------------- settings (Griptape's library settings)


def test_settings_give_config_defaults_by_category_and_registered_secrets(tmp_path: Path) -> None:
    m = load(tmp_path, settings=[
        {"description": "farm", "category": "farm_library", "contents": {"farm_id": "", "retries": 3}},
        {"category": "app_events.on_app_initialization_complete",
         "contents": {"secrets_to_register": {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}}},
        {"category": "more", "contents": {"secrets_to_register": ["GT_CLOUD_API_KEY", "AWS_ACCESS_KEY_ID"]}},
    ])
    assert m.config_defaults == {"libraries.farm_library.farm_id": "", "libraries.farm_library.retries": 3}
    assert m.registered_secrets == ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GT_CLOUD_API_KEY")
    assert m.config_categories == ("farm_library", "app_events.on_app_initialization_complete", "more")
    assert messages(m, "settings") == []


def test_a_bad_settings_entry_is_warned_with_its_path_and_ignored(tmp_path: Path) -> None:
    m = load(tmp_path, settings=[
        "farm", {"contents": {"a": 1}}, {"category": "c", "contents": [1]},
        {"category": "ok", "contents": {"a": 1, "secrets_to_register": [""]}},
        {"category": "ok", "contents": {"a": 2}},
    ])
    assert m.config_defaults == {"libraries.ok.a": 1} and m.registered_secrets == ()
    found = {w.json_path: w.message for w in m.warnings if w.json_path.startswith("settings")}
    assert set(found) == {"settings[0]", "settings[1].category", "settings[2].contents",
                          "settings[3].contents.secrets_to_register", "settings[4].contents.a"}
    assert found["settings[4].contents.a"] == "ok.a is also set by settings[3]; the first one is used"
    assert messages(load(tmp_path, settings={"a": 1}), "settings") == [
        'is the object {"a": 1}, expected a list of objects with category and contents; ignored']


def test_every_corpus_manifest_with_settings_reads_them_without_a_warning() -> None:
    with_settings = 0
    for file in _corpus_files():
        try:
            m = load_manifest(corpus_or_fail() / file)
        except ManifestError:
            continue
        assert not [w for w in m.warnings if w.json_path.startswith("settings")], file
        with_settings += bool(m.settings)
    assert with_settings >= 10
