"""Worker lifecycle pieces that need no process: state machine, exit descriptions, environment."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from nodeisle.orchestrator.workers import WorkerState, describe_exit, next_state, worker_environment


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
