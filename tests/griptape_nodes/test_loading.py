"""Loading like Griptape, in every mode: an AdvancedNodeLibrary's hooks around the import of the node
classes, its request handlers answering the library's own requests, sibling and own-package imports,
and two libraries with siblings of the same name in one process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nodeisle.requests import ListRegisteredLibrariesRequest, RegisterLibraryRequest, ReloadLibraryRequest
from tests.conftest import run
from tests.griptape_nodes.fixture_libraries import ADVANCED, color_tools, manifest, sibling_library
from tests.griptape_nodes.test_libraries import create, execute, ok, start
from tests.wheels import build_wheel


@pytest.fixture(params=["shared", "isolated", "isolated-subprocess"])
def mode(request: pytest.FixtureRequest, offline_home: Path) -> str:
    return str(request.param)


def test_advanced_library_hooks_run_around_the_node_import_and_its_requests_are_answered(
    tmp_path: Path, mode: str
) -> None:
    library = color_tools(tmp_path / "libs")

    async def body() -> None:
        o = await start(library, mode)
        try:
            (info,) = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            assert info.dropped == [] and sorted(info.node_types) == ["HexToRgb", "HookReport"]
            await create(o, "HookReport", "report")
            # after the before hook put the vendored tree on sys.path the node file imported; the probe saw it
            worker = mode != "shared"  # GriptapeNodes.LibraryManager().is_worker, in the hooks and in process()
            assert await execute(o, "report") == {"events": [
                f"before:Color Tools:1.2.3:0:color:worker={worker}", "after:HexToRgb,HookReport",
                f"process:worker={worker}"]}
            await create(o, "HexToRgb", "hex")
            outputs = await execute(o, "hex")
            assert outputs["rgb"] == [255, 128, 0] and outputs["color_name"] == "orange"
            assert outputs["details"].endswith("|[0, 0, 0]")  # ahandle_request answered too
            # handled where the node ran: the orchestrator (Shared, in-process worker) or the worker itself
            assert outputs["handled_in"] == outputs["node_pid"]
            assert (outputs["node_pid"] == os.getpid()) is (mode != "isolated-subprocess")
            failed = await execute(o, "hex", hex_color="nope")
            assert "rgb" not in failed and "not a hex color" in failed["details"]
        finally:
            await o.close()

    run(body())


def test_a_reload_runs_the_current_files_and_registers_the_handlers_again(tmp_path: Path, mode: str) -> None:
    library = color_tools(tmp_path / "libs")

    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "HexToRgb", "hex")
            assert (await execute(o, "hex"))["color_name"] == "orange"
            (library / "color_tools" / "_names.py").write_text("NAMES = {(255, 128, 0): 'amber'}\n")
            ok(await o.handle_async(ReloadLibraryRequest(library_name="Color Tools")))
            outputs = await execute(o, "hex")
            assert outputs["color_name"] == "amber" and outputs["rgb"] == [255, 128, 0]
        finally:
            await o.close()

    run(body())


def test_libraries_with_siblings_of_the_same_name_each_get_their_own(tmp_path: Path, mode: str) -> None:
    first = sibling_library(tmp_path / "libs", "sibling-lib", "first", "FirstTagged")
    second = sibling_library(tmp_path / "libs", "sibling_lib", "second", "SecondTagged")  # same slug, other name

    async def body() -> None:
        o = await start(first, mode)
        try:
            ok(await o.handle_async(RegisterLibraryRequest(path=str(second), mode=mode.removesuffix("-subprocess"))))
            await create(o, "FirstTagged", "a")
            await create(o, "SecondTagged", "b")
            assert await execute(o, "a") == {"tags": ["utils-first", "utils-first", "base-first"]}
            assert await execute(o, "b") == {"tags": ["utils-second", "utils-second", "base-second"]}
        finally:
            await o.close()

    run(body())


FAILING = {
    "before": ADVANCED.replace('logger.info("Loading', 'raise RuntimeError("no GPU here")\n        logger.info("Loading'),
    "after": ADVANCED.replace('EVENTS.append(f"after', 'raise ValueError("after went wrong")\n        EVENTS.append(f"after'),
    "handlers": ADVANCED.replace("return [(ConvertColorRequest, self._convert)]", "return [ConvertColorRequest]"),
    "no subclass": ADVANCED.replace("class ColorToolsLibrary(AdvancedNodeLibrary)", "class ColorToolsLibrary"),
}
EXPECTED = {
    "before": "ColorToolsLibrary.before_library_nodes_loaded in {file} (advanced_library_path) raised RuntimeError: "
              "no GPU here; the library is not loaded",
    "after": "ColorToolsLibrary.after_library_nodes_loaded in {file} (advanced_library_path) raised ValueError: "
             "after went wrong",
    "handlers": "ColorToolsLibrary.get_request_handlers in {file} (advanced_library_path) raised TypeError: entry 0 is",
    "no subclass": "defines no AdvancedNodeLibrary subclass",
}


# Every case Shared and Isolated in process; one through a real worker (the message travels the same way).
FAILING_MODES = [(case, m) for case in FAILING for m in ("shared", "isolated")] + [("before", "isolated-subprocess")]


@pytest.mark.parametrize(("case", "mode"), FAILING_MODES)
def test_a_failing_advanced_library_fails_the_load_naming_library_file_and_hook(
    tmp_path: Path, offline_home: Path, mode: str, case: str
) -> None:
    library = color_tools(tmp_path / "libs", advanced=FAILING[case])

    async def body() -> None:
        o = await start_failing(library, mode)
        try:
            (info,) = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            assert info.status == "failed" and "library 'Color Tools'" in info.problems[0]
            expected = EXPECTED[case].format(file=library / "color_library_advanced.py")
            assert expected in info.problems[0] and "color_library_advanced.py" in info.problems[0]
        finally:
            await o.close()

    run(body())


def test_an_advanced_library_path_to_no_file_fails_the_load_naming_the_field(tmp_path: Path, home: Path) -> None:
    library = color_tools(tmp_path / "libs")
    (library / "color_library_advanced.py").unlink()

    async def body() -> None:
        o = await start_failing(library, "shared")
        try:
            (info,) = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            assert info.status == "failed" and "advanced_library_path 'color_library_advanced.py'" in info.problems[0]
            assert "there is no file" in info.problems[0]
        finally:
            await o.close()

    run(body())


async def start_failing(library: Path, mode: str):  # type: ignore[no-untyped-def]
    from nodeisle.orchestrator.engine import build_orchestrator
    from nodeisle.testing.inprocess import build_in_process_orchestrator

    o = build_in_process_orchestrator() if mode == "isolated" else build_orchestrator()
    await o.__aenter__()
    result = await o.handle_async(RegisterLibraryRequest(path=str(library), mode=mode.removesuffix("-subprocess")))
    assert not result.succeeded
    return o


def fake_engine_metadata(site: Path, name: str = "griptape-nodes", version: str = "0.99.0") -> Path:
    """What an installed engine distribution leaves in site-packages: its dist-info (enough for the check)."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return site


@pytest.mark.parametrize("distribution", ["griptape-nodes", "griptape-nodes-engine"])
def test_a_real_engine_beside_the_orchestrator_refuses_a_shared_griptape_library(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, distribution: str
) -> None:
    monkeypatch.syspath_prepend(str(fake_engine_metadata(tmp_path / "site", distribution)))
    library = color_tools(tmp_path / "libs")
    plain = tmp_path / "libs" / "plain"  # a library that does not import griptape_nodes loads as before
    plain.mkdir()
    (plain / "nodes.py").write_text("import nodeisle\n\nclass Plain(nodeisle.BaseNode):\n    pass\n")
    (plain / "griptape-nodes-library.json").write_text(json.dumps(manifest("Plain", [("Plain", "nodes.py")])))

    async def body() -> None:
        o = await start_failing(library, "shared")
        try:
            ok(await o.handle_async(RegisterLibraryRequest(path=str(plain), mode="shared")))
            infos = {i.name: i for i in ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries}
            assert infos["Plain"].status == "loaded"
            problem = infos["Color Tools"].problems[0]
            assert f"{distribution} 0.99.0, the Griptape Nodes engine, is installed" in problem
            assert str(tmp_path / "site") in problem and f"pip uninstall {distribution}" in problem
        finally:
            await o.close()

    run(body())


def test_a_real_engine_pinned_by_the_library_fails_its_isolated_load_in_the_worker(
    tmp_path: Path, offline_home: Path, wheelhouse: Path
) -> None:
    build_wheel(wheelhouse, "griptape-nodes", "0.99.0", "raise RuntimeError('the real engine was imported')\n")
    library = color_tools(tmp_path / "libs")
    data = json.loads((library / "griptape-nodes-library.json").read_text())
    data["metadata"]["dependencies"]["pip_dependencies"] = ["griptape-nodes==0.99.0"]
    (library / "griptape-nodes-library.json").write_text(json.dumps(data))

    async def body() -> None:
        o = await start_failing(library, "isolated-subprocess")
        try:
            (info,) = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            problem = info.problems[0]
            assert "griptape-nodes 0.99.0, the Griptape Nodes engine, is installed" in problem
            assert "remove 'griptape-nodes==0.99.0' (metadata.dependencies.pip_dependencies[0]" in problem
            assert "the real engine was imported" not in problem
        finally:
            await o.close()

    run(body())
