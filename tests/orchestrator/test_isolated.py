"""Isolated libraries end to end: real uv virtualenvs, real worker processes, a real WebSocket bus."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.requests import (
    CreateConnectionRequest,
    CreateNodeRequest,
    ExecuteNodeRequest,
    ListRegisteredLibrariesRequest,
    RegisterLibraryRequest,
    ReloadLibraryRequest,
    Result,
    RunFlowRequest,
    SetLibraryModeRequest,
    SetParameterValueRequest,
)
from nodeisle.testing.inprocess import build_in_process_orchestrator
from tests.conftest import run, write_library

VERSION_NODES = """
from nodeisle import BaseNode, Parameter, ParameterMode
class Version(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("label", type="str", default_value="", allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("version", type="str", allowed_modes={ParameterMode.OUTPUT}))
        self.add_parameter(Parameter("websockets", type="str", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        import tinyver, websockets
        self.parameter_output_values["version"] = self.parameter_values["label"] + tinyver.__version__
        self.parameter_output_values["websockets"] = websockets.__version__ if hasattr(websockets, "__version__") else websockets.version.version
"""

PAYLOAD_NODES = """
import threading
from nodeisle import BaseNode, Parameter, ParameterMode
IN, OUT = {ParameterMode.INPUT}, {ParameterMode.OUTPUT}
class Double(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("data", type="any", allowed_modes=IN))
        self.add_parameter(Parameter("result", type="any", allowed_modes=OUT))
        self.add_parameter(Parameter("kind", type="str", allowed_modes=OUT))
    def process(self):
        data = self.parameter_values["data"]
        self.parameter_output_values["kind"] = type(data).__module__ + "." + type(data).__name__
        self.parameter_output_values["result"] = data * 2 if not isinstance(data, bytes) else data[::-1]
class LeakLock(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("lock", type="any", allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["lock"] = threading.Lock()
class Crash(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("how", type="str", default_value="exit", allowed_modes=IN))
        self.add_parameter(Parameter("pid", type="int", allowed_modes=OUT))
    def process(self):
        import os, sys, signal
        if self.parameter_values["how"] == "exit":
            print("about to exit on purpose", file=sys.stderr, flush=True)
            os._exit(7)
        if self.parameter_values["how"] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        self.parameter_output_values["pid"] = os.getpid()
class Talk(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("done", type="bool", allowed_modes=OUT))
    def process(self):
        import logging, sys
        print("hello from stdout", flush=True)
        print("hello from stderr", file=sys.stderr, flush=True)
        logging.getLogger("my.library").warning("hello from logging")
        self.parameter_output_values["done"] = True
"""
PAYLOAD_CLASSES = ["Double", "LeakLock", "Crash", "Talk"]


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


async def register(o: Orchestrator, path: Path, mode: str = "isolated") -> None:
    ok(await o.handle_async(RegisterLibraryRequest(path=str(path), mode=mode)))


async def execute(o: Orchestrator, node: str, **values: Any) -> Any:
    return await o.handle_async(ExecuteNodeRequest(node_name=node, parameter_values=values))


def test_two_libraries_pinning_conflicting_versions_run_side_by_side(tmp_path: Path, offline_home: Path) -> None:
    one = write_library(tmp_path, "Pins One", VERSION_NODES, ["Version"], pins=["tinyver==1.0"])
    two = write_library(tmp_path, "Pins Two", VERSION_NODES, ["Version"], pins=["tinyver==2.0"])

    async def body() -> None:
        async with build_orchestrator() as o:
            await register(o, one)
            await register(o, two)
            ok(await o.handle_async(CreateNodeRequest(node_type="Version", library_name="Pins One", node_name="v1")))
            ok(await o.handle_async(CreateNodeRequest(node_type="Version", library_name="Pins Two", node_name="v2")))
            ok(
                await o.handle_async(
                    CreateConnectionRequest(
                        source_node_name="v1",
                        source_parameter_name="version",
                        target_node_name="v2",
                        target_parameter_name="label",
                    )
                )
            )
            result = await o.handle_async(RunFlowRequest(flow_name="flow"))
            assert result.status == "succeeded", result
            assert result.nodes["v1"].outputs["version"] == "1.0"
            assert result.nodes["v2"].outputs["version"] == "1.02.0"

    run(body(), timeout=120)


def test_an_execution_sent_while_its_library_switches_mode_waits_for_the_new_worker(
    tmp_path: Path, offline_home: Path
) -> None:
    """The editor flips a library to Isolated and the user presses Run at once: the run waits for the
    worker to be ready (it used to fail with 'Worker-<id> is not connected')."""
    one = write_library(tmp_path, "Pins One", VERSION_NODES, ["Version"], pins=["tinyver==1.0"])

    async def body() -> None:
        async with build_orchestrator() as o:
            await register(o, one, mode="shared")
            ok(await o.handle_async(CreateNodeRequest(node_type="Version", library_name="Pins One", node_name="v1")))
            switch = asyncio.ensure_future(o.handle_async(SetLibraryModeRequest(library_name="Pins One",
                                                                                mode="isolated")))
            await asyncio.sleep(0)  # the switch has started: the Shared host is closing
            results = await asyncio.gather(execute(o, "v1"), execute(o, "v1", label="again "))
            ok(await switch)
            for result in results:
                assert result.succeeded and result.error is None, result.message
            assert [r.parameter_output_values["version"] for r in results] == ["1.0", "again 1.0"]
            [info] = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            assert info.effective_mode == "isolated" and info.worker_state == "ready"

    run(body(), timeout=120)


def test_pip_dependencies_exec_are_installed_into_the_worker_env_too(tmp_path: Path, offline_home: Path) -> None:
    folder = write_library(tmp_path, "Exec Set", VERSION_NODES, ["Version"])
    data = json.loads((folder / "griptape-nodes-library.json").read_text())
    data["metadata"]["dependencies"]["pip_dependencies_exec"] = ["tinyver==2.0"]
    (folder / "griptape-nodes-library.json").write_text(json.dumps(data))

    async def body() -> None:
        async with build_orchestrator() as o:
            await register(o, folder)
            ok(await o.handle_async(CreateNodeRequest(node_type="Version", node_name="v")))
            result = ok(await execute(o, "v"))
            assert result.error is None and result.parameter_output_values["version"] == "2.0"

    run(body(), timeout=120)


def test_library_pinning_another_websockets_works_and_leaves_the_orchestrator_alone(
    tmp_path: Path, offline_home: Path
) -> None:
    import websockets

    orchestrator_version = websockets.__version__
    old = write_library(
        tmp_path, "Old Websockets", VERSION_NODES, ["Version"], pins=["tinyver==1.0", "websockets==12.0"]
    )

    async def body() -> None:
        async with build_orchestrator() as o:
            await register(o, old)
            ok(await o.handle_async(CreateNodeRequest(node_type="Version", node_name="v")))
            result = ok(await execute(o, "v"))
            assert result.parameter_output_values["websockets"] == "12.0"

    run(body(), timeout=120)
    assert websockets.__version__ == orchestrator_version != "12.0"
    assert "websockets" not in {m.split(".")[0] for m in sys.modules if m.startswith("tinyver")}


def test_unchanged_library_reuses_its_env_and_changed_pins_rebuild(tmp_path: Path, offline_home: Path) -> None:
    lib = write_library(tmp_path, "Reuse", VERSION_NODES, ["Version"], pins=["tinyver==1.0"])

    async def load() -> tuple[Any, ...]:
        o = build_orchestrator()
        async with o:
            await register(o, lib)
            return tuple(sorted(str(i.path) for i in o.envs.list()))

    first = run(load(), timeout=120)
    log = offline_home / "logs" / "envs"
    before = {p.name: p.stat().st_size for p in log.iterdir()}
    assert run(load(), timeout=120) == first
    assert {p.name: p.stat().st_size for p in log.iterdir()} == before, "a reused env must not run the installer"
    write_library(tmp_path, "Reuse", VERSION_NODES, ["Version"], pins=["tinyver==2.0"])
    third = run(load(), timeout=120)
    assert len(third) == 2 and set(first) < set(third)


def test_failed_install_marks_only_that_library_failed_with_uv_error_and_log(
    tmp_path: Path, offline_home: Path
) -> None:
    bad = write_library(tmp_path, "Bad Pin", VERSION_NODES, ["Version"], pins=["tinyver==9.9"])
    good = write_library(tmp_path, "Good Pin", VERSION_NODES, ["Version"], pins=["tinyver==1.0"])

    async def body() -> None:
        async with build_orchestrator() as o:
            failed = await o.handle_async(RegisterLibraryRequest(path=str(bad), mode="isolated"))
            assert not failed.succeeded
            assert "tinyver" in failed.message and "9.9" in failed.message
            assert str(offline_home / "logs" / "envs") in failed.message
            await register(o, good)
            libs = {i.name: i for i in ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries}
            assert libs["Bad Pin"].status == "failed" and "tinyver" in libs["Bad Pin"].problems[0]
            assert libs["Good Pin"].status == "loaded"
            ok(await o.handle_async(CreateNodeRequest(node_type="Version", library_name="Good Pin", node_name="v")))
            assert ok(await execute(o, "v")).parameter_output_values["version"] == "1.0"
            refused = await o.handle_async(
                CreateNodeRequest(node_type="Version", library_name="Bad Pin", node_name="b")
            )
            assert not refused.succeeded and "failed to load" in refused.message

    run(body(), timeout=120)


@pytest.fixture
def payload_lib(tmp_path: Path) -> Path:
    return write_library(tmp_path, "Payloads", PAYLOAD_NODES, PAYLOAD_CLASSES, pins=["numpy"])


def test_bytes_and_arrays_cross_the_bus_intact(payload_lib: Path, offline_home: Path) -> None:
    import numpy as np

    async def body() -> None:
        async with build_orchestrator() as o:
            await register(o, payload_lib)
            ok(await o.handle_async(CreateNodeRequest(node_type="Double", node_name="d")))
            blob = os.urandom(3 << 20)
            result = ok(await execute(o, "d", data=blob))
            assert result.parameter_output_values["result"] == blob[::-1]
            assert result.parameter_output_values["kind"] == "builtins.bytes"
            array = np.arange(1 << 20, dtype=np.float32).reshape(1024, 1024)
            result = ok(await execute(o, "d", data=array))
            out = result.parameter_output_values["result"]
            assert out.dtype == np.float32 and out.shape == (1024, 1024) and np.array_equal(out, array * 2)
            assert result.parameter_output_values["kind"] == "numpy.ndarray"
            exact = {"a": [1, 2.5, None, True, "é"], "t": (1, 2)}
            assert ok(await execute(o, "d", data=exact["a"])).parameter_output_values["result"] == exact["a"] * 2
            assert ok(await execute(o, "d", data=exact["t"])).parameter_output_values["result"] == (1, 2, 1, 2)

    run(body(), timeout=120)


def test_value_that_cannot_cross_fails_naming_node_parameter_and_type(payload_lib: Path, offline_home: Path) -> None:
    import threading

    async def body() -> None:
        async with build_in_process_orchestrator() as o:  # the codec and bus are the point
            await register(o, payload_lib)
            ok(await o.handle_async(CreateNodeRequest(node_type="Double", node_name="d")))
            result = await execute(o, "d", data=threading.Lock())
            assert not result.succeeded and result.error.type == "ValueTransferError"
            assert "'d'" in result.message and "'data'" in result.message and "lock" in result.message
            ok(await o.handle_async(CreateNodeRequest(node_type="LeakLock", node_name="leak")))
            result = await execute(o, "leak")
            assert not result.succeeded and result.error.type == "ValueTransferError"
            assert "'leak'" in result.message and "'lock'" in result.message and "lock" in result.message.lower()

    run(body(), timeout=120)


def test_strings_of_any_size_cross_up_to_the_limit_and_larger_values_fail_naming_it(
    payload_lib: Path, offline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: any str over 16 MiB closed the connection and counted as a crash of the library."""
    monkeypatch.setenv("NODEISLE_MAX_VALUE_BYTES", str(48 << 20))

    async def body() -> None:
        async with build_in_process_orchestrator() as o:  # the codec and bus are the point
            await register(o, payload_lib)
            ok(await o.handle_async(CreateNodeRequest(node_type="Double", node_name="d")))
            worker = o.libraries["Payloads"].host.worker  # type: ignore[union-attr]
            text = "é\ud800" * (4 << 20)  # 20 MiB of UTF-8, a lone surrogate included: over the old frame limit
            assert ok(await execute(o, "d", data=text)).parameter_output_values["result"] == text * 2
            result = await execute(o, "d", data="x" * (49 << 20))  # an input over the limit
            assert not result.succeeded and result.error.type == "ValueTransferError", result.message
            assert "'d'" in result.message and "'data'" in result.message and "max_value_bytes" in result.message
            result = await execute(o, "d", data="y" * (30 << 20))  # an output over the limit
            assert not result.succeeded and result.error.type == "ValueTransferError", result.message
            assert "'result'" in result.message and str(48 << 20) in result.message
            assert ok(await execute(o, "d", data="ab")).parameter_output_values["result"] == "abab"
            assert o.libraries["Payloads"].host.worker is worker and worker.alive  # type: ignore[union-attr]

    run(body(), timeout=120)


@pytest.mark.parametrize(("how", "reason"), [("exit", "exited with code 7"), ("kill", "killed by SIGKILL")])
def test_worker_death_fails_the_execution_at_once_and_the_next_gets_a_fresh_worker(
    payload_lib: Path, offline_home: Path, how: str, reason: str
) -> None:
    async def body() -> None:
        async with build_orchestrator() as o:
            await register(o, payload_lib)
            ok(await o.handle_async(CreateNodeRequest(node_type="Crash", node_name="c")))
            first = ok(await execute(o, "c", how="live")).parameter_output_values["pid"]
            started = time.monotonic()
            died = await execute(o, "c", how=how)
            assert time.monotonic() - started < 5, "a dead worker must be noticed at once, not by a timeout"
            assert not died.succeeded and died.error.type == "WorkerCrashed"
            assert reason in died.message
            if how == "exit":
                assert "about to exit on purpose" in died.message
            second = ok(await execute(o, "c", how="live")).parameter_output_values["pid"]
            assert second != first

    run(body(), timeout=120)


def test_worker_output_and_logging_reach_the_orchestrator_prefixed(
    payload_lib: Path, offline_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nodeisle.worker")

    async def body() -> str:
        async with build_orchestrator() as o:
            await register(o, payload_lib)
            ok(await o.handle_async(CreateNodeRequest(node_type="Talk", node_name="t")))
            ok(await execute(o, "t"))
            [info] = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            await asyncio.sleep(0.2)
            return str(info.worker_id)

    worker_id = run(body(), timeout=120)
    lines = [r.getMessage() for r in caplog.records if r.name == "nodeisle.worker"]
    for text in ("hello from stdout", "hello from stderr", "hello from logging"):
        assert any(line.startswith(f"Worker-{worker_id} ") and text in line for line in lines), (text, lines)


def test_reloading_a_library_restarts_its_worker(payload_lib: Path, offline_home: Path) -> None:
    async def body() -> None:
        async with build_orchestrator() as o:
            await register(o, payload_lib)
            ok(await o.handle_async(CreateNodeRequest(node_type="Crash", node_name="c")))
            before = ok(await execute(o, "c", how="live")).parameter_output_values["pid"]
            ok(await o.handle_async(ReloadLibraryRequest(library_name="Payloads")))
            after = ok(await execute(o, "c", how="live")).parameter_output_values["pid"]
            assert before != after

    run(body(), timeout=120)


PROBE_NODES = """
import time
import nodeisle
from nodeisle import BaseNode, Parameter
from nodeisle.requests import ListFlowsRequest
class Fine(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("x", type="int", default_value=3, tooltip="an x"))
    def process(self):
        pass
class RaisesInInit(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        raise RuntimeError("cannot construct")
class SlowInit(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        time.sleep(30)
class BusInInit(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        try:
            nodeisle.handle_request(ListFlowsRequest())
        except Exception:
            pass
"""


def test_schema_probe_drops_broken_classes_and_says_why(tmp_path: Path, offline_home: Path) -> None:
    lib = write_library(tmp_path, "Probe", PROBE_NODES, ["Fine", "RaisesInInit", "SlowInit", "BusInInit", "Missing"])

    async def body() -> None:
        async with build_orchestrator(config_flags={"probe_timeout": 1.0}) as o:
            await register(o, lib)
            [info] = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            assert info.node_types == ["Fine"]
            problems = "\n".join(info.problems)
            assert "'RaisesInInit' dropped: __init__ raised RuntimeError: cannot construct" in problems
            assert "'SlowInit' dropped: __init__ did not finish within the probe timeout of 1 s" in problems
            assert "'BusInInit' dropped: reentrant-bus-in-init" in problems
            assert "'Missing' dropped" in problems and "defines no class 'Missing'" in problems
            dropped = {d["class_name"]: d for d in info.dropped}
            assert "RuntimeError: cannot construct" in dropped["RaisesInInit"]["traceback"]
            schema = o.libraries["Probe"].schemas["Fine"]
            assert [(p.name, p.type, p.default_value, p.tooltip) for p in schema.parameters] == [
                ("x", "int", 3, "an x")
            ]

    run(body(), timeout=120)


def test_requests_outside_execution_fail_at_once_instead_of_deadlocking(tmp_path: Path, offline_home: Path) -> None:
    source = PROBE_NODES.replace(
        "class Fine",
        textwrap.dedent("""
        try:
            nodeisle.handle_request(ListFlowsRequest())
            IMPORT_TIME = "answered"
        except Exception as exc:
            IMPORT_TIME = type(exc).__name__
        class Fine""").strip()
        + "(BaseNode):\n    pass\nclass Fine",
        1,
    )
    source += """
class Report(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("import_time", type="str"))
    def process(self):
        self.parameter_output_values["import_time"] = IMPORT_TIME
"""
    lib = write_library(tmp_path, "Import Time", source, ["Report"])

    async def body() -> None:
        async with build_orchestrator() as o:
            await register(o, lib)
            ok(await o.handle_async(CreateNodeRequest(node_type="Report", node_name="r")))
            assert ok(await execute(o, "r")).parameter_output_values["import_time"] == "NotConnectedError"

    run(body(), timeout=60)


def test_workers_die_with_the_orchestrator_even_on_sigkill(
    tmp_path: Path, payload_lib: Path, offline_home: Path
) -> None:
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps({
        "libraries": [str(payload_lib)], "library_modes": {"Payloads": "isolated"},
        "nodes": [{"name": "c", "type": "Crash", "values": {"how": "live"}}, {"name": "slow", "type": "Double"}],
    }))
    script = textwrap.dedent(f"""
        import asyncio, os, sys
        from nodeisle.orchestrator.engine import build_orchestrator
        from nodeisle.flow.workflow import load_workflow, run_workflow
        async def main():
            async with build_orchestrator() as o:
                result = await run_workflow(o, load_workflow({str(workflow)!r}))
                print("WORKER", result.nodes["c"].outputs["pid"], flush=True)
                await asyncio.sleep(60)
        asyncio.run(main())
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("WORKER "), line
        worker_pid = int(line.split()[1])
        os.kill(worker_pid, 0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(worker_pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        pytest.fail(f"worker {worker_pid} outlived its orchestrator")
    finally:
        proc.kill()
        proc.wait()


def test_set_value_on_isolated_node_runs_hooks_in_the_worker(tmp_path: Path, offline_home: Path) -> None:
    from tests.conftest import TEXT_TOOLS

    async def body() -> None:
        async with build_orchestrator() as o:
            await register(o, TEXT_TOOLS)
            ok(await o.handle_async(CreateNodeRequest(node_type="Repeat", node_name="r")))
            bad = await o.handle_async(SetParameterValueRequest(node_name="r", parameter_name="times", value="zero"))
            assert not bad.succeeded and "invalid literal for int()" in bad.message

    run(body(), timeout=60)


ESCAPE_NODES = '''
import nodeisle
from nodeisle import BaseNode, Parameter, ParameterMode
from nodeisle.requests import RegisterLibraryRequest, SetLibraryModeRequest, ReloadLibraryRequest, ListFlowsRequest
class Escape(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("messages", type="list", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        attempts = [SetLibraryModeRequest(library_name="Escapee", mode="shared"),
                    ReloadLibraryRequest(library_name="Escapee"), RegisterLibraryRequest(path="/tmp")]
        messages = []
        for request in attempts:
            try:
                result = nodeisle.handle_request(request)
                messages.append((result.succeeded, result.message))
            except nodeisle.RequestRefused as exc:
                messages.append((False, str(exc)))
        assert nodeisle.handle_request(ListFlowsRequest()).succeeded  # graph reads still work
        self.parameter_output_values["messages"] = messages
'''


def test_node_code_in_a_worker_cannot_move_its_library_out_of_the_worker(tmp_path: Path, offline_home: Path) -> None:
    lib = write_library(tmp_path, "Escapee", ESCAPE_NODES, ["Escape"])

    async def body() -> None:
        async with build_orchestrator() as o:
            await register(o, lib)
            ok(await o.handle_async(CreateNodeRequest(node_type="Escape", node_name="e")))
            messages = ok(await execute(o, "e")).parameter_output_values["messages"]
            assert all(not succeeded and "refused for library 'Escapee' (rule library-management)" in message
                       for succeeded, message in messages), messages
            [info] = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            assert info.effective_mode == "isolated"

    run(body(), timeout=60)
