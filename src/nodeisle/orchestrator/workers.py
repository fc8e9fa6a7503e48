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
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodeisle import logs as _logs
from nodeisle.bus.peer import FrameTransport, Peer, RemoteFailure, memory_pair
from nodeisle.bus.protocol import DEFAULT_MAX_ATTACHMENTS, BusProtocol
from nodeisle.config.defaults import PROBE_TIMEOUT
from nodeisle.errors import BusError, HandshakeRefused, LibraryError, ProtocolError, WorkerCrashed
from nodeisle.orchestrator.cgroups import Containment
from nodeisle.orchestrator.launch import Launcher, SubprocessLauncher, WorkerHandle
from nodeisle.orchestrator.relay import describe_exit as describe_exit
from nodeisle.orchestrator.relay import printable
from nodeisle.orchestrator.relay import relayed_level as relayed_level
from nodeisle.orchestrator.supervision import Heartbeat
from nodeisle.wire.messages import BUS_TYPES, Ping, Ready

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
    **dict.fromkeys((WorkerState.CRASHED, WorkerState.STOPPED), frozenset()),
}


def next_state(current: WorkerState, wanted: WorkerState) -> WorkerState:
    """The state after asking for ``wanted``; a finished worker stays finished."""
    return wanted if wanted in _TRANSITIONS[current] else current


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
        launcher: Launcher | None = None,
        containment: Containment | None = None,
    ) -> None:
        self.library = library
        self.containment = containment  # its cgroup and limits (nodeisle.orchestrator.cgroups), if contained
        self.launcher: Launcher = launcher or SubprocessLauncher()
        self.python = python
        self.manifest = manifest
        self.worker_id = worker_id or secrets.token_hex(2)
        self.probe_timeout = probe_timeout
        self.max_value_bytes = max_value_bytes  # both ends of its bus connection enforce it
        self.env = dict(env) if env is not None else worker_environment(python)
        # More launch-config fields (may hold secrets: they go on stdin only, and are never logged).
        self._launch_extra = dict(launch_extra or {})
        self.state = WorkerState.STARTING
        self.process: WorkerHandle | None = None
        self.peer: Peer | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._ready: asyncio.Future[Ready] = asyncio.get_running_loop().create_future()
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pumps: list[asyncio.Task[None]] = []
        self._watcher: asyncio.Task[None] | None = None
        self._releasing: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self.stop_reason: str | None = None  # why the orchestrator stopped this worker, if it did
        #: Told each change of ``state`` (the hub sets it when the worker is registered: the engine's events).
        self.state_listener: Callable[[WorkerProcess], None] | None = None

    @property
    def prefix(self) -> str:
        return f"Worker-{self.worker_id}"

    def _set_state(self, wanted: WorkerState) -> None:
        before, self.state = self.state, next_state(self.state, wanted)
        if self.state is not before and self.state_listener is not None:
            self.state_listener(self)

    async def start(self, bus_url: str, token: str, timeout: float) -> Ready:
        """Launch the worker and wait until it has connected and sent its schema."""
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
        try:
            if self.containment is not None:
                launch["containment"] = self.containment.prepare(self.worker_id)
            self.process = await self.launcher.launch(self.python, self.env, launch)
        except OSError as exc:  # e.g. the env's interpreter is gone, or no file descriptors left
            self.containment and self.containment.close()  # its cgroup is not left behind
            self.stop_reason = f"could not be started ({exc.strerror or exc}: {self.python})"
            self._set_state(WorkerState.CRASHED)
            raise LibraryError(self.library, f"{self.prefix} {self.stop_reason}") from None
        self._pumps = [
            asyncio.create_task(self._pump(stream, keep=keep))
            for stream, keep in ((self.process.stdout, False), (self.process.stderr, True))
            if stream is not None
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
            line = printable(raw.decode("utf-8", "replace").rstrip("\r\n"))
            if keep:
                self.stderr_tail.append(line)
            level, text = relayed_level(line) if keep else (logging.INFO, line)
            LOGGER.log(level, "%s [%s] %s", self.prefix, self.library, text)

    async def _watch(self) -> None:
        assert self.process is not None
        code = await self.process.wait()
        # What is left of its tree (it died without its guard's cleanup) would hold its pipes open.
        self.process.kill_tree()
        if self.containment is not None:  # what its cgroup counted is kept for the crash report
            await asyncio.to_thread(self.containment.close)
        self._releasing = asyncio.create_task(self._release_when_read())
        if self.state is not WorkerState.STOPPED:
            self._set_state(WorkerState.CRASHED)
            LOGGER.warning("%s [%s] %s", self.prefix, self.library, describe_exit(code))
        if not self._exited.done():
            self._exited.set_result(code)
        if self.peer is not None:
            await self.peer.close()

    async def released(self) -> None:
        """Wait until an exited worker's pipes were let go of (bounded); nothing for a live one."""
        if self._releasing is not None:
            await asyncio.wait({self._releasing}, timeout=6.0)

    async def _release_when_read(self) -> None:
        """Once its output is read (or a few seconds passed), let go of an exited worker's pipes."""
        await self._drain_pumps(5.0)
        if self.process is not None:
            self.process.release()

    async def _drain_pumps(self, timeout: float = 2.0) -> None:
        """Let the output readers finish (bounded): a process the node started may hold the pipes open.

        Waits without cancelling them, so a later call waits again rather than failing."""
        if self._pumps:
            await asyncio.wait(self._pumps, timeout=timeout)

    async def _crash_text(self) -> str:
        await self._drain_pumps()
        reason = describe_exit(self.process.returncode if self.process else None)
        tail = "\n".join(self.stderr_tail)
        return f"{reason}" + (f"; last lines of its stderr:\n{tail}" if tail else "")

    async def crash_error(self) -> WorkerCrashed:
        await self._drain_pumps()
        code = self.process.returncode if self.process else None
        attributed = self.containment.crash_reason() if self.containment is not None else None
        if self.process is None:
            reason = self.stop_reason or "did not start"
        elif attributed:
            reason = f"{attributed} ({describe_exit(code)})"
        elif self.stop_reason:
            reason = f"{self.stop_reason} ({describe_exit(code)})"
        else:
            reason = describe_exit(code)
        return WorkerCrashed(self.library, self.worker_id, reason, "\n".join(self.stderr_tail))

    # -- bus side ---------------------------------------------------------------------------------
    async def attach(self, peer: Peer) -> None:
        """Called by the hub when this worker's connection is admitted."""
        self.peer = peer

    def deliver_ready(self, ready: Ready) -> None:
        if not self._ready.done():
            self._ready.set_result(ready)

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
            answer = await self.peer.request(name, payload, timeout)
        except RemoteFailure:
            raise
        except BusError:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._exited), 2)
            if self._exited.done():
                raise await self.crash_error() from None
            raise
        expected = getattr(type(payload), "answer_type", None)  # a message says what answers it
        if expected is not None and not isinstance(answer, expected):
            raise ProtocolError(f"{self.prefix} answered {name} with {type(answer).__name__}, not {expected.__name__}")
        return answer

    def start_heartbeat(self, interval: float, timeout: float) -> None:
        """Ping the worker every ``interval`` s; one that misses a ping by ``timeout`` s is stopped."""
        self._heartbeat = asyncio.create_task(self._beat(interval, timeout), name=f"{self.prefix}-heartbeat")

    async def _beat(self, interval: float, timeout: float) -> None:
        """Send the pings the :class:`Heartbeat` asks for; stop the worker when it says to replace it."""
        beat = Heartbeat(interval, timeout, time.monotonic())
        while self.alive:
            await asyncio.sleep(beat.wait(time.monotonic()))
            if not self.alive:
                return
            try:
                await self.request("Ping", Ping(), timeout=beat.ping(time.monotonic()))
            except TimeoutError:
                replace = beat.missed()
                LOGGER.warning("%s [%s] did not answer a heartbeat within %g s; replacing it",
                               self.prefix, self.library, timeout)
                self.stop_reason = self.stop_reason or replace.reason
                await self.stop(urgent=True)
                return
            except BusError:
                return  # the process is gone; its watcher reports why
            beat.answered(time.monotonic())

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
            process.close_stdin()
            steps = [(True, _URGENT_GRACE)] if urgent else [(False, grace), (True, grace)]
            for terminate, wait in steps:
                if terminate:
                    process.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), wait)
                    break
        process.kill_tree()  # whatever is left in its group (the guard itself, if it did not answer)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 5.0)
        if self.peer is not None and urgent:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.peer.close(), grace)
        if self.containment is not None:  # its cgroup is gone when stop() returns
            await asyncio.to_thread(self.containment.close)
        await self._drain_pumps()
        process.release()


_URGENT_GRACE = 0.5  # seconds the guard gets to end the tree before the group is killed outright


Connect = Callable[[Any, str], Awaitable[None]]
_NO_CREDENTIAL = secrets.token_urlsafe(32)  # what an unknown worker id is compared against
MEMORY_URL = "memory://bus"  # the hub's address for workers connected in memory


class WorkerHub:
    """The orchestrator's bus: one server; each worker admitted with its own single-use credential.

    :meth:`register` issues a worker its credential, bound to that worker's id (and so to its
    library). The bus admits a connection only if it names a registered worker id and presents
    that worker's credential; the credential is claimed by the first connection admitted with it
    and dies with its worker (:meth:`unregister`), so neither a replay nor another library's code
    holding it can take the worker's place.
    """

    def __init__(self, handler: Callable[[WorkerProcess, str, Any], Awaitable[Any]], *, listen: bool = True) -> None:
        self._handler = handler
        #: Given to each registered worker: told its state changes (the orchestrator emits them as events).
        self.state_listener: Callable[[WorkerProcess], None] | None = None
        self._listen = listen  # False: workers connect in memory only (connect_in_memory), no socket
        self._workers: dict[str, WorkerProcess] = {}
        self._credentials: dict[str, str] = {}  # worker id -> its unclaimed credential
        self._server: Any = None
        self.unix: Any = None  # the bus on a Unix socket, for sandboxed workers without network
        self._connections: set[asyncio.Task[None]] = set()
        self._retired: set[WorkerProcess] = set()  # replaced workers whose pipes may still be draining
        self.url = ""

    def __repr__(self) -> str:
        return f"WorkerHub(url={self.url!r}, workers={sorted(self._workers)})"

    async def ensure_started(self) -> None:
        if not self._listen:
            self.url = MEMORY_URL
        elif self._server is None:
            from nodeisle.bus import ws

            self._server = await ws.serve(self._authorize, self._on_connect)
            self.url = self._server.url

    async def serve_unix(self, path: str) -> str:
        """Also listen on the Unix socket ``path`` (once): the bus URL of sandboxed workers without network."""
        from nodeisle.bus import ws
        if self.unix is None:
            self.unix = await ws.serve(self._authorize, self._on_connect, unix_path=path)
        return str(self.unix.url)

    async def connect_in_memory(self, url: str, credential: str, worker_id: str) -> FrameTransport:
        """A worker's connection without a socket, admitted exactly like one over the WebSocket.

        The connector of a worker runtime running in this process (nodeisle.testing.inprocess).
        """
        if url != MEMORY_URL or not self._authorize(worker_id, credential):
            LOGGER.warning("bus: refused an in-memory connection for worker %r: wrong credential", worker_id)
            raise HandshakeRefused(
                "the orchestrator refused the connection: HTTP 401: nodeisle bus: missing or wrong token"
            )
        ours, theirs = memory_pair()
        task = asyncio.create_task(self._on_connect(ours, worker_id), name=f"bus-memory-{worker_id}")
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)
        return theirs

    def register(self, worker: WorkerProcess) -> str:
        """Add ``worker`` and return the credential it must present (give it on stdin only)."""
        while worker.worker_id in self._workers:
            worker.worker_id = secrets.token_hex(2)
        self._workers[worker.worker_id] = worker
        worker.state_listener = self.state_listener
        if self.state_listener is not None:
            self.state_listener(worker)  # starting
        credential = self._credentials[worker.worker_id] = secrets.token_urlsafe(32)
        return credential

    def unregister(self, worker: WorkerProcess) -> None:
        if self._workers.get(worker.worker_id) is worker:
            del self._workers[worker.worker_id]
            self._credentials.pop(worker.worker_id, None)
            self._retired.add(worker)

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
            if isinstance(payload, Ready) and name == "Ready":
                worker.deliver_ready(payload)
                return None
            return await self._handler(worker, name, payload)

        protocol = BusProtocol(max_attachments=worker.max_value_bytes)
        peer = Peer(transport, handle, wire_types=BUS_TYPES, protocol=protocol, name=f"orchestrator<->{worker.prefix}")
        await worker.attach(peer)
        peer.start()
        await peer.closed

    async def close(self) -> None:
        for worker in list(self._workers.values()):
            await worker.stop()
        self._workers.clear()
        for retired in list(self._retired):
            await retired.released()
        self._retired.clear()
        for server in (self._server, self.unix):
            if server is not None:
                await server.close()
        self._server = self.unix = None
