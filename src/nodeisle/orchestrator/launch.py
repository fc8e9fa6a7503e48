"""How a worker is started: the launcher seam.

A :class:`Launcher` turns a worker's interpreter, environment and launch config into a running
:class:`WorkerHandle`. :class:`SubprocessLauncher` (the default) starts the env's interpreter as
``python -I -u -m nodeisle.worker`` in a session of its own and writes the launch config on its
stdin. Other backends plug in here: ``nodeisle.testing.inprocess`` runs the worker runtime inside
the orchestrator's own process and loop (for tests of Isolated semantics); a remote backend (Ray)
would start the worker elsewhere and relay its bus connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from nodeisle.orchestrator.sandbox import SandboxSpec, bwrap_argv, cgroup_join_prefix
from nodeisle.wire.launch import SEALED


class WorkerHandle(Protocol):
    """A started worker, as the orchestrator watches and stops it."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None:
        """None while it runs; then its exit code, or minus the signal that ended it."""
        ...

    @property
    def stdout(self) -> asyncio.StreamReader | None: ...

    @property
    def stderr(self) -> asyncio.StreamReader | None: ...

    async def wait(self) -> int: ...

    def close_stdin(self) -> None:
        """Tell the worker its orchestrator is done with it (it exits on end-of-file)."""
        ...

    def terminate(self) -> None:
        """Ask the worker's tree to end now (SIGTERM to its guard)."""
        ...

    def kill_tree(self) -> None:
        """End the worker and everything it started, unconditionally."""
        ...

    def release(self) -> None:
        """Let go of the worker's pipes, also if something it started still holds their other end."""
        ...


class Launcher(Protocol):
    async def launch(self, python: Path, env: Mapping[str, str], launch: Mapping[str, Any]) -> WorkerHandle:
        """Start a worker; raises OSError when it cannot be started at all."""
        ...


LOGGER = logging.getLogger("nodeisle.worker")
_EXIT_POLL = 0.2  # only while a process the worker started holds its pipes after it exited
_SEAL_TIMEOUT = 60.0  # from exec to the sealed line: an interpreter start, no library code yet


class SubprocessHandle:
    """A worker subprocess; its process group is its session, created at start."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    @property
    def stdout(self) -> asyncio.StreamReader | None:
        return self._process.stdout

    @property
    def stderr(self) -> asyncio.StreamReader | None:
        return self._process.stderr

    async def wait(self) -> int:
        # Process.wait() returns only once every pipe is closed, and a process the node started may
        # hold them after the worker is gone; the exit status is known as soon as the worker exits.
        waiting = asyncio.ensure_future(self._process.wait())
        try:
            while self._process.returncode is None:
                await asyncio.wait({waiting}, timeout=_EXIT_POLL)
        finally:
            waiting.cancel()
        return self._process.returncode

    def close_stdin(self) -> None:
        if self._process.stdin is not None:
            with contextlib.suppress(Exception):
                self._process.stdin.close()

    def terminate(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._process.send_signal(signal.SIGCONT)  # a stopped guard could not act on the SIGTERM
            self._process.send_signal(signal.SIGTERM)

    def kill_tree(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)

    def release(self) -> None:
        transport = getattr(self._process, "_transport", None)  # asyncio's: no public way to close the pipes
        if transport is not None and self._process.returncode is not None:
            transport.close()


async def _sealed_line(stdout: asyncio.StreamReader) -> bool:
    """Read up to the sealed line: True once seen, False at end-of-file (the process exited).

    Lines before it (a ``.pth`` file or ``sitecustomize`` that prints, which ``-I`` does not stop)
    are logged as the worker's output, not taken for a broken handshake.
    """
    while True:
        line = await stdout.readline()
        if not line:
            return False
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if text == SEALED:
            return True
        LOGGER.info("worker output before its start: %s", text)


class SubprocessLauncher:
    """Start the worker on the library env's interpreter, the launch config on its stdin."""

    async def launch(self, python: Path, env: Mapping[str, str], launch: Mapping[str, Any]) -> WorkerHandle:
        # -I: isolated (no user site, no PYTHON* variables); -u: unbuffered, so what node code prints shows
        # as it happens, and os._exit loses none of it.
        return await spawn([str(python), "-I", "-u", "-m", "nodeisle.worker"], env, launch)


class SandboxLauncher:
    """Start the worker under bubblewrap (nodeisle.orchestrator.sandbox), in its cgroup from the first instruction."""

    def __init__(self, bwrap: str, spec: SandboxSpec) -> None:
        self.bwrap = bwrap
        self.spec = spec

    async def launch(self, python: Path, env: Mapping[str, str], launch: Mapping[str, Any]) -> WorkerHandle:
        contained = dict(launch.get("containment") or {})
        procs = [str(p) for p in contained.get("cgroup_procs") or []]  # joined before bwrap: /sys is read-only inside
        inside = {**launch, "containment": {**contained, "cgroup_procs": []}, "sandboxed": True}
        return await spawn([*cgroup_join_prefix(procs), *bwrap_argv(self.bwrap, self.spec, python)], env, inside)


async def spawn(argv: list[str], env: Mapping[str, str], launch: Mapping[str, Any]) -> WorkerHandle:
    """Start ``argv`` (a worker's guard), wait for its sealed line, then write the launch config on its stdin."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
        close_fds=True,
        start_new_session=True,  # its own process group: everything it starts can be killed with it
    )
    assert process.stdin is not None and process.stdout is not None
    # The launch line holds the worker's credential and secrets: it is written only once the worker
    # says it is sealed (non-dumpable, nodeisle.worker.guard), so no other process can read it.
    try:
        sealed = await asyncio.wait_for(_sealed_line(process.stdout), _SEAL_TIMEOUT)
    except TimeoutError:
        SubprocessHandle(process).kill_tree()
        raise OSError(f"the worker did not start within {_SEAL_TIMEOUT:g} s") from None
    if sealed:
        with contextlib.suppress(ConnectionError):
            process.stdin.write((json.dumps(launch) + "\n").encode())
            await process.stdin.drain()  # stdin stays open: its end-of-file tells the worker we are gone
    return SubprocessHandle(process)
