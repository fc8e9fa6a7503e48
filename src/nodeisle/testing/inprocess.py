"""An orchestrator whose Isolated libraries run their worker runtime in its own process and event loop.

The worker runtime, the bus protocol, the codec, admission with per-worker credentials, forwarding,
the authority rules, strict mode in the worker's context, value transfer and deadlines are the real
ones; only the process boundary is replaced: the launcher starts :class:`WorkerRuntime` as a task,
the bus is an in-memory transport (:meth:`WorkerHub.connect_in_memory`), and the library's env is
this interpreter. What needs a real process stays for end-to-end tests: pinned dependencies in their
own venv, crashes and signals, process trees, the worker's ``os.environ``, stdout and stderr relaying,
and terminating a node stuck in a thread (a task can be cancelled; a thread cannot). Also shared with
the test process: ``sys.modules`` and ``sys.path`` (what library code imports stays imported), and the
loop's default executor (plain ``process()`` calls of the orchestrator and its workers share it).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.orchestrator.envs import EnvInfo
from nodeisle.orchestrator.launch import WorkerHandle
from nodeisle.orchestrator.workers import WorkerHub
from nodeisle.worker.runtime import LaunchConfig, WorkerRuntime


class InProcessHandle:
    """A worker runtime running as a task of the orchestrator's loop."""

    def __init__(self, runtime: WorkerRuntime, task: asyncio.Task[int]) -> None:
        self._runtime = runtime
        self._task = task
        self._signal: int | None = None

    @property
    def pid(self) -> int:
        return os.getpid()

    @property
    def returncode(self) -> int | None:
        if not self._task.done():
            return None
        if self._task.cancelled():
            return -(self._signal or signal.SIGKILL)
        return 1 if self._task.exception() is not None else self._task.result()

    @property
    def stdout(self) -> asyncio.StreamReader | None:
        return None

    @property
    def stderr(self) -> asyncio.StreamReader | None:
        return None

    async def wait(self) -> int:
        await asyncio.wait({self._task})  # its outcome is read below; a cancelled waiter is cancelled
        code = self.returncode
        assert code is not None
        return code

    def close_stdin(self) -> None:
        self._runtime.shut_down()  # what end-of-file on stdin does to a worker process

    def terminate(self) -> None:
        self._end(signal.SIGTERM)

    def kill_tree(self) -> None:
        self._end(signal.SIGKILL)

    def release(self) -> None:
        pass

    def _end(self, signum: int) -> None:
        if not self._task.done():
            self._signal = self._signal or signum
            self._task.cancel()


class InProcessLauncher:
    """Starts each worker runtime in this process, connected to ``hub`` in memory."""

    def __init__(self, hub: WorkerHub) -> None:
        self.hub = hub

    async def launch(self, python: Path, env: Mapping[str, str], launch: Mapping[str, Any]) -> WorkerHandle:
        config = LaunchConfig.from_json(json.dumps(launch))
        # The secrets the library may see go into a mapping of its own, not this process's environment.
        runtime = WorkerRuntime(config, connect=self.hub.connect_in_memory, environ=dict(env), own_process=False)
        # A context of its own, as a worker process has: no engine of the orchestrator's is reachable
        # from its library code (requests go over the bus), whatever the caller's context holds.
        task = asyncio.create_task(
            runtime.run(), name=f"worker-runtime-{config.worker_id}", context=contextvars.Context()
        )
        return InProcessHandle(runtime, task)


class InProcessEnvs:
    """Every library's "env" is this interpreter: no venv is built and no pin is installed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure(self, library: str, pip_dependencies: Sequence[str], *_args: Any, **_kwargs: Any) -> EnvInfo:
        return EnvInfo(
            library=library, key="in-process", path=Path(sys.prefix), python=Path(sys.executable), reused=True,
            log_path=self.root / "in-process.log", created_at=time.time(), pip_dependencies=tuple(pip_dependencies),
            pip_install_flags=(),
        )


def build_in_process_orchestrator(home: Path | None = None, **options: Any) -> Orchestrator:
    """:func:`build_orchestrator`, with Isolated libraries' workers running in this process."""
    orchestrator = build_orchestrator(home, **options)
    orchestrator.hub = WorkerHub(orchestrator._handle_from_worker, listen=False)
    orchestrator.launcher = InProcessLauncher(orchestrator.hub)
    orchestrator.envs = InProcessEnvs(orchestrator.home)
    return orchestrator
