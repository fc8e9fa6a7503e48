"""The engine's events: what a subscriber sees of libraries, envs, workers, node statuses and logs."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.orchestrator.events import (
    EnvBuildProgress,
    Event,
    EventBus,
    LibraryChanged,
    LogForwarder,
    LogLine,
    NodeStatusChanged,
    RunFinished,
    WorkerStateChanged,
)
from nodeisle.requests import (
    CreateConnectionRequest,
    CreateFlowRequest,
    CreateNodeRequest,
    RegisterLibraryRequest,
    Result,
    RunFlowRequest,
    SetLibraryModeRequest,
    SetParameterValueRequest,
)
from nodeisle.testing.inprocess import build_in_process_orchestrator
from tests.conftest import run, write_library

NODES = '''
from nodeisle import BaseNode, Parameter, ParameterMode

IN = {ParameterMode.INPUT, ParameterMode.PROPERTY}
OUT = {ParameterMode.OUTPUT}

class Double(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("x", type="int", default_value=1, allowed_modes=IN))
        self.add_parameter(Parameter("y", type="int", allowed_modes=OUT))
    def process(self):
        print("doubling", self.parameter_values["x"])
        self.parameter_output_values["y"] = 2 * self.parameter_values["x"]

class Boom(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("x", type="int", default_value=0, allowed_modes=IN))
        self.add_parameter(Parameter("y", type="int", allowed_modes=OUT))
    def process(self):
        raise ValueError("boom on purpose")
'''


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


async def _flow(o: Orchestrator, library: Path, mode: str) -> None:
    ok(await o.handle_async(RegisterLibraryRequest(path=str(library), mode=mode)))
    ok(await o.handle_async(CreateFlowRequest(flow_name="main")))
    for node_type, name in (("Double", "one"), ("Double", "two"), ("Boom", "boom"), ("Double", "after")):
        ok(await o.handle_async(CreateNodeRequest(node_type=node_type, node_name=name, flow_name="main")))
    ok(await o.handle_async(SetParameterValueRequest(node_name="one", parameter_name="x", value=21)))
    for source, target in (("one", "two"), ("boom", "after")):
        ok(await o.handle_async(CreateConnectionRequest(
            source_node_name=source, source_parameter_name="y", target_node_name=target, target_parameter_name="x")))


def _statuses(events: list[Event], node: str) -> list[str]:
    return [e.status for e in events if isinstance(e, NodeStatusChanged) and e.node == node]


def test_a_run_reports_each_node_queued_running_then_its_result(tmp_path: Path, home: Path) -> None:
    library = write_library(tmp_path, "Event Lib", NODES, ["Double", "Boom"])

    async def body() -> list[Event]:
        events: list[Event] = []
        async with build_orchestrator() as o:
            unsubscribe = o.events.subscribe(events.append)
            await _flow(o, library, "shared")
            await o.handle_async(RunFlowRequest(flow_name="main"))
            unsubscribe()
            await o.handle_async(RunFlowRequest(flow_name="main"))  # not seen: unsubscribed
        return events

    events = run(body())
    assert _statuses(events, "one") == ["queued", "running", "succeeded"]
    assert _statuses(events, "two") == ["queued", "running", "succeeded"]
    assert _statuses(events, "boom") == ["queued", "running", "failed"]
    assert _statuses(events, "after") == ["queued", "skipped"]
    final = {e.node: e for e in events if isinstance(e, NodeStatusChanged) and e.status not in ("queued", "running")}
    assert final["two"].outputs == {"y": 84} and final["two"].flow == "main"
    assert final["boom"].error is not None and final["boom"].error.type == "ValueError"
    assert "boom on purpose" in final["boom"].error.message and "Traceback" in final["boom"].error.traceback
    assert final["after"].error is not None and "'boom'" in final["after"].error.message
    finished = [e for e in events if isinstance(e, RunFinished)]
    assert [(f.flow, f.status) for f in finished] == [("main", "failed")]
    assert finished[0].message == "2 of 4 nodes succeeded"
    libraries = [e for e in events if isinstance(e, LibraryChanged)]
    assert [(e.library.name, e.library.effective_mode, e.library.status) for e in libraries] == [
        ("Event Lib", "shared", "loaded")
    ]
    assert all(isinstance(e.at, float) and e.at > 0 for e in events)


def test_a_mode_change_reports_the_library_and_its_worker_states(tmp_path: Path, offline_home: Path) -> None:
    library = write_library(tmp_path, "Event Lib", NODES, ["Double", "Boom"])

    async def body() -> list[Event]:
        events: list[Event] = []
        async with build_in_process_orchestrator() as o:
            o.events.subscribe(events.append)
            await _flow(o, library, "shared")
            ok(await o.handle_async(SetLibraryModeRequest(library_name="Event Lib", mode="isolated")))
            await o.handle_async(RunFlowRequest(flow_name="main"))
        return events

    events = run(body())
    modes = [e.library.effective_mode for e in events if isinstance(e, LibraryChanged)]
    assert modes == ["shared", "isolated"]
    changed = next(e for e in events if isinstance(e, LibraryChanged) and e.library.effective_mode == "isolated")
    workers = [e for e in events if isinstance(e, WorkerStateChanged)]
    assert [w.state for w in workers][:2] == ["starting", "ready"], workers
    assert workers[0].library == "Event Lib" and workers[0].worker_id == changed.library.worker_id
    assert _statuses(events, "two")[-1] == "succeeded"


def test_a_real_worker_reports_its_env_build_and_its_prints_as_prefixed_log_lines(
    tmp_path: Path, offline_home: Path, caplog: Any
) -> None:
    caplog.set_level(logging.INFO, logger="nodeisle.worker")  # what `nodeisle editor` and `run -v` show
    library = write_library(tmp_path, "Pinned Events", NODES, ["Double", "Boom"], pins=["tinyver==1.0"])

    async def body() -> list[Event]:
        events: list[Event] = []
        async with build_orchestrator() as o:
            o.events.subscribe(events.append)
            detach = LogForwarder(o.events).attach()
            try:
                await _flow(o, library, "isolated")
                await o.handle_async(RunFlowRequest(flow_name="main"))
            finally:
                detach()
        return events

    events = run(body(), timeout=120)
    steps = [e for e in events if isinstance(e, EnvBuildProgress)]
    assert steps and all(s.library == "Pinned Events" for s in steps), steps
    worker = next(e for e in events if isinstance(e, WorkerStateChanged) and e.state == "ready")
    lines = [e.text for e in events if isinstance(e, LogLine)]
    printed = [line for line in lines if "doubling 21" in line]
    assert printed and printed[0].startswith(f"Worker-{worker.worker_id} [Pinned Events] "), lines
    assert _statuses(events, "two")[-1] == "succeeded"


def test_run_upstream_runs_a_node_and_what_it_depends_on_only(tmp_path: Path, home: Path) -> None:
    library = write_library(tmp_path, "Event Lib", NODES, ["Double", "Boom"])

    async def body() -> tuple[list[Event], Any]:
        events: list[Event] = []
        async with build_orchestrator() as o:
            await _flow(o, library, "shared")
            o.events.subscribe(events.append)
            return events, await o.run_upstream("two")

    events, result = run(body())
    assert list(result.nodes) == ["one", "two"] and result.status == "succeeded"
    assert result.nodes["two"].outputs == {"y": 84}
    assert {e.node for e in events if isinstance(e, NodeStatusChanged)} == {"one", "two"}
    assert [(e.flow, e.message) for e in events if isinstance(e, RunFinished)] == [("main", "2 of 2 nodes succeeded")]


def test_a_failing_subscriber_is_logged_and_the_others_still_get_the_event(caplog: Any) -> None:
    bus = EventBus()
    seen: list[Event] = []

    def broken(_event: Event) -> None:
        raise RuntimeError("observer bug")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    event = RunFinished(flow="f", status="succeeded", message="1 of 1 nodes succeeded")
    with caplog.at_level(logging.ERROR, logger="nodeisle.events"):
        bus.emit(event)
    assert seen == [event]
    assert "an event subscriber failed on RunFinished" in caplog.text


def test_log_lines_from_another_thread_reach_the_subscribers() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    logger = logging.getLogger("nodeisle.test_events")
    logger.setLevel(logging.INFO)
    detach = LogForwarder(bus).attach(logger)
    try:
        thread = threading.Thread(target=logger.info, args=("from %s", "a thread"))
        thread.start()
        thread.join(5)
        logger.debug("below the handler's level")
    finally:
        detach()
    logger.info("after detaching")
    assert [(e.logger, e.level, e.text) for e in seen if isinstance(e, LogLine)] == [
        ("nodeisle.test_events", "INFO", "from a thread")
    ]
