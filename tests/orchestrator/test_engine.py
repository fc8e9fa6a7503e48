"""The orchestrator through the request API, Shared and Isolated alike.

Library code in these tests uses only the contract names (nodeisle.BaseNode, Parameter,
ParameterMode, handle_request, ahandle_request and the request classes).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.requests import (
    AddParameterToNodeRequest,
    CreateConnectionRequest,
    CreateFlowRequest,
    CreateNodeRequest,
    DeleteConnectionRequest,
    DeleteFlowRequest,
    DeleteNodeRequest,
    ExecuteNodeRequest,
    GetParameterDetailsRequest,
    GetParameterValueRequest,
    ListConnectionsForNodeRequest,
    ListConnectionsForParameterRequest,
    ListFlowsRequest,
    ListNodesInFlowRequest,
    ListParametersOnNodeRequest,
    ListRegisteredLibrariesRequest,
    RegisterLibraryRequest,
    RemoveParameterFromNodeRequest,
    Result,
    RunFlowRequest,
    SetParameterValueRequest,
)
from nodeisle.testing.inprocess import build_in_process_orchestrator
from tests.conftest import TEXT_TOOLS, run, write_library

NODES = '''
import asyncio, os, threading
import nodeisle
from nodeisle import BaseNode, Parameter, ParameterMode
from nodeisle.requests import (SetParameterValueRequest, GetParameterValueRequest, AddParameterToNodeRequest,
    RemoveParameterFromNodeRequest, ListConnectionsForNodeRequest)

IN = {ParameterMode.INPUT, ParameterMode.PROPERTY}
OUT = {ParameterMode.OUTPUT}

class Add(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("a", type="int", default_value=0, allowed_modes=IN))
        self.add_parameter(Parameter("b", type="int", default_value=0, allowed_modes=IN))
        self.add_parameter(Parameter("sum", type="int", allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["sum"] = self.parameter_values["a"] + self.parameter_values["b"]

class Boom(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("x", type="int", default_value=0, allowed_modes=IN))
        self.add_parameter(Parameter("out", type="int", allowed_modes=OUT))
    def process(self):
        raise ValueError("boom on purpose")

class Counter(BaseNode):
    """Keeps state the supported way: a SetParameterValueRequest to the orchestrator."""
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("count", type="int", default_value=0, allowed_modes=IN))
        self.add_parameter(Parameter("seen_attr", type="bool", allowed_modes=OUT))
        self.add_parameter(Parameter("count_out", type="int", allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["seen_attr"] = hasattr(self, "foo")
        self.foo = "never survives"
        count = self.parameter_values["count"] + 1
        result = nodeisle.handle_request(SetParameterValueRequest(node_name=self.name, parameter_name="count", value=count))
        assert result.succeeded, result.message
        self.parameter_output_values["count_out"] = count

class AsyncReader(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("other", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("value", type="any", allowed_modes=OUT))
        self.add_parameter(Parameter("incoming", type="int", allowed_modes=OUT))
    async def process(self):
        got = await nodeisle.ahandle_request(GetParameterValueRequest(node_name=self.parameter_values["other"], parameter_name="a"))
        self.parameter_output_values["value"] = got.value
        conns = await nodeisle.ahandle_request(ListConnectionsForNodeRequest(node_name=self.name))
        self.parameter_output_values["incoming"] = len(conns.incoming)

class Grower(BaseNode):
    """Adds and removes parameters on the authoritative node through requests."""
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("extra_default", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("names", type="list", allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["names"] = [p.name for p in self.parameters]
        if self.get_parameter_by_name("extra") is None:
            r = nodeisle.handle_request(AddParameterToNodeRequest(node_name=self.name, parameter_name="extra", type="str",
                default_value="grown", tooltip="added by a request", allowed_modes=["INPUT"]))
            assert r.succeeded, r.message
        else:
            r = nodeisle.handle_request(RemoveParameterFromNodeRequest(node_name=self.name, parameter_name="extra"))
            assert r.succeeded, r.message

class Mutator(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("done", type="bool", allowed_modes=OUT))
    def process(self):
        self.add_parameter(Parameter("sneaky", type="str"))
        self.parameter_output_values["done"] = True

class Sleeper(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("seconds", type="float", default_value=0.3, allowed_modes=IN))
        self.add_parameter(Parameter("thread", type="str", allowed_modes=OUT))
    def process(self):
        import time
        time.sleep(self.parameter_values["seconds"])
        self.parameter_output_values["thread"] = threading.current_thread().name

class Quit(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("out", type="int", allowed_modes=OUT))
    def process(self):
        import sys
        sys.exit(3)

class Where(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("pid", type="int", allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["pid"] = os.getpid()
'''
CLASSES = ["Add", "Boom", "Counter", "AsyncReader", "Grower", "Mutator", "Sleeper", "Where", "Quit"]
MODES = ["shared", "isolated"]


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return write_library(tmp_path / "libs", "Math Lib", NODES, CLASSES)


async def start(library: Path, mode: str) -> Orchestrator:
    """``isolated``: the worker runtime runs in this process over the in-memory bus (nodeisle.testing.inprocess);
    ``isolated-subprocess``: a real worker process on a real venv."""
    orchestrator = build_in_process_orchestrator() if mode == "isolated" else build_orchestrator()
    await orchestrator.__aenter__()
    mode = mode.removesuffix("-subprocess")
    ok(await orchestrator.handle_async(RegisterLibraryRequest(path=str(library), mode=mode)))
    ok(await orchestrator.handle_async(CreateFlowRequest(flow_name="main")))
    return orchestrator


async def node(o: Orchestrator, node_type: str, name: str, **values: Any) -> str:
    ok(await o.handle_async(CreateNodeRequest(node_type=node_type, node_name=name, flow_name="main")))
    for key, value in values.items():
        ok(await o.handle_async(SetParameterValueRequest(node_name=name, parameter_name=key, value=value)))
    return name


async def connect(o: Orchestrator, src: str, dst: str) -> Result:
    (sn, sp), (tn, tp) = src.split("."), dst.split(".")
    return await o.handle_async(
        CreateConnectionRequest(
            source_node_name=sn, source_parameter_name=sp, target_node_name=tn, target_parameter_name=tp
        )
    )


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, offline_home: Path) -> str:
    return str(request.param)


def test_execute_node_returns_outputs_in_both_modes(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await node(o, "Add", "add", a=2)
            result = ok(await o.handle_async(ExecuteNodeRequest(node_name="add", parameter_values={"b": 40})))
            assert result.parameter_output_values == {"sum": 42}
        finally:
            await o.close()

    run(body())


@pytest.mark.parametrize("mode", ["shared", "isolated-subprocess"])
def test_isolated_node_runs_in_another_process_and_shared_in_this_one(library: Path, mode: str, offline_home: Path) -> None:
    import os

    async def body() -> None:
        o = await start(library, mode)
        try:
            await node(o, "Where", "where")
            result = ok(await o.handle_async(ExecuteNodeRequest(node_name="where")))
            assert (result.parameter_output_values["pid"] == os.getpid()) == (mode == "shared")
        finally:
            await o.close()

    run(body())


def test_flow_passes_values_along_connections_and_runs_branches_concurrently(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await node(o, "Add", "first", a=1, b=2)
            await node(o, "Add", "second", b=10)
            ok(await connect(o, "first.sum", "second.a"))
            for i in range(3):
                await node(o, "Sleeper", f"sleep{i}", seconds=0.4)
            import time

            started = time.monotonic()
            result = await o.handle_async(RunFlowRequest(flow_name="main"))
            elapsed = time.monotonic() - started
            assert result.status == "succeeded", result
            assert result.nodes["second"].outputs == {"sum": 13}
            assert elapsed < 1.1, f"three 0.4 s branches took {elapsed:.2f} s: they did not run concurrently"
        finally:
            await o.close()

    run(body())


def test_failing_node_skips_downstream_and_other_branches_complete(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await node(o, "Boom", "boom")
            await node(o, "Add", "after")
            await node(o, "Add", "independent", a=5)
            ok(await connect(o, "boom.out", "after.a"))
            result = await o.handle_async(RunFlowRequest(flow_name="main"))
            assert result.status == "failed" and not result.succeeded
            boom = result.nodes["boom"]
            assert boom.status == "failed" and boom.error.type == "ValueError"
            assert "boom on purpose" in boom.error.message and "raise ValueError" in boom.error.traceback
            assert result.nodes["after"].status == "skipped" and "boom" in result.nodes["after"].error.message
            assert result.nodes["independent"].status == "succeeded"
        finally:
            await o.close()

    run(body())


def test_a_node_calling_sys_exit_fails_that_node_not_the_engine(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await node(o, "Quit", "quit")
            await node(o, "Add", "after")
            await node(o, "Add", "other", a=1)
            ok(await connect(o, "quit.out", "after.a"))
            result = await o.handle_async(RunFlowRequest(flow_name="main"))
            assert result.nodes["quit"].status == "failed" and result.nodes["quit"].error.type == "SystemExit"
            assert result.nodes["after"].status == "skipped"
            assert result.nodes["other"].status == "succeeded"
            again = await o.handle_async(ExecuteNodeRequest(node_name="other"))
            assert again.succeeded, "the engine (and in Isolated mode the worker) must still serve"
        finally:
            await o.close()

    run(body())


def test_cancel_runs_cancels_the_run_in_progress_but_not_later_ones(library: Path, home: Path) -> None:
    async def body() -> None:
        o = await start(library, "shared")
        try:
            await node(o, "Sleeper", "sleep", seconds=0.3)
            o.cancel_runs()  # nothing is running: this must not poison the next run
            first = await o.handle_async(RunFlowRequest(flow_name="main"))
            assert first.status == "succeeded"
            running = asyncio.ensure_future(o.handle_async(RunFlowRequest(flow_name="main")))
            await asyncio.sleep(0.1)
            o.cancel_runs()
            assert (await running).status == "cancelled"
            assert (await o.handle_async(RunFlowRequest(flow_name="main"))).status == "succeeded"
        finally:
            await o.close()

    run(body())


def test_set_parameter_value_from_process_persists_and_instance_state_does_not(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await node(o, "Counter", "counter")
            for expected in (1, 2, 3):
                result = ok(await o.handle_async(ExecuteNodeRequest(node_name="counter")))
                assert result.parameter_output_values == {"seen_attr": False, "count_out": expected}
            value = ok(await o.handle_async(GetParameterValueRequest(node_name="counter", parameter_name="count")))
            assert value.value == 3
            rules = {v["rule_id"] for v in result.violations}
            assert rules == ({"worker-reach-into-orchestrator"} if mode == "isolated" else set())
        finally:
            await o.close()

    run(body())


def test_async_process_reads_orchestrator_state_through_ahandle_request(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await node(o, "Add", "source", a=7)
            await node(o, "AsyncReader", "reader", other="source")
            result = ok(await o.handle_async(ExecuteNodeRequest(node_name="reader")))
            assert result.parameter_output_values == {"value": 7, "incoming": 0}
        finally:
            await o.close()

    run(body())


def test_parameter_requests_from_process_change_the_authoritative_node(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await node(o, "Grower", "grower")
            first = ok(await o.handle_async(ExecuteNodeRequest(node_name="grower")))
            assert first.parameter_output_values["names"] == ["extra_default", "names"]
            names = ok(await o.handle_async(ListParametersOnNodeRequest(node_name="grower"))).parameter_names
            assert names == ["extra_default", "names", "extra"]
            details = ok(await o.handle_async(GetParameterDetailsRequest(node_name="grower", parameter_name="extra")))
            assert (details.type, details.default_value, details.allowed_modes) == ("str", "grown", ["INPUT"])
            second = ok(await o.handle_async(ExecuteNodeRequest(node_name="grower")))
            assert second.parameter_output_values["names"] == ["extra_default", "names", "extra"]
            names = ok(await o.handle_async(ListParametersOnNodeRequest(node_name="grower"))).parameter_names
            assert names == ["extra_default", "names"]
        finally:
            await o.close()

    run(body())


def test_add_parameter_during_process_warns_shared_and_fails_isolated(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await node(o, "Mutator", "mutator")
            result = await o.handle_async(ExecuteNodeRequest(node_name="mutator"))
            [violation] = result.violations
            assert violation["rule_id"] == "parameter-mutation-during-aprocess"
            assert "AddParameterToNodeRequest" in violation["remediation"]
            if mode == "shared":
                assert result.succeeded and violation["severity"] == "WARNING"
            else:
                assert not result.succeeded and violation["severity"] == "ERROR"
                assert result.error.type == "StrictModeViolation"
            names = ok(await o.handle_async(ListParametersOnNodeRequest(node_name="mutator"))).parameter_names
            assert names == ["done"], "a mutation inside process must not reach the authoritative node"
        finally:
            await o.close()

    run(body())


def test_example_library_features_behave_the_same_in_both_modes(mode: str) -> None:
    async def body() -> None:
        o = build_orchestrator()
        async with o:
            ok(await o.handle_async(RegisterLibraryRequest(path=str(TEXT_TOOLS), mode=mode)))
            ok(await o.handle_async(CreateNodeRequest(node_type="Split", node_name="split")))
            ok(await o.handle_async(SetParameterValueRequest(node_name="split", parameter_name="parts", value="3")))
            names = ok(await o.handle_async(ListParametersOnNodeRequest(node_name="split"))).parameter_names
            assert names == ["text", "parts", "part_1", "part_2", "part_3"]
            ok(await o.handle_async(SetParameterValueRequest(node_name="split", parameter_name="parts", value=2)))
            names = ok(await o.handle_async(ListParametersOnNodeRequest(node_name="split"))).parameter_names
            assert names == ["text", "parts", "part_1", "part_2"]
            ok(await o.handle_async(CreateNodeRequest(node_type="Repeat", node_name="repeat")))
            bad = await o.handle_async(SetParameterValueRequest(node_name="repeat", parameter_name="times", value=0))
            assert not bad.succeeded and "at least 1" in bad.message
            ok(await o.handle_async(CreateNodeRequest(node_type="Decorate", node_name="decorate")))
            bad = await o.handle_async(
                SetParameterValueRequest(node_name="decorate", parameter_name="style", value="neon")
            )
            assert not bad.succeeded and "not one of the choices" in bad.message

    run(body())


# -- requests that need no execution: one mode is enough --------------------------------------------
def test_graph_requests_create_list_and_delete(library: Path, home: Path) -> None:
    async def body() -> None:
        o = await start(library, "shared")
        try:
            assert ok(await o.handle_async(ListFlowsRequest())).flow_names == ["main"]
            await node(o, "Add", "a1")
            await node(o, "Add", "a2")
            ok(await connect(o, "a1.sum", "a2.b"))
            conns = ok(await o.handle_async(ListConnectionsForNodeRequest(node_name="a2")))
            assert [str(c) for c in conns.incoming] == ["a1.sum -> a2.b"] and conns.outgoing == []
            per_param = ok(await o.handle_async(ListConnectionsForParameterRequest(node_name="a2", parameter_name="a")))
            assert per_param.incoming == []
            ok(
                await o.handle_async(
                    DeleteConnectionRequest(
                        source_node_name="a1",
                        source_parameter_name="sum",
                        target_node_name="a2",
                        target_parameter_name="b",
                    )
                )
            )
            assert ok(await o.handle_async(ListConnectionsForNodeRequest(node_name="a2"))).incoming == []
            ok(await o.handle_async(AddParameterToNodeRequest(node_name="a1", parameter_name="note", type="str")))
            ok(await o.handle_async(RemoveParameterFromNodeRequest(node_name="a1", parameter_name="note")))
            assert ok(await o.handle_async(ListNodesInFlowRequest(flow_name="main"))).node_names == ["a1", "a2"]
            ok(await o.handle_async(DeleteNodeRequest(node_name="a1")))
            assert ok(await o.handle_async(ListNodesInFlowRequest(flow_name="main"))).node_names == ["a2"]
            ok(await o.handle_async(DeleteFlowRequest(flow_name="main")))
            assert ok(await o.handle_async(ListFlowsRequest())).flow_names == []
            libs = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            assert [(lib.name, lib.effective_mode, lib.status) for lib in libs] == [("Math Lib", "shared", "loaded")]
        finally:
            await o.close()

    run(body())


@pytest.mark.parametrize(
    ("request_obj", "needle"),
    [
        (CreateNodeRequest(node_type="Nope", flow_name="main"), "no node type 'Nope'"),
        (DeleteNodeRequest(node_name="ghost"), "no node named 'ghost'"),
        (ListNodesInFlowRequest(flow_name="ghost"), "no flow named 'ghost'"),
        (SetParameterValueRequest(node_name="add", parameter_name="zz", value=1), "no parameter 'zz'"),
        (GetParameterValueRequest(node_name="ghost", parameter_name="a"), "no node named 'ghost'"),
        (GetParameterDetailsRequest(node_name="add", parameter_name="zz"), "no parameter 'zz'"),
        (RemoveParameterFromNodeRequest(node_name="add", parameter_name="zz"), "no parameter 'zz'"),
        (AddParameterToNodeRequest(node_name="add", parameter_name="a"), "already has a parameter named 'a'"),
        (
            AddParameterToNodeRequest(node_name="add", parameter_name="x", allowed_modes=["SIDEWAYS"]),
            "unknown parameter mode",
        ),
        (ExecuteNodeRequest(node_name="ghost"), "no node named 'ghost'"),
        (ExecuteNodeRequest(node_name="add", parameter_values={"zz": 1}), "no parameter 'zz'"),
        (RunFlowRequest(flow_name="ghost"), "no flow named 'ghost'"),
        (CreateFlowRequest(flow_name="main"), "already exists"),
        (ListConnectionsForNodeRequest(node_name="ghost"), "no node named 'ghost'"),
        (
            DeleteConnectionRequest(
                source_node_name="add", source_parameter_name="sum", target_node_name="add2", target_parameter_name="a"
            ),
            "no connection",
        ),
    ],
)
def test_request_for_something_missing_fails_naming_it(
    library: Path, home: Path, request_obj: Any, needle: str
) -> None:
    async def body() -> None:
        o = await start(library, "shared")
        try:
            await node(o, "Add", "add")
            await node(o, "Add", "add2")
            result = await o.handle_async(request_obj)
            assert not result.succeeded
            assert needle in result.message
        finally:
            await o.close()

    run(body())


def test_connections_are_checked_for_modes_types_duplicates_and_cycles(library: Path, home: Path) -> None:
    async def body() -> None:
        o = await start(library, "shared")
        try:
            for name in ("n1", "n2", "n3"):
                await node(o, "Add", name)
            await node(o, "Grower", "g")
            assert "not an OUTPUT" in (await connect(o, "n1.a", "n2.a")).message
            assert "not an INPUT" in (await connect(o, "n1.sum", "n2.sum")).message
            assert "does not match" in (await connect(o, "g.names", "n1.a")).message
            ok(await connect(o, "n1.sum", "n2.a"))
            assert "already fed" in (await connect(o, "n3.sum", "n2.a")).message
            ok(await connect(o, "n2.sum", "n3.a"))
            cycle = await connect(o, "n3.sum", "n1.a")
            assert not cycle.succeeded and "cycle n3 -> n1 -> n2 -> n3" in cycle.message
        finally:
            await o.close()

    run(body())


def test_incompatible_library_is_refused_isolation_with_the_reason(tmp_path: Path, home: Path) -> None:
    lib = write_library(
        tmp_path,
        "Local Only",
        NODES,
        ["Add"],
        declarations=[{"type": "worker_mode_compatibility", "compatibility": "INCOMPATIBLE"}],
    )

    async def body() -> None:
        async with build_orchestrator() as o:
            result = await o.handle_async(RegisterLibraryRequest(path=str(lib), mode="isolated"))
            assert not result.succeeded
            assert "INCOMPATIBLE" in result.message and "cannot run Isolated" in result.message

    run(body())


def test_suggested_worker_mode_is_the_default_and_the_user_choice_wins(tmp_path: Path, offline_home: Path) -> None:
    lib = write_library(
        tmp_path,
        "Suggests Worker",
        NODES,
        ["Where"],
        declarations=[{"type": "suggested_worker_mode", "mode": "WORKER"}],
    )

    async def body() -> None:
        async with build_orchestrator() as o:
            ok(await o.handle_async(RegisterLibraryRequest(path=str(lib))))
            [info] = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            assert info.effective_mode == "isolated" and info.suggested_mode == "WORKER"
            assert info.worker_id and info.worker_state == "ready"
        async with build_orchestrator() as o:
            ok(await o.handle_async(RegisterLibraryRequest(path=str(lib), mode="shared")))
            [info] = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            assert info.effective_mode == "shared" and info.worker_id is None

    run(body())


def test_scripts_reach_the_engine_through_nodeisle_handle_request(library: Path, home: Path) -> None:
    import nodeisle
    from nodeisle.requests import ListFlowsRequest

    async def body() -> None:
        o = await start(library, "shared")
        try:
            with o.activated():
                assert ok(nodeisle.handle_request(ListFlowsRequest())).flow_names == ["main"]
                created = await nodeisle.ahandle_request(CreateNodeRequest(node_type="Add", node_name="n"))
                assert ok(created).node_name == "n"
                executed = await nodeisle.ahandle_request(ExecuteNodeRequest(node_name="n", parameter_values={"a": 1}))
                assert ok(executed).parameter_output_values == {"sum": 1}
            with pytest.raises(nodeisle.NodeisleError, match="no engine"):
                nodeisle.handle_request(ListFlowsRequest())
        finally:
            await o.close()

    run(body())


def test_one_bad_library_does_not_stop_the_others(tmp_path: Path, home: Path, library: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "griptape-nodes-library.json").write_text('{"name": "Broken", "nodes": [}')

    async def body() -> None:
        async with build_orchestrator() as o:
            bad = await o.handle_async(RegisterLibraryRequest(path=str(broken)))
            assert not bad.succeeded and "line 1" in bad.message and "griptape-nodes-library.json" in bad.message
            ok(await o.handle_async(RegisterLibraryRequest(path=str(library))))
            ok(await o.handle_async(CreateNodeRequest(node_type="Add", node_name="add")))
            assert ok(await o.handle_async(ExecuteNodeRequest(node_name="add"))).parameter_output_values == {"sum": 0}

    run(body())


def test_sync_request_from_another_thread_after_the_loop_stopped_fails_instead_of_hanging(
    library: Path, home: Path
) -> None:
    import threading

    from nodeisle.errors import NotConnectedError
    from nodeisle.requests import ListFlowsRequest

    o = build_orchestrator()
    run(o.handle_async(ListFlowsRequest()))  # binds the orchestrator to a loop that is then closed
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            o.handle_sync(ListFlowsRequest())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "handle_sync hung on a stopped loop"
    assert isinstance(outcome[0], NotConnectedError)


def test_reloading_a_library_whose_manifest_broke_marks_it_failed(library: Path, home: Path) -> None:
    from nodeisle.requests import ReloadLibraryRequest

    async def body() -> None:
        o = await start(library, "shared")
        try:
            (library / "griptape-nodes-library.json").write_text('{"name": "Math Lib", "nodes": [')
            reloaded = await o.handle_async(ReloadLibraryRequest(library_name="Math Lib"))
            assert not reloaded.succeeded and "line 1" in reloaded.message
            [info] = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            assert info.status == "failed" and "line 1" in info.problems[0]
        finally:
            await o.close()

    run(body())


@pytest.mark.parametrize(
    "timeout", [float("nan"), float("inf"), -1.0, 0, 10**400, "5", True],
    ids=["nan", "inf", "negative", "zero", "huge-int", "string", "bool"],
)
def test_a_node_timeout_that_is_not_a_positive_finite_number_is_a_request_failure(
    library: Path, home: Path, timeout: Any
) -> None:
    async def body() -> None:
        o = await start(library, "shared")
        try:
            created = await o.handle_async(CreateNodeRequest(node_type="Add", node_name="c", metadata={"timeout": timeout}))
            assert not created.succeeded and "node 'c'" in created.message
            assert "CreateNodeRequest.metadata" in created.message and "'timeout' must be a positive, finite" in created.message
            assert "c" not in o.graph.nodes
            await node(o, "Add", "add", a=1)
            executed = await o.handle_async(ExecuteNodeRequest(node_name="add", node_metadata={"timeout": timeout}))
            assert not executed.succeeded and "node 'add'" in executed.message
            assert "ExecuteNodeRequest.node_metadata" in executed.message and "internal error" not in executed.message
            assert "timeout" not in o.graph.node("add").metadata  # refused before it was stored
            o.graph.node("add").metadata["timeout"] = timeout  # e.g. from a library's node metadata
            ran = await o.handle_async(RunFlowRequest(flow_name="main"))
            assert ran.nodes["add"].status == "failed" and "'timeout' must be a positive, finite" in str(ran.nodes["add"].error)
        finally:
            await o.close()

    run(body())


@pytest.mark.parametrize("how", ["dotdot", "symlink"])
def test_a_library_whose_node_file_is_outside_its_folder_is_refused_and_the_file_never_runs(
    tmp_path: Path, home: Path, how: str
) -> None:
    ran = tmp_path / "ran"
    outside = tmp_path / "elsewhere" / "nodes.py"
    outside.parent.mkdir()
    outside.write_text(f"open({str(ran)!r}, 'w').close()\n" + NODES)
    lib = write_library(tmp_path / "libs", "Escapes", NODES, ["Add"])
    manifest = lib / "griptape-nodes-library.json"
    if how == "symlink":
        (lib / "nodes.py").unlink()
        (lib / "nodes.py").symlink_to(outside)
    else:
        manifest.write_text(manifest.read_text().replace('"nodes.py"', '"../../elsewhere/nodes.py"'))

    async def body() -> None:
        async with build_orchestrator() as o:
            result = await o.handle_async(RegisterLibraryRequest(path=str(lib)))
            assert not result.succeeded
            assert str(manifest) in result.message and "nodes[0].file_path" in result.message
            assert "node 'Add'" in result.message and str(outside) in result.message
            assert "Escapes" not in o.libraries

    run(body())
    assert not ran.exists(), "the node file outside the library folder was imported"


@pytest.mark.parametrize("word", ["WORKER", "orchestrator", "sideways", 3])
def test_a_wrong_mode_word_is_a_request_failure_listing_the_accepted_words(
    library: Path, home: Path, word: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from nodeisle.requests import SetLibraryModeRequest

    async def body() -> None:
        async with build_orchestrator() as o:
            with caplog.at_level(logging.ERROR, logger="nodeisle"):
                registered = await o.handle_async(RegisterLibraryRequest(path=str(library), mode=word))
                assert not registered.succeeded and "Math Lib" not in o.libraries
                ok(await o.handle_async(RegisterLibraryRequest(path=str(library))))
                switched = await o.handle_async(SetLibraryModeRequest(library_name="Math Lib", mode=word))
                assert not switched.succeeded
            for result in (registered, switched):
                assert "internal error" not in result.message and "library 'Math Lib'" in result.message
                assert f"unknown library mode {word!r}; expected 'shared' or 'isolated'" in result.message
            assert not [r for r in caplog.records if r.exc_info], "a wrong mode word was logged with a traceback"
            assert o.libraries["Math Lib"].mode.value == "shared"

    run(body())


# -- values that arrive over a connection take the user's set-value path --------------------------
PATH_NODES = '''
from nodeisle import BaseNode, Parameter, ParameterMode
IN = {ParameterMode.INPUT, ParameterMode.PROPERTY}
OUT = {ParameterMode.OUTPUT}
class Emit(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="any", default_value="rich", allowed_modes=IN))
        self.add_parameter(Parameter("value", type="any", allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["value"] = self.parameter_values["text"]
class Dynamic(BaseNode):
    # after_value_set adds an output parameter when mode is "rich": the standard dynamic pattern
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("mode", type="str", default_value="plain", allowed_modes=IN))
        self.add_parameter(Parameter("result", type="str", allowed_modes=OUT))
    def after_value_set(self, parameter, value):
        if parameter.name == "mode" and value == "rich" and self.get_parameter_by_name("detail") is None:
            self.add_parameter(Parameter("detail", type="str", allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["result"] = self.parameter_values["mode"].upper()
        if self.get_parameter_by_name("detail") is not None:
            self.parameter_output_values["detail"] = "extra detail"
class Typo(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("result", type="str", allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["reslut"] = "misspelt"
'''


@pytest.fixture
def path_library(tmp_path: Path) -> Path:
    return write_library(tmp_path / "libs", "Math Lib", PATH_NODES, ["Emit", "Dynamic", "Typo"])


def test_a_value_arriving_over_a_connection_runs_the_hooks_a_user_set_value_runs(path_library: Path, mode: str) -> None:
    """Regression: parameters after_value_set added were kept for a value set directly, lost for a connected one."""
    async def body() -> None:
        o = await start(path_library, mode)
        try:
            await node(o, "Emit", "emit")
            await node(o, "Dynamic", "direct", mode="rich")
            await node(o, "Dynamic", "fed")
            ok(await connect(o, "emit.value", "fed.mode"))
            result = ok(await o.handle_async(RunFlowRequest(flow_name="main")))
            for name in ("direct", "fed"):
                assert result.nodes[name].outputs == {"result": "RICH", "detail": "extra detail"}, name
                names = ok(await o.handle_async(ListParametersOnNodeRequest(node_name=name))).parameter_names
                assert names == ["mode", "result", "detail"], name
        finally:
            await o.close()

    run(body())


def test_an_output_written_to_a_parameter_that_does_not_exist_fails_naming_it(path_library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(path_library, mode)
        try:
            await node(o, "Typo", "typo")
            result = await o.handle_async(ExecuteNodeRequest(node_name="typo"))
            assert not result.succeeded and result.error is not None and result.error.type == "UnknownParameter"
            assert "wrote output 'reslut'" in result.message and "its parameters are: result" in result.message
        finally:
            await o.close()

    run(body())


def test_values_are_checked_against_builtin_types_when_set_or_connected(path_library: Path, mode: str) -> None:
    """Regression: a list went into a str parameter unnoticed."""
    async def body() -> None:
        o = await start(path_library, mode)
        try:
            await node(o, "Dynamic", "set")
            refused = await o.handle_async(SetParameterValueRequest(node_name="set", parameter_name="mode", value=[1, 2]))
            assert not refused.succeeded
            assert "parameter 'mode' is of type str, but the value is a list ([1, 2])" in refused.message
            await node(o, "Emit", "emit", text=[1, 2])  # an 'any' output carrying a list
            await node(o, "Dynamic", "fed")
            ok(await connect(o, "emit.value", "fed.mode"))
            run_result = await o.handle_async(RunFlowRequest(flow_name="main"))
            fed = run_result.nodes["fed"]
            assert fed.status == "failed" and fed.error is not None
            assert "while setting parameter 'mode'" in fed.error.message and "is of type str" in fed.error.message
        finally:
            await o.close()

    run(body())


def test_the_python_api_example_runs_and_prints_what_its_doc_shows(tmp_path: Path, home: Path) -> None:
    """examples/python_api.py, run as a user runs it (Shared: no network), prints docs/python-api.md's output."""
    import os
    import re
    import subprocess
    import sys

    from tests.conftest import EXAMPLES, REPO

    done = subprocess.run([sys.executable, str(EXAMPLES / "python_api.py")], capture_output=True, text=True,
                          cwd=tmp_path, env=dict(os.environ), timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.splitlines() == [
        "flow 'demo': nodes greet, shout, repeat; repeat.times = '3'",
        "succeeded  greet   result='hello from python'",
        "succeeded  shout   result='HELLO FROM PYTHON'",
        "succeeded  repeat  result='HELLO FROM PYTHON / HELLO FROM PYTHON / HELLO FROM PYTHON'",
        "run succeeded: 3 of 3 nodes succeeded",
    ]
    shown = re.search(r"```text\n(.*?)```", (REPO / "docs" / "python-api.md").read_text(), re.S)
    assert shown is not None and shown.group(1) == done.stdout, "docs/python-api.md shows other output"
