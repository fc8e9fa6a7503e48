"""Worker processes: spawn on the library's venv interpreter, admit over the bus, watch, stop.

A worker's lifecycle is an explicit state machine::

    STARTING --ready--> READY --exit--> CRASHED
        |                  |
        +------exit--------+--stop--> STOPPED

Its stdout and stderr are read line by line and logged with a ``Worker-<id>`` prefix; they never
share the bus channel. When the process exits, every request waiting on it fails at once with the
exit code or signal and the last lines of its stderr.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import hmac
import json
import logging
import os
import re
import secrets
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodeisle import logs as _logs
from nodeisle.bus.peer import Peer, RemoteFailure
from nodeisle.bus.protocol import DEFAULT_MAX_ATTACHMENTS, BusProtocol
from nodeisle.config.defaults import PROBE_TIMEOUT
from nodeisle.errors import BusError, LibraryError, WorkerCrashed
from nodeisle.requests import WIRE_TYPES

LOGGER = _logs.guard(logging.getLogger("nodeisle.worker"), _logs.by_text)  # a worker may flood its stderr
STDERR_TAIL_LINES = 20


class WorkerState(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    CRASHED = "crashed"
    STOPPED = "stopped"


_TRANSITIONS: dict[WorkerState, frozenset[WorkerState]] = {
    WorkerState.STARTING: frozenset({WorkerState.READY, WorkerState.CRASHED, WorkerState.STOPPED}),
    WorkerState.READY: frozenset({WorkerState.CRASHED, WorkerState.STOPPED}),
    WorkerState.CRASHED: frozenset(),
    WorkerState.STOPPED: frozenset(),
}


def next_state(current: WorkerState, wanted: WorkerState) -> WorkerState:
    """The state after asking for ``wanted``; a finished worker stays finished."""
    return wanted if wanted in _TRANSITIONS[current] else current


_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR,
           "CRITICAL": logging.CRITICAL}
_RECORD_LINE = re.compile(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")
_CONTINUATION = re.compile(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL)\| ")


def relayed_level(line: str) -> tuple[int, str]:
    """The level of a worker's stderr line and the text to show: a log record keeps its level.

    The worker writes records as ``LEVEL logger: message``, and each further line of a multi-line
    record (a traceback) as ``LEVEL| line``, shown without the marker. Other lines are INFO.
    """
    match = _CONTINUATION.match(line)
    if match:
        return _LEVELS[match[1]], line[match.end() :]
    match = _RECORD_LINE.match(line)
    return (_LEVELS[match[1]], line) if match else (logging.INFO, line)


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (killed: out of memory, or by another process)" if -returncode == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exited with code {returncode}"


# Variables a worker inherits from the orchestrator; everything else is left out (docs/workers.md).
INHERITED_ENV = ("HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "USER", "LOGNAME")


def worker_environment(venv_python: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: os.environ[key] for key in INHERITED_ENV if key in os.environ}
    env["PATH"] = os.pathsep.join([str(venv_python.parent), "/usr/local/bin", "/usr/bin", "/bin"])
    env["VIRTUAL_ENV"] = str(venv_python.parent.parent)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True, repr=False)
class WorkerProvision:
    """What a worker is given when it starts, beyond the base environment: computed at each start.

    ``env`` is added to :func:`worker_environment` (the secrets the library may see); ``launch``
    is added to the launch JSON on stdin. Both may hold secrets, so ``repr`` shows names only.
    """

    env: Mapping[str, str] = field(default_factory=dict)
    launch: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"WorkerProvision(env={sorted(self.env)}, launch={sorted(self.launch)})"


@dataclass(frozen=True)
class ReadyInfo:
    pid: int
    python: str
    schemas: list[dict[str, Any]]
    dropped: list[dict[str, str]]
    violations: list[dict[str, str]]
    io_events: list[dict[str, Any]] = field(default_factory=list)  # I/O seen in __init__ during the probe


class WorkerProcess:
    """One worker subprocess serving one library."""

    def __init__(
        self,
        library: str,
        python: Path,
        manifest: Path,
        *,
        worker_id: str | None = None,
        probe_timeout: float = PROBE_TIMEOUT,
        env: Mapping[str, str] | None = None,
        launch_extra: Mapping[str, Any] | None = None,
        max_value_bytes: int = DEFAULT_MAX_ATTACHMENTS,
    ) -> None:
        self.library = library
        self.python = python
        self.manifest = manifest
        self.worker_id = worker_id or secrets.token_hex(2)
        self.probe_timeout = probe_timeout
        self.max_value_bytes = max_value_bytes  # both ends of its bus connection enforce it
        self.env = dict(env) if env is not None else worker_environment(python)
        # More launch-config fields (may hold secrets: they go on stdin only, and are never logged).
        self._launch_extra = dict(launch_extra or {})
        self.state = WorkerState.STARTING
        self.process: asyncio.subprocess.Process | None = None
        self.peer: Peer | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._ready: asyncio.Future[ReadyInfo] = asyncio.get_running_loop().create_future()
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pumps: list[asyncio.Task[None]] = []
        self._watcher: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self.stop_reason: str | None = None  # why the orchestrator stopped this worker, if it did

    @property
    def prefix(self) -> str:
        return f"Worker-{self.worker_id}"

    def _set_state(self, wanted: WorkerState) -> None:
        self.state = next_state(self.state, wanted)

    async def start(self, bus_url: str, token: str, timeout: float) -> ReadyInfo:
        """Spawn the process and wait until it has connected and sent its schema."""
        try:
            self.process = await asyncio.create_subprocess_exec(
                str(self.python),
                "-I",  # isolated: no user site, no PYTHON* variables
                "-u",  # unbuffered: what node code prints shows as it happens, and os._exit loses none of it
                "-m",
                "nodeisle.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
                close_fds=True,
                start_new_session=True,  # its own process group: everything it starts can be killed with it
            )
        except OSError as exc:  # e.g. the env's interpreter is gone, or no file descriptors left
            self.stop_reason = f"could not be started ({exc.strerror or exc}: {self.python})"
            self._set_state(WorkerState.CRASHED)
            raise LibraryError(self.library, f"{self.prefix} {self.stop_reason}") from None
        launch = {
            **self._launch_extra,  # first: it never replaces the fields below
            "url": bus_url,
            "token": token,
            "worker_id": self.worker_id,
            "manifest": str(self.manifest),
            "probe_timeout": self.probe_timeout,
            "max_value_bytes": self.max_value_bytes,
            "parent_pid": os.getpid(),
            "log_level": logging.getLevelName(LOGGER.getEffectiveLevel()),
        }
        assert self.process.stdin is not None and self.process.stdout is not None and self.process.stderr is not None
        self.process.stdin.write((json.dumps(launch) + "\n").encode())
        await self.process.stdin.drain()  # stdin stays open: its EOF tells the worker we are gone
        self._pumps = [
            asyncio.create_task(self._pump(self.process.stdout, keep=False)),
            asyncio.create_task(self._pump(self.process.stderr, keep=True)),
        ]
        self._watcher = asyncio.create_task(self._watch())
        waiting: set[asyncio.Future[Any]] = {self._ready, self._exited}
        done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if self._ready in done:
            self._set_state(WorkerState.READY)
            return self._ready.result()
        if self._exited in done:
            raise LibraryError(self.library, f"{self.prefix} failed to start: {await self._crash_text()}")
        # Counted as a crash, so a library whose start always hangs backs off and is finally marked failed.
        self.stop_reason = f"was not ready within {timeout:g} s (import or schema probe too slow)"
        self._set_state(WorkerState.CRASHED)
        await self.stop()
        raise LibraryError(self.library, f"{self.prefix} {self.stop_reason}")

    async def _pump(self, stream: asyncio.StreamReader, keep: bool) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than the stream limit
                raw = await stream.read(65536)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if keep:
                self.stderr_tail.append(line)
            level, text = relayed_level(line) if keep else (logging.INFO, line)
            LOGGER.log(level, "%s [%s] %s", self.prefix, self.library, text)

    async def _watch(self) -> None:
        assert self.process is not None
        code = await self.process.wait()
        if self.state is not WorkerState.STOPPED:
            self._set_state(WorkerState.CRASHED)
            LOGGER.warning("%s [%s] %s", self.prefix, self.library, describe_exit(code))
        if not self._exited.done():
            self._exited.set_result(code)
        if self.peer is not None:
            await self.peer.close()

    async def _crash_text(self) -> str:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._pumps), 2)
        reason = describe_exit(self.process.returncode if self.process else None)
        tail = "\n".join(self.stderr_tail)
        return f"{reason}" + (f"; last lines of its stderr:\n{tail}" if tail else "")

    async def crash_error(self) -> WorkerCrashed:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._pumps), 2)
        code = self.process.returncode if self.process else None
        if self.process is None:
            reason = self.stop_reason or "did not start"
        elif self.stop_reason:
            reason = f"{self.stop_reason} ({describe_exit(code)})"
        else:
            reason = describe_exit(code)
        return WorkerCrashed(self.library, self.worker_id, reason, "\n".join(self.stderr_tail))

    # -- bus side ---------------------------------------------------------------------------------
    async def attach(self, peer: Peer) -> None:
        """Called by the hub when this worker's connection is admitted."""
        self.peer = peer

    def deliver_ready(self, payload: Mapping[str, Any]) -> None:
        if not self._ready.done():
            self._ready.set_result(
                ReadyInfo(
                    pid=int(payload.get("pid", 0)),
                    python=str(payload.get("python", "")),
                    schemas=list(payload.get("schemas", [])),
                    dropped=list(payload.get("dropped", [])),
                    violations=list(payload.get("violations", [])),
                    io_events=list(payload.get("io_events", [])),
                )
            )

    @property
    def alive(self) -> bool:
        return self.state in (WorkerState.STARTING, WorkerState.READY) and not self._exited.done()

    async def request(self, name: str, payload: Any, timeout: float | None = None) -> Any:
        """Send a request; fails at once with WorkerCrashed if the process dies meanwhile."""
        if not self.alive or self.peer is None:
            raise await self.crash_error() if self._exited.done() else BusError(f"{self.prefix} is not connected")
        # No extra task per request: when the process exits, its watcher closes the peer, which fails
        # every pending request at once; the BusError is then turned into the crash's reason.
        try:
            return await self.peer.request(name, payload, timeout)
        except RemoteFailure:
            raise
        except BusError:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._exited), 2)
            if self._exited.done():
                raise await self.crash_error() from None
            raise

    def start_heartbeat(self, interval: float, timeout: float) -> None:
        """Ping the worker every ``interval`` s; one that misses a ping by ``timeout`` s is stopped."""
        self._heartbeat = asyncio.create_task(self._beat(interval, timeout), name=f"{self.prefix}-heartbeat")

    async def _beat(self, interval: float, timeout: float) -> None:
        while self.alive:
            await asyncio.sleep(interval)
            if not self.alive:
                return
            try:
                await self.request("_ping", None, timeout=timeout)
            except TimeoutError:
                LOGGER.warning("%s [%s] did not answer a heartbeat within %g s; replacing it",
                               self.prefix, self.library, timeout)
                self.stop_reason = f"stopped answering heartbeats (no answer within {timeout:g} s)"
                await self.stop(urgent=True)
                return
            except BusError:
                return  # the process is gone; its watcher reports why

    async def stop(self, grace: float = 3.0, *, urgent: bool = False) -> None:
        """End the worker and every process it started; no process is left behind.

        Politely first: close the bus and stdin, and let it exit. Then SIGTERM to the guard, which
        kills everything below it (nodeisle.worker.guard), then SIGKILL to the whole process group.
        ``urgent`` (a deadline overran, a heartbeat was missed: the worker may be stuck holding the
        GIL) skips the polite steps, so the tree is gone within a fraction of a second.
        """
        self._set_state(WorkerState.STOPPED)
        if self._heartbeat is not None and self._heartbeat is not asyncio.current_task():
            self._heartbeat.cancel()
        if self.peer is not None and not urgent:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.peer.close(), grace)
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            if process.stdin is not None:
                with contextlib.suppress(Exception):
                    process.stdin.close()
            steps = [(signal.SIGTERM, _URGENT_GRACE)] if urgent else [(None, grace), (signal.SIGTERM, grace)]
            for sig, wait in steps:
                if sig is not None:
                    with contextlib.suppress(ProcessLookupError):
                        process.send_signal(sig)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), wait)
                    break
        _kill_group(process.pid)  # whatever is left in its group (the guard itself, if it did not answer)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 5.0)
        if self.peer is not None and urgent:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.peer.close(), grace)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._pumps), 2)


_URGENT_GRACE = 0.5  # seconds the guard gets to end the tree before the group is killed outright


def _kill_group(pgid: int) -> None:
    """SIGKILL the process group ``pgid`` (a worker's session); nothing if it is empty."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


Connect = Callable[[Any, str], Awaitable[None]]
_NO_CREDENTIAL = secrets.token_urlsafe(32)  # what an unknown worker id is compared against


class WorkerHub:
    """The orchestrator's bus: one server; each worker admitted with its own single-use credential.

    :meth:`register` issues a worker its credential, bound to that worker's id (and so to its
    library). The bus admits a connection only if it names a registered worker id and presents
    that worker's credential; the credential is claimed by the first connection admitted with it
    and dies with its worker (:meth:`unregister`), so neither a replay nor another library's code
    holding it can take the worker's place.
    """

    def __init__(self, handler: Callable[[WorkerProcess, str, Any], Awaitable[Any]]) -> None:
        self._handler = handler
        self._workers: dict[str, WorkerProcess] = {}
        self._credentials: dict[str, str] = {}  # worker id -> its unclaimed credential
        self._server: Any = None
        self.url = ""

    def __repr__(self) -> str:
        return f"WorkerHub(url={self.url!r}, workers={sorted(self._workers)})"

    async def ensure_started(self) -> None:
        if self._server is None:
            from nodeisle.bus import ws

            self._server = await ws.serve(self._authorize, self._on_connect)
            self.url = self._server.url

    def register(self, worker: WorkerProcess) -> str:
        """Add ``worker`` and return the credential it must present (give it on stdin only)."""
        while worker.worker_id in self._workers:
            worker.worker_id = secrets.token_hex(2)
        self._workers[worker.worker_id] = worker
        credential = self._credentials[worker.worker_id] = secrets.token_urlsafe(32)
        return credential

    def unregister(self, worker: WorkerProcess) -> None:
        if self._workers.get(worker.worker_id) is worker:
            del self._workers[worker.worker_id]
            self._credentials.pop(worker.worker_id, None)

    def _authorize(self, worker_id: str, offered: str) -> bool:
        expected = self._credentials.get(worker_id)
        # Compared in constant time even for an unknown id, so timing tells nothing about which ids exist.
        valid = hmac.compare_digest(offered.encode(), (expected or _NO_CREDENTIAL).encode())
        return valid and expected is not None

    async def _on_connect(self, transport: Any, worker_id: str) -> None:
        worker = self._workers.get(worker_id)
        if worker is None or worker.peer is not None or self._credentials.pop(worker_id, None) is None:
            LOGGER.warning("bus: refused a connection for unknown or already connected worker %r", worker_id)
            await transport.close()
            return

        async def handle(name: str, payload: Any) -> Any:
            if name == "_ready":
                worker.deliver_ready(payload)
                return None
            return await self._handler(worker, name, payload)

        protocol = BusProtocol(max_attachments=worker.max_value_bytes)
        peer = Peer(transport, handle, wire_types=WIRE_TYPES, protocol=protocol, name=f"orchestrator<->{worker.prefix}")
        await worker.attach(peer)
        peer.start()
        await peer.closed

    async def close(self) -> None:
        for worker in list(self._workers.values()):
            await worker.stop()
        self._workers.clear()
        if self._server is not None:
            await self._server.close()
            self._server = None
