"""The in-process wiring: an orchestrator and its workers' runtimes in one process, with the real protocol."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nodeisle.errors import HandshakeRefused
from nodeisle.orchestrator.workers import MEMORY_URL, WorkerHub
from nodeisle.requests import CreateNodeRequest, ExecuteNodeRequest, RegisterLibraryRequest
from nodeisle.testing.inprocess import build_in_process_orchestrator
from tests.conftest import run, write_library

NODES = '''
import asyncio, os
import nodeisle
from nodeisle import BaseNode, Parameter, ParameterMode
from nodeisle.requests import SetConfigValueRequest
class Where(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("pid", type="int", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        self.parameter_output_values["pid"] = os.getpid()
class Meddle(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("done", type="bool", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        nodeisle.handle_request(SetConfigValueRequest(key="offline", value=True))
class Sleepy(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("done", type="bool", allowed_modes={ParameterMode.OUTPUT}))
    async def aprocess(self):
        await asyncio.sleep(30)
'''


def test_an_isolated_library_runs_in_this_process_with_the_worker_rules(tmp_path: Path, home: Path) -> None:
    library = write_library(tmp_path, "In Process", NODES, ["Where", "Meddle", "Sleepy"])

    async def body() -> None:
        async with build_in_process_orchestrator() as o:
            registered = await o.handle_async(RegisterLibraryRequest(path=str(library), mode="isolated"))
            assert registered.succeeded, registered.message
            worker = o.libraries["In Process"].host.worker  # type: ignore[union-attr]
            assert worker.peer is not None and o.hub.url == MEMORY_URL
            for name in ("Where", "Meddle", "Sleepy"):
                assert (await o.handle_async(CreateNodeRequest(node_type=name, node_name=name.lower()))).succeeded
            where = await o.handle_async(ExecuteNodeRequest(node_name="where"))
            assert where.parameter_output_values == {"pid": os.getpid()}
            meddle = await o.handle_async(ExecuteNodeRequest(node_name="meddle"))  # the authority rules apply
            assert meddle.error is not None and meddle.error.type == "RequestRefused" and "engine-config" in meddle.message
            sleepy = await o.handle_async(ExecuteNodeRequest(node_name="sleepy", node_metadata={"timeout": 0.2}))
            assert sleepy.error is not None and sleepy.error.type == "DeadlineExceeded"
            assert "cancelled cooperatively" in sleepy.message  # the worker's loop answered: it keeps serving
            assert (await o.handle_async(ExecuteNodeRequest(node_name="where"))).succeeded

    run(body(), timeout=30)


def test_in_memory_admission_needs_the_workers_own_credential() -> None:
    async def body() -> None:
        async def handler(*_args: object) -> None:
            return None

        hub = WorkerHub(handler, listen=False)
        await hub.ensure_started()
        with pytest.raises(HandshakeRefused, match="401"):
            await hub.connect_in_memory(MEMORY_URL, "not-a-credential", "abcd")
        await hub.close()

    run(body(), timeout=10)


IMPORT_TIME_NODES = '''
import nodeisle
from nodeisle import BaseNode, Parameter, ParameterMode
from nodeisle.requests import SetConfigValueRequest
try:  # library code at import time: a worker has no engine to reach
    nodeisle.handle_request(SetConfigValueRequest(key="offline", value=True))
    SEEN = "reached the engine"
except Exception as exc:
    SEEN = type(exc).__name__
class Seen(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("seen", type="str", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        self.parameter_output_values["seen"] = SEEN
'''


def test_an_in_process_worker_does_not_inherit_the_callers_engine(tmp_path: Path, home: Path) -> None:
    """Regression (review): the runtime task copied the caller's context, so library code reached the engine."""
    library = write_library(tmp_path, "Import Time", IMPORT_TIME_NODES, ["Seen"])

    async def body() -> None:
        async with build_in_process_orchestrator() as o:
            with o.activated():  # a script that made this orchestrator reachable from its context
                assert (await o.handle_async(RegisterLibraryRequest(path=str(library), mode="isolated"))).succeeded
            assert (await o.handle_async(CreateNodeRequest(node_type="Seen", node_name="seen"))).succeeded
            seen = await o.handle_async(ExecuteNodeRequest(node_name="seen"))
            assert seen.parameter_output_values == {"seen": "NotConnectedError"}
            assert o.shared_state.config.get("offline") is False

    run(body(), timeout=30)


def test_a_worker_answering_with_the_wrong_message_fails_the_node_not_the_engine(tmp_path: Path, home: Path) -> None:
    """A hostile or broken worker: its answer is checked against the message's answer type."""
    from nodeisle.wire.messages import Execute

    library = write_library(tmp_path, "In Process", NODES, ["Where", "Meddle", "Sleepy"])

    async def body() -> None:
        async with build_in_process_orchestrator() as o:
            assert (await o.handle_async(RegisterLibraryRequest(path=str(library), mode="isolated"))).succeeded
            assert (await o.handle_async(CreateNodeRequest(node_type="Where", node_name="where"))).succeeded
            runtime = o.libraries["In Process"].host.worker.process._runtime  # type: ignore[union-attr]

            async def forged(_message: object) -> str:
                return "outputs: all fine"

            runtime._handlers[Execute] = forged
            result = await o.handle_async(ExecuteNodeRequest(node_name="where"))
            assert not result.succeeded and result.error is not None and result.error.type == "ProtocolError"
            assert "answered Execute with str, not Executed" in result.message

    run(body(), timeout=30)
