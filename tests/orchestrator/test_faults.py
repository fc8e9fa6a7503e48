"""Faults end to end through real worker processes: deadlines, heartbeats, crash loops, Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.requests import (
    AddParameterToNodeRequest,
    CreateNodeRequest,
    ExecuteNodeRequest,
    GetParameterValueRequest,
    ListParametersOnNodeRequest,
    ListRegisteredLibrariesRequest,
    RegisterLibraryRequest,
    Result,
    SetParameterValueRequest,
)
from tests.conftest import run, write_library

NODES = '''
import asyncio, os, sys, time
from nodeisle import BaseNode, Parameter, ParameterMode
IN, OUT = {ParameterMode.INPUT}, {ParameterMode.OUTPUT}

class Wait(BaseNode):
    """Sleeps cooperatively (async) or stubbornly (sync), or blocks the event loop."""
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("seconds", type="float", default_value=0.0, allowed_modes=IN))
        self.add_parameter(Parameter("after", type="any", allowed_modes=IN))
        self.add_parameter(Parameter("pid", type="int", allowed_modes=OUT))
    def process(self):
        print(f"WAITING pid={os.getpid()}", file=sys.stderr, flush=True)
        time.sleep(self.parameter_values["seconds"])
        self.parameter_output_values["pid"] = os.getpid()

class AsyncWait(Wait):
    async def process(self):
        await asyncio.sleep(self.parameter_values["seconds"])
        self.parameter_output_values["pid"] = os.getpid()

class BlockLoop(Wait):
    async def process(self):
        time.sleep(self.parameter_values["seconds"])  # blocks the worker's event loop on purpose
        self.parameter_output_values["pid"] = os.getpid()

class SlowHook(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("delay", type="float", default_value=0.0, allowed_modes=IN))
        self.add_parameter(Parameter("data", type="any", allowed_modes=IN))
    def after_value_set(self, parameter, value):
        if parameter.name == "delay":
            time.sleep(value)
    def process(self):
        pass

class Die(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("out", type="int", allowed_modes=OUT))
    def process(self):
        print("dying now", file=sys.stderr, flush=True)
        os._exit(9)
'''
CLASSES = ["Wait", "AsyncWait", "BlockLoop", "Die", "SlowHook"]


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    return write_library(tmp_path, "Faulty", NODES, CLASSES)


def tunables(**changes: Any) -> dict[str, Any]:
    """This test's tunables, as the highest config layer (``-c`` flags), which is how code sets them."""
    return changes


async def started(lib: Path, mode: str, flags: dict[str, Any], **nodes: str) -> Orchestrator:
    o = build_orchestrator(config_flags=flags)
    await o.__aenter__()
    ok(await o.handle_async(RegisterLibraryRequest(path=str(lib), mode=mode)))
    for name, node_type in nodes.items():
        ok(await o.handle_async(CreateNodeRequest(node_type=node_type, node_name=name, metadata={"timeout": 0.5})))
    return o


async def execute(o: Orchestrator, node: str, **values: Any) -> Any:
    return await o.handle_async(ExecuteNodeRequest(node_name=node, parameter_values=values))


def test_deadline_cancels_a_cooperative_node_and_keeps_its_worker(lib: Path, offline_home: Path) -> None:
    async def body() -> None:
        o = await started(lib, "isolated", tunables(), a="AsyncWait")
        try:
            pid = ok(await execute(o, "a", seconds=0)).parameter_output_values["pid"]
            t0 = time.monotonic()
            late = await execute(o, "a", seconds=30)
            assert time.monotonic() - t0 < 5
            assert late.error.type == "DeadlineExceeded"
            assert "deadline of 0.5 s" in late.message and "node 'a''s timeout" in late.message
            assert "cancelled cooperatively" in late.message
            assert ok(await execute(o, "a", seconds=0)).parameter_output_values["pid"] == pid
        finally:
            await o.close()
    run(body(), timeout=60)


def test_deadline_terminates_a_worker_whose_node_does_not_stop(lib: Path, offline_home: Path) -> None:
    async def body() -> None:
        o = await started(lib, "isolated", tunables(), w="Wait")
        try:
            pid = ok(await execute(o, "w", seconds=0)).parameter_output_values["pid"]
            late = await execute(o, "w", seconds=60)
            assert late.error.type == "DeadlineExceeded" and "was terminated" in late.message
            with pytest.raises(ProcessLookupError):
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)
            assert ok(await execute(o, "w", seconds=0)).parameter_output_values["pid"] != pid
        finally:
            await o.close()
    run(body(), timeout=60)


def test_default_deadline_comes_from_settings_and_says_so(lib: Path, home: Path) -> None:
    async def body() -> None:
        o = build_orchestrator(config_flags=tunables(execution_timeout=0.3))
        async with o:
            ok(await o.handle_async(RegisterLibraryRequest(path=str(lib), mode="shared")))
            ok(await o.handle_async(CreateNodeRequest(node_type="AsyncWait", node_name="a")))
            late = await execute(o, "a", seconds=10)
            assert late.error.type == "DeadlineExceeded" and "execution_timeout setting" in late.message
            assert "it was cancelled" in late.message
    run(body(), timeout=30)


def test_worker_that_stops_answering_heartbeats_is_replaced(lib: Path, offline_home: Path) -> None:
    s = tunables(heartbeat_interval=0.2, heartbeat_timeout=0.6, execution_timeout=60)

    async def body() -> None:
        o = await started(lib, "isolated", s)
        try:
            ok(await o.handle_async(CreateNodeRequest(node_type="BlockLoop", node_name="b")))
            pid = ok(await execute(o, "b", seconds=0)).parameter_output_values["pid"]
            hung = await execute(o, "b", seconds=30)
            assert hung.error.type == "WorkerCrashed" and "stopped answering heartbeats" in hung.message
            assert ok(await execute(o, "b", seconds=0)).parameter_output_values["pid"] != pid
        finally:
            await o.close()
    run(body(), timeout=60)


def test_crash_loop_marks_the_library_failed_with_the_last_reason(lib: Path, offline_home: Path) -> None:
    async def body() -> None:
        o = await started(lib, "isolated", tunables(crash_limit=3, crash_window=60), d="Die")
        try:
            for _ in range(3):
                crashed = await execute(o, "d")
                assert crashed.error.type == "WorkerCrashed" and "exited with code 9" in crashed.message
            failed = await execute(o, "d")
            assert failed.error.type == "LibraryFailed"
            assert "crashed 3 times within 60 s" in failed.message and "exited with code 9" in failed.message
            [info] = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            assert info.status == "failed" and "crashed 3 times" in info.problems[0]
        finally:
            await o.close()
    run(body(), timeout=60)


@pytest.mark.parametrize("mode", ["isolated", "shared"])
def test_ctrl_c_cancels_the_run_reports_cancelled_nodes_exits_130_and_leaves_no_process(
    tmp_path: Path, lib: Path, offline_home: Path, mode: str
) -> None:
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps({
        "libraries": [str(lib)], "library_modes": {"Faulty": mode},
        "nodes": [{"name": "quick", "type": "Wait", "values": {"seconds": 0}},
                  {"name": "slow", "type": "Wait", "values": {"seconds": 60}},
                  {"name": "after", "type": "Wait"}],
        "connections": [{"from": "slow.pid", "to": "after.after"}],
    }))
    proc = subprocess.Popen([sys.executable, "-m", "nodeisle.cli", "run", str(wf)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    assert proc.stderr is not None
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while len(seen) < 2 and time.monotonic() < deadline:  # both quick and slow have started
        line = proc.stderr.readline()
        if not line:
            break
        seen += [int(m) for m in re.findall(r"WAITING pid=(\d+)", line)]
    assert len(seen) == 2, f"the slow node never started: {proc.communicate(timeout=30)}"
    pids = set(seen)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)  # a stuck plain process() in Shared mode must not hold the exit
    assert proc.returncode == 130, (out, err)
    assert re.search(r"cancelled\s+slow", out) and re.search(r"cancelled\s+after", out)
    assert re.search(r"ok\s+quick", out)
    for pid in pids:
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"worker {pid} outlived the cancelled run")


def test_a_worker_that_cannot_be_spawned_fails_the_execution_and_a_later_one_recovers(
    lib: Path, offline_home: Path
) -> None:
    async def body() -> None:
        o = await started(lib, "isolated", tunables(), w="Wait")
        try:
            host = o.libraries["Faulty"].host
            worker = host.worker  # type: ignore[union-attr]
            python = host.python  # type: ignore[union-attr]
            ok(await execute(o, "w", seconds=0))
            moved = python.with_name("python-moved")
            python.rename(moved)  # the env's interpreter disappears (a symlink in the venv)
            try:
                worker.process.kill_tree()
                await asyncio.sleep(0.3)
                failed = await execute(o, "w", seconds=0)
                assert failed.error.type == "WorkerCrashed" and "could not be started" in failed.message
            finally:
                moved.rename(python)
            recovered = await execute(o, "w", seconds=0)
            assert recovered.succeeded, recovered.message
        finally:
            await o.close()

    run(body(), timeout=60)


@pytest.mark.parametrize("mode", ["shared", "isolated"])
def test_setting_a_value_whose_hook_hangs_fails_at_the_deadline(lib: Path, offline_home: Path, mode: str) -> None:
    async def body() -> None:
        o = await started(lib, mode, tunables(execution_timeout=0.5), h="SlowHook")
        try:
            t0 = time.monotonic()
            hung = await o.handle_async(SetParameterValueRequest(node_name="h", parameter_name="delay", value=3))
            assert time.monotonic() - t0 < 10
            assert not hung.succeeded and "deadline of 0.5 s" in hung.message and "execution_timeout" in hung.message
            fine = await o.handle_async(SetParameterValueRequest(node_name="h", parameter_name="delay", value=0))
            assert fine.succeeded, fine.message
        finally:
            await o.close()

    run(body(), timeout=60)


def test_a_value_that_cannot_cross_is_a_clear_failure_when_set_on_an_isolated_node(
    lib: Path, offline_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    async def body() -> None:
        o = await started(lib, "isolated", tunables(), h="SlowHook")
        try:
            bad = await o.handle_async(SetParameterValueRequest(node_name="h", parameter_name="data",
                                                                value=threading.Lock()))
            assert not bad.succeeded and "cannot cross the bus" in bad.message and "'data'" in bad.message
            assert "internal error" not in bad.message
        finally:
            await o.close()

    run(body(), timeout=60)
    assert not [r for r in caplog.records if r.levelname == "ERROR" and "internal error" in r.getMessage()]


def test_a_parameter_added_while_a_value_is_being_set_is_not_lost(lib: Path, offline_home: Path) -> None:
    async def body() -> None:
        o = await started(lib, "shared", tunables(), h="SlowHook")
        try:
            setting = asyncio.ensure_future(
                o.handle_async(SetParameterValueRequest(node_name="h", parameter_name="delay", value=0.5)))
            await asyncio.sleep(0.2)
            ok(await o.handle_async(AddParameterToNodeRequest(node_name="h", parameter_name="extra", type="str")))
            ok(await setting)
            names = ok(await o.handle_async(ListParametersOnNodeRequest(node_name="h"))).parameter_names
            assert names == ["delay", "data", "extra"]
            value = ok(await o.handle_async(GetParameterValueRequest(node_name="h", parameter_name="delay"))).value
            assert value == 0.5
        finally:
            await o.close()

    run(body(), timeout=60)
