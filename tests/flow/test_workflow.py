"""Workflow files: loading, modes per run, and the same outputs Shared and Isolated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nodeisle.config.settings import LibraryMode
from nodeisle.flow.workflow import load_workflow, run_workflow
from nodeisle.orchestrator.engine import build_orchestrator
from tests.conftest import EXAMPLES, run, write_library

# Workflows whose libraries pin packages from PyPI: they need the network, which tests must not.
NEEDS_NETWORK = {"pydantic_versions.json"}
WORKFLOWS = sorted(p for p in (EXAMPLES / "workflows").glob("*.json") if p.name not in NEEDS_NETWORK)


def outputs(path: Path, mode: LibraryMode) -> dict[str, Any]:
    wf = load_workflow(path)

    async def body() -> dict[str, Any]:
        async with build_orchestrator() as o:
            names = {}
            for library in wf.libraries:
                from nodeisle.manifest import load_manifest

                names[load_manifest(library).name] = mode
            result = await run_workflow(o, wf, names)
            for state in o.libraries.values():
                assert str(state.mode) == str(mode)
            return {name: (r.status, r.outputs) for name, r in result.nodes.items()}

    return run(body(), timeout=120)


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_every_example_workflow_gives_the_same_outputs_shared_and_isolated(path: Path, offline_home: Path) -> None:
    shared = outputs(path, LibraryMode.SHARED)
    isolated = outputs(path, LibraryMode.ISOLATED)
    assert shared == isolated
    assert all(status == "succeeded" for status, _ in shared.values()), shared


def test_network_only_examples_are_listed_and_exist() -> None:
    for name in NEEDS_NETWORK:
        assert (EXAMPLES / "workflows" / name).is_file()


def test_library_modes_in_the_workflow_apply_to_that_run(tmp_path: Path, offline_home: Path) -> None:
    wf_path = tmp_path / "wf.json"
    wf_path.write_text(
        json.dumps(
            {
                "libraries": [str(EXAMPLES / "libraries" / "text_tools")],
                "library_modes": {"Text Tools": "isolated"},
                "nodes": [{"name": "where", "type": "WhereAmI"}],
            }
        )
    )

    async def body() -> None:
        import os

        async with build_orchestrator() as o:
            result = await run_workflow(o, load_workflow(wf_path))
            assert result.nodes["where"].outputs["pid"] != os.getpid()

    run(body(), timeout=60)


def test_library_that_fails_to_build_fails_its_nodes_and_the_rest_still_run(tmp_path: Path, offline_home: Path) -> None:
    source = (EXAMPLES / "libraries" / "text_tools" / "text_nodes.py").read_text()
    bad = write_library(tmp_path, "Unbuildable", source, ["Echo"], pins=["tinyver==9.9"])
    wf_path = tmp_path / "wf.json"
    wf_path.write_text(
        json.dumps(
            {
                "libraries": [str(bad), str(EXAMPLES / "libraries" / "text_tools")],
                "library_modes": {"Unbuildable": "isolated"},
                "nodes": [
                    {"name": "broken", "library": "Unbuildable", "type": "Echo"},
                    {"name": "downstream", "library": "Text Tools", "type": "Upper"},
                    {"name": "fine", "library": "Text Tools", "type": "Echo", "values": {"text": "still here"}},
                ],
                "connections": [{"from": "broken.result", "to": "downstream.text"}],
            }
        )
    )

    async def body() -> None:
        async with build_orchestrator() as o:
            result = await run_workflow(o, load_workflow(wf_path))
            assert result.status == "failed"
            assert result.nodes["broken"].status == "failed" and "'Unbuildable'" in result.nodes["broken"].error.message
            assert "tinyver" in result.library_errors["Unbuildable"]
            assert result.nodes["downstream"].status == "skipped"
            assert result.nodes["fine"].outputs == {"result": "still here"}
            assert list(result.nodes) == ["broken", "downstream", "fine"]

    run(body(), timeout=120)


def test_a_node_naming_no_library_whose_type_only_a_failed_library_has_fails_alone(
    tmp_path: Path, offline_home: Path
) -> None:
    source = (EXAMPLES / "libraries" / "text_tools" / "text_nodes.py").read_text()
    lone = write_library(tmp_path, "Lone", source.replace("class WhereAmI", "class OnlyHere"), ["OnlyHere"],
                         pins=["tinyver==9.9"])
    wf_path = tmp_path / "wf.json"
    wf_path.write_text(json.dumps({
        "libraries": [str(lone), str(EXAMPLES / "libraries" / "text_tools")],
        "library_modes": {"Lone": "isolated"},
        "nodes": [{"name": "only_there", "type": "OnlyHere"}, {"name": "fine", "type": "Echo", "values": {"text": "x"}}],
    }))

    async def body() -> None:
        async with build_orchestrator() as o:
            result = await run_workflow(o, load_workflow(wf_path))
            assert result.status == "failed"
            assert result.nodes["only_there"].status == "failed" and "'Lone'" in result.nodes["only_there"].error.message
            assert "tinyver" in result.library_errors["Lone"]
            assert result.nodes["fine"].outputs == {"result": "x"}

    run(body(), timeout=120)


# -- hostile workflow files: each is a WorkflowError naming the file and the field, never a traceback ----
def write_workflow(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "hostile.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"nodes": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"nodes": [], "x": ' + "9" * 5000 + "}", "digits"),
        (b'{"nodes": [{"name": "caf\xe9", "type": "Echo"}]}', "not UTF-8"),
    ],
    ids=["100k-deep", "5000-digit-number", "latin-1"],
)
def test_unreadable_workflow_json_is_a_workflow_error_naming_the_file(
    tmp_path: Path, text: str | bytes, needle: str
) -> None:
    from nodeisle.errors import WorkflowError

    path = write_workflow(tmp_path, text)
    with pytest.raises(WorkflowError) as info:
        load_workflow(path)
    assert info.value.file == str(path) and info.value.json_path == "$"
    assert needle in str(info.value)


@pytest.mark.parametrize("timeout", ["NaN", "Infinity", "-Infinity", "-1", "0", "1e400", "1" + "0" * 400, '"5"', "true"])
def test_a_node_timeout_that_is_not_a_positive_finite_number_is_refused_naming_node_and_field(
    tmp_path: Path, timeout: str
) -> None:
    from nodeisle.errors import WorkflowError

    path = write_workflow(tmp_path, '{"nodes": [{"name": "slow", "type": "Echo", "timeout": ' + timeout + "}]}")
    with pytest.raises(WorkflowError) as info:
        load_workflow(path)
    assert info.value.file == str(path) and info.value.json_path == "nodes[0].timeout"
    assert "node 'slow'" in str(info.value) and "positive, finite number of seconds" in str(info.value)


def test_a_positive_finite_node_timeout_is_kept(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, '{"nodes": [{"name": "slow", "type": "Echo", "timeout": 2.5}]}')
    assert load_workflow(path).nodes[0].timeout == 2.5


HIDDEN = ["\x00", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
          "\u200e", "\u200f", "\u061c"]


@pytest.mark.parametrize("char", HIDDEN, ids=[f"U+{ord(c):04X}" for c in HIDDEN])
@pytest.mark.parametrize(
    ("make", "json_path"),
    [
        (lambda c: {"nodes": [{"name": f"a{c}b", "type": "Echo"}]}, "nodes[0].name"),
        (lambda c: {"nodes": [{"name": "a", "library": f"Text{c} Tools", "type": "Echo"}]}, "nodes[0].library"),
        (lambda c: {"nodes": [{"name": "a", "type": f"Ec{c}ho"}]}, "nodes[0].type"),
        (lambda c: {"nodes": [{"name": "a", "type": "Echo", "values": {f"te{c}xt": 1}}]}, "nodes[0].values"),
        (lambda c: {"library_modes": {f"Text{c} Tools": "shared"}, "nodes": []}, "library_modes"),
        (
            lambda c: {"nodes": [{"name": "a", "type": "Echo"}, {"name": "b", "type": "Upper"}],
                       "connections": [{"from": "a.result", "to": f"b.te{c}xt"}]},
            "connections[0].to",
        ),
    ],
    ids=["node", "library", "type", "parameter", "library_modes", "connection"],
)
def test_nul_and_bidi_controls_in_names_are_refused_naming_where(
    tmp_path: Path, make: Any, json_path: str, char: str
) -> None:
    from nodeisle.errors import WorkflowError

    path = write_workflow(tmp_path, json.dumps(make(char)))
    with pytest.raises(WorkflowError) as info:
        load_workflow(path)
    assert info.value.file == str(path) and info.value.json_path == json_path
    message = str(info.value)
    assert f"U+{ord(char):04X}" in message and "remove it" in message
    assert char not in message  # the message shows the name escaped, so it reads as it is


def test_nul_in_a_library_path_is_refused_naming_where(tmp_path: Path) -> None:
    from nodeisle.errors import WorkflowError

    path = write_workflow(tmp_path, json.dumps({"libraries": ["libs/a\x00b"], "nodes": []}))
    with pytest.raises(WorkflowError) as info:
        load_workflow(path)
    assert info.value.json_path == "libraries[0]" and "U+0000" in str(info.value)


def test_the_run_counts_every_node_and_holds_a_failed_librarys_error_once(tmp_path: Path, offline_home: Path) -> None:
    source = (EXAMPLES / "libraries" / "text_tools" / "text_nodes.py").read_text()
    bad = write_library(tmp_path, "Unbuildable", source, ["Echo", "Upper"], pins=["doesnotexist==1.0"])
    wf_path = tmp_path / "wf.json"
    wf_path.write_text(json.dumps({
        "libraries": [str(bad), str(EXAMPLES / "libraries" / "text_tools")],
        "library_modes": {"Unbuildable": "isolated"},
        "nodes": [
            {"name": "broken", "library": "Unbuildable", "type": "Echo"},
            {"name": "broken_too", "library": "Unbuildable", "type": "Upper"},
            {"name": "downstream", "library": "Text Tools", "type": "Upper"},
            {"name": "fine", "library": "Text Tools", "type": "Echo", "values": {"text": "x"}},
        ],
        "connections": [{"from": "broken.result", "to": "downstream.text"}],
    }))

    async def body() -> None:
        async with build_orchestrator() as o:
            result = await run_workflow(o, load_workflow(wf_path))
        assert list(result.nodes) == ["broken", "broken_too", "downstream", "fine"]
        assert [r.status for r in result.nodes.values()] == ["failed", "failed", "skipped", "succeeded"]
        assert result.status == "failed" and result.message.startswith("1 of 4 nodes succeeded")
        assert "1 library failed to load: 'Unbuildable'" in result.message
        [error] = result.library_errors.values()
        assert "doesnotexist" in error and "installer log" in error
        for name in ("broken", "broken_too"):
            node_error = result.nodes[name].error
            assert node_error is not None and node_error.type == "LibraryError"
            assert node_error.message.startswith("library 'Unbuildable' failed to load: `uv pip compile` failed")
            assert "\n" not in node_error.message and "doesnotexist" not in node_error.message

    run(body(), timeout=120)


# -- control connections ------------------------------------------------------------------------------
def control_workflow(tmp_path: Path, connections: list[dict[str, str]], extra: dict[str, Any] | None = None) -> Path:
    from tests.griptape_nodes.test_control_flows import CLASSES, LIBRARY, NODES

    library = write_library(tmp_path / "libs", LIBRARY, NODES, CLASSES)
    path = tmp_path / "control.json"
    nodes = [{"name": n, "type": "Step", "values": {"log": str(tmp_path / "log")}} for n in ("a", "b", "c")]
    data = {"libraries": [str(library)], "nodes": [*nodes, {"name": "up", "type": "Upper"}], "connections": connections}
    for key, value in (extra or {}).items():
        data[key] = [*data[key], *value] if isinstance(value, list) else value
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            {"from": "a.exec_out", "to": "up.text"},
            "cannot connect a.exec_out -> up.text: a.exec_out is a control output (type 'parametercontroltype') but "
            "up.text is a data input (type 'str'); connect a control output (exec_out) to a control input (exec_in)",
        ),
        (
            {"from": "up.result", "to": "c.exec_in"},
            "cannot connect up.result -> c.exec_in: up.result is a data output (type 'str') but c.exec_in is a "
            "control input (type 'parametercontroltype')",
        ),
        (
            {"from": "a.exec_out", "to": "c.exec_in"},
            "cannot connect a.exec_out -> c.exec_in: the control output a.exec_out already leads to b.exec_in",
        ),
        ({"from": "b.exec_out", "to": "a.exec_in"}, "cannot connect b.exec_out -> a.exec_in: it would close the cycle"),
        ({"from": "a.exec_in", "to": "b.exec_out"}, "a.exec_in is not an OUTPUT parameter"),
    ],
    ids=["control-to-data", "data-to-control", "second-target", "cycle", "backwards"],
)
def test_a_bad_control_connection_is_a_workflow_error_naming_the_file_the_field_and_both_ends(
    tmp_path: Path, home: Path, bad: dict[str, str], message: str
) -> None:
    from nodeisle.errors import WorkflowError

    path = control_workflow(tmp_path, [{"from": "a.exec_out", "to": "b.exec_in"}, bad])
    workflow = load_workflow(path)  # the file is well formed: the graph knows which parameters are control

    async def body() -> None:
        async with build_orchestrator() as o:
            with pytest.raises(WorkflowError) as info:
                await run_workflow(o, workflow)
            assert info.value.file == str(path) and info.value.json_path == "connections[1]"
            assert message in str(info.value)

    run(body(), timeout=60)


def test_a_failed_library_and_a_branch_not_taken_are_counted_apart(tmp_path: Path, offline_home: Path) -> None:
    source = (EXAMPLES / "libraries" / "text_tools" / "text_nodes.py").read_text()
    bad = write_library(tmp_path, "Unbuildable", source, ["Echo"], pins=["doesnotexist==1.0"])
    path = control_workflow(
        tmp_path,
        [{"from": "a.exec_out", "to": "b.exec_in"}, {"from": "broken.result", "to": "up.text"},
         {"from": "if.False", "to": "c.exec_in"}, {"from": "if.True", "to": "a.exec_in"}],
        {
            "libraries": [str(bad)],
            "library_modes": {"Unbuildable": "isolated"},
            "nodes": [{"name": "broken", "library": "Unbuildable", "type": "Echo"},
                      {"name": "if", "type": "Branch", "values": {"condition": True}}],
        },
    )

    async def body() -> None:
        async with build_orchestrator() as o:
            result = await run_workflow(o, load_workflow(path))
        assert {n: r.status for n, r in result.nodes.items()} == {
            "a": "succeeded", "b": "succeeded", "c": "skipped", "up": "skipped", "broken": "failed", "if": "succeeded"
        }
        c = result.nodes["c"].error
        assert c is not None and (c.type, c.message) == ("NotReached", "control output if.False did not fire")
        assert result.status == "failed"
        assert result.message == "3 of 6 nodes succeeded, 1 not reached; 1 library failed to load: 'Unbuildable'"

    run(body(), timeout=120)
