"""Worker lifecycle: the state machine, exit descriptions and environment; then output relayed from real workers."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path

import pytest

from nodeisle.orchestrator.engine import build_orchestrator
from nodeisle.orchestrator.relay import describe_exit, relayed_level
from nodeisle.orchestrator.workers import WorkerState, next_state, worker_environment
from nodeisle.requests import CreateNodeRequest, ExecuteNodeRequest, RegisterLibraryRequest
from tests.conftest import run, write_library


@pytest.mark.parametrize(
    ("current", "wanted", "expected"),
    [
        (WorkerState.STARTING, WorkerState.READY, WorkerState.READY),
        (WorkerState.STARTING, WorkerState.CRASHED, WorkerState.CRASHED),
        (WorkerState.READY, WorkerState.CRASHED, WorkerState.CRASHED),
        (WorkerState.READY, WorkerState.STOPPED, WorkerState.STOPPED),
        (WorkerState.READY, WorkerState.STARTING, WorkerState.READY),
        (WorkerState.CRASHED, WorkerState.READY, WorkerState.CRASHED),
        (WorkerState.STOPPED, WorkerState.CRASHED, WorkerState.STOPPED),
    ],
)
def test_worker_states_only_move_forward(current: WorkerState, wanted: WorkerState, expected: WorkerState) -> None:
    assert next_state(current, wanted) is expected


def test_exit_descriptions_name_the_code_or_the_signal() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-signal.SIGKILL).startswith("killed by SIGKILL (killed: out of memory")
    assert describe_exit(-signal.SIGSEGV) == "killed by SIGSEGV"


def test_worker_environment_does_not_inherit_the_orchestrators_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = worker_environment(Path("/envs/lib/bin/python"))
    assert "OPENAI_API_KEY" not in env and "PYTHONPATH" not in env
    assert env["PATH"].split(":")[0] == "/envs/lib/bin" and env["VIRTUAL_ENV"] == "/envs/lib"


@pytest.mark.parametrize(
    ("line", "level", "text"),
    [
        ("ERROR nodeisle.strict_mode: bad", logging.ERROR, "ERROR nodeisle.strict_mode: bad"),
        ("WARNING my.lib: careful", logging.WARNING, "WARNING my.lib: careful"),
        ("ERROR|   File \"x.py\", line 3", logging.ERROR, '  File "x.py", line 3'),
        ("printed to stderr", logging.INFO, "printed to stderr"),
        ("WARNINGS are plain text", logging.INFO, "WARNINGS are plain text"),
    ],
)
def test_a_relayed_line_keeps_the_level_of_the_record_it_belongs_to(line: str, level: int, text: str) -> None:
    assert relayed_level(line) == (level, text)


TALK_NODES = """
import logging, os, time
from nodeisle import BaseNode, Parameter, ParameterMode
class Chatty(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("flag", type="str", default_value="", allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("done", type="bool", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        print("first line, printed without flush")
        logging.getLogger("my.library").error("an error record\\nwith a second line")
        for _ in range(20):
            logging.getLogger("my.library").warning("the same warning, again and again")
        deadline = time.monotonic() + 30
        while not os.path.exists(self.parameter_values["flag"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.parameter_output_values["done"] = True
"""


def test_what_an_isolated_node_prints_shows_as_it_happens_and_log_records_keep_their_level(
    tmp_path: Path, offline_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: -I ignored PYTHONUNBUFFERED, so print() showed only when the worker exited (or never),
    and every worker line was re-logged as INFO, hiding an Isolated ERROR at Python's default level."""
    caplog.set_level(logging.INFO)
    library = write_library(tmp_path, "Chatter", TALK_NODES, ["Chatty"])
    flag = tmp_path / "flag"

    async def body() -> None:
        async with build_orchestrator() as o:
            assert (await o.handle_async(RegisterLibraryRequest(path=str(library), mode="isolated"))).succeeded
            assert (await o.handle_async(CreateNodeRequest(node_type="Chatty", node_name="c"))).succeeded
            running = asyncio.create_task(o.handle_async(ExecuteNodeRequest(node_name="c",
                                                                            parameter_values={"flag": str(flag)})))
            deadline = time.monotonic() + 20
            while not any("first line, printed without flush" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline, "the printed line never arrived while the node ran"
                assert not running.done(), "the node finished before its output was seen"
                await asyncio.sleep(0.05)
            flag.write_text("go")
            assert (await running).succeeded

    run(body(), timeout=60)
    relayed = [r for r in caplog.records if r.name == "nodeisle.worker" and "Worker-" in r.getMessage()]
    printed = [r for r in relayed if "first line, printed without flush" in r.getMessage()]
    assert printed and printed[0].levelno == logging.INFO
    errors = [r for r in relayed if r.levelno == logging.ERROR]
    assert any("an error record" in r.getMessage() for r in errors)
    assert any(r.getMessage().endswith("with a second line") for r in errors)  # the record's second line too
    floods = [r for r in relayed if "the same warning, again and again" in r.getMessage()]
    assert all(r.levelno == logging.WARNING for r in floods) and 1 <= len(floods) <= 10, len(floods)
