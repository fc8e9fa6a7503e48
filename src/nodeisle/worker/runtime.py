"""The worker runtime: stdlib and websockets only.

Launch contract: the orchestrator starts ``<venv python> -I -m nodeisle.worker`` and writes one JSON
line on the child's stdin (never argv or the environment, which other processes can read):

    {"url": "ws://127.0.0.1:PORT/bus", "token": "...", "worker_id": "a3f9", "manifest": "/abs/path.json",
     "probe_timeout": 10.0, "parent_pid": 1234, "log_level": "INFO", "views": {...}}

The worker keeps stdin open: when it reaches end-of-file the orchestrator is gone and the worker exits
(on Linux a parent-death signal does the same even if the worker is stuck). It then connects, loads the
library, runs the schema probe and sends ``Ready`` (nodeisle.wire.messages) with the schema; from then
on it serves requests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from nodeisle.bus import codec
from nodeisle.bus.peer import FrameTransport, Peer, RemoteFailure
from nodeisle.bus.protocol import DEFAULT_MAX_ATTACHMENTS, BusProtocol
from nodeisle.config.views import ConfigView, SecretsView, ViewsLaunch
from nodeisle.errors import HandshakeRefused, LibraryError, NotConnectedError, RequestRefused, ValueTransferError
from nodeisle.manifest import load_manifest
from nodeisle.node import connections as _connections
from nodeisle.node import hosting as _hosting
from nodeisle.requests import (
    GetConfigValueRequest,
    GetConfigValueResult,
    GetSecretValueRequest,
    GetSecretValueResult,
    RefreshSecretsRequest,
    ReloadConfigRequest,
    RemoteError,
    Request,
    Result,
)
from nodeisle.strict.rules import Context
from nodeisle.wire.messages import (
    BUS_TYPES,
    ApplyConnection,
    ApplyValue,
    AwaitStop,
    ConnectionApplied,
    Execute,
    Executed,
    Ping,
    Pong,
    Ready,
    Stopped,
    ValueApplied,
)

LOGGER = logging.getLogger("nodeisle.worker")
EXIT_HANDSHAKE_REFUSED = 3
EXIT_BAD_LAUNCH = 4
EXECUTION_THREADS = 64


@dataclass(frozen=True)
class LaunchConfig:
    url: str
    token: str
    worker_id: str
    manifest: str
    probe_timeout: float = _hosting.DEFAULT_PROBE_TIMEOUT
    max_value_bytes: int = DEFAULT_MAX_ATTACHMENTS  # the orchestrator enforces the same limit
    parent_pid: int | None = None
    log_level: str = "INFO"
    audit_init_io: bool = True  # record file / network / process I/O done by __init__ during the probe
    views: ViewsLaunch = field(default_factory=ViewsLaunch)  # config and secrets (may hold secret values)

    def __repr__(self) -> str:  # neither the token nor a secret appears in logs or tracebacks
        return f"LaunchConfig(url={self.url!r}, worker_id={self.worker_id!r}, manifest={self.manifest!r})"

    @classmethod
    def from_json(cls, line: str) -> LaunchConfig:
        data = json.loads(line)
        return cls(
            url=str(data["url"]),
            token=str(data["token"]),
            worker_id=str(data["worker_id"]),
            manifest=str(data["manifest"]),
            probe_timeout=float(data.get("probe_timeout", _hosting.DEFAULT_PROBE_TIMEOUT)),
            max_value_bytes=int(data.get("max_value_bytes", DEFAULT_MAX_ATTACHMENTS)),
            parent_pid=int(data["parent_pid"]) if data.get("parent_pid") is not None else None,
            log_level=str(data.get("log_level", "INFO")),
            audit_init_io=bool(data.get("audit_init_io", True)),
            views=ViewsLaunch.from_dict(data.get("views") or {}),
        )


class Forwarder:
    """Answers node code's requests by forwarding them to the orchestrator over the bus."""

    def __init__(
        self, peer: Peer, loop: asyncio.AbstractEventLoop, local: Callable[[Request], Result | None] | None = None
    ) -> None:
        self._peer = peer
        self._loop = loop
        self._local = local

    async def handle_async(self, request: Request) -> Result:
        if request.worker_view and self._local is not None:
            local = self._local(request)
            if local is not None:
                return local
        try:
            answer = await self._peer.request(type(request).__name__, request)
        except RemoteFailure as exc:
            if exc.type_name == "RequestRefused":  # the library may not make it: the node's own error says why
                raise RequestRefused(exc.remote_message) from None
            raise
        if not isinstance(answer, Result):
            raise TypeError(f"orchestrator answered {type(request).__name__} with {type(answer).__name__}")
        return answer

    def handle_sync(self, request: Request) -> Result:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            local = self._local(request) if request.worker_view and self._local is not None else None
            if local is not None:  # answered from this worker's views: nothing to wait for
                return local
            raise NotConnectedError(
                f"{type(request).__name__}: nodeisle.handle_request would block the worker's event loop; "
                "from an async process use `await nodeisle.ahandle_request(...)`"
            )
        return asyncio.run_coroutine_threadsafe(self.handle_async(request), self._loop).result()


Connect = Callable[[str, str, str], Awaitable[FrameTransport]]


async def connect_websocket(url: str, token: str, worker_id: str) -> FrameTransport:
    """The real connector: a WebSocket to the orchestrator's bus (the only path to websockets)."""
    from nodeisle.bus import ws

    return await ws.connect(url, token, worker_id)


class WorkerRuntime:
    """Serves one library's nodes for the orchestrator over one bus connection.

    ``connect`` opens that connection (a WebSocket by default; an in-memory pair when the
    orchestrator runs the worker in its own process for tests, nodeisle.testing.inprocess);
    ``environ`` is where the secrets the library may see are placed (the process environment).
    """

    def __init__(
        self,
        config: LaunchConfig,
        *,
        connect: Connect = connect_websocket,
        environ: MutableMapping[str, str] | None = None,
        own_process: bool = True,
    ) -> None:
        self.config = config
        self.code: _hosting.LibraryCode | None = None
        self._connect = connect
        self._own_process = own_process  # False: sharing a process and a loop with the orchestrator
        self._environ: MutableMapping[str, str] = os.environ if environ is None else environ
        self._peer: Peer | None = None
        self._closing: asyncio.Task[None] | None = None
        self._forwarder: Forwarder | None = None
        self._executions: dict[str, _hosting.ThreadTracker] = {}  # exec id -> its threads
        views = config.views
        self.config_view = ConfigView(views.config_path, views.config_defaults, views.config_overrides)
        self.secrets_view = SecretsView(
            self._environ, path=views.secrets_path, operator_keys=views.operator_keys, granted=views.granted,
            operator_values=views.operator_values,
        )
        # Dispatch by message type: the registry of what this side answers (nodeisle.wire.messages).
        self._handlers: dict[type[Any], Callable[[Any], Awaitable[Any]]] = {
            Execute: self._execute,
            ApplyValue: self._apply_value,
            ApplyConnection: self._apply_connection,
            Ping: self._ping,
            AwaitStop: self._await_stop,
            ReloadConfigRequest: self._reload_config,
            RefreshSecretsRequest: self._refresh_secrets,
        }

    def _from_views(self, request: Request) -> Result | None:
        """Answer config and secret reads from this worker's views; None where the view cannot say."""
        if isinstance(request, GetSecretValueRequest) and request.key in self.secrets_view.names:
            return GetSecretValueResult(value=self._environ.get(request.key))
        if isinstance(request, GetConfigValueRequest) and request.key in self.config_view.values:
            return GetConfigValueResult(value=self.config_view.get(request.key))
        return None

    async def run(self) -> int:
        # Current values before any library code runs; broadcasts keep them current from here on.
        self.config_view.reload()
        self.secrets_view.refresh()
        if self._own_process:
            # Each plain process() holds a thread while it runs: allow many concurrent executions.
            asyncio.get_running_loop().set_default_executor(
                concurrent.futures.ThreadPoolExecutor(max_workers=EXECUTION_THREADS, thread_name_prefix="node")
            )
        try:
            transport = await self._connect(self.config.url, self.config.token, self.config.worker_id)
        except HandshakeRefused as exc:
            LOGGER.error("%s", exc)
            return EXIT_HANDSHAKE_REFUSED
        protocol = BusProtocol(max_attachments=self.config.max_value_bytes)
        peer = self._peer = Peer(
            transport, self.handle, wire_types=BUS_TYPES, protocol=protocol, name=f"Worker-{self.config.worker_id}"
        )
        self._forwarder = Forwarder(peer, asyncio.get_running_loop(), self._from_views)
        peer.start()
        try:
            ready = await asyncio.to_thread(self._load)
            await peer.request("Ready", ready)
            reason = await peer.closed
        finally:
            await peer.close()
        LOGGER.debug("bus closed: %s", reason)
        return 0

    def shut_down(self) -> None:
        """End :meth:`run` from the loop: close the bus (what end-of-file on stdin does to a worker process)."""
        if self._peer is not None:
            self._closing = asyncio.get_running_loop().create_task(self._peer.close())

    def _load(self) -> Ready:
        """Import the library and run the schema probe (in a thread: library code may block)."""
        manifest = load_manifest(self.config.manifest, require_inside=True)
        try:
            self.code = _hosting.import_library(manifest, Context.WORKER)
        except LibraryError as exc:  # said over the bus, so the orchestrator reports it as the library's error
            LOGGER.debug("library load failed: %s", exc)
            return Ready(pid=os.getpid(), python=sys.executable, failure=exc.detail)
        report = _hosting.probe_library(
            self.code, Context.WORKER, self.config.probe_timeout, audit_io=self.config.audit_init_io
        )
        return Ready(
            pid=os.getpid(),
            python=sys.executable,
            schemas=tuple(report.schemas.values()),
            dropped=tuple(report.dropped),
            violations=tuple(report.violations),
            io_events=tuple(report.io_events),
        )

    async def handle(self, name: str, payload: Any) -> Any:
        handler = self._handlers.get(type(payload))
        if handler is None or type(payload).__name__ != name:
            raise LookupError(f"worker does not handle {name!r}")
        # Every message is served as a task of its own (the peer's), so a broadcast or a ping is never
        # queued behind executions; the answer is the acknowledgement the orchestrator waits for.
        return await handler(payload)

    @property
    def _host(self) -> _hosting.Host:
        return _hosting.Host(Context.WORKER, self.code.manifest.name if self.code else "", self._forwarder)

    async def _ping(self, _message: Ping) -> Pong:
        return Pong()

    async def _reload_config(self, _request: ReloadConfigRequest) -> Result:
        return Result(message=f"Worker-{self.config.worker_id}: {self.config_view.reload()}")

    async def _refresh_secrets(self, request: RefreshSecretsRequest) -> Result:
        return Result(message=f"Worker-{self.config.worker_id}: {self.secrets_view.refresh(request.values)}")

    def _class(self, class_name: str) -> Any:
        if self.code is None or class_name not in self.code.classes:
            raise LookupError(f"node class {class_name!r} is not loaded in this worker")
        return self.code.classes[class_name]

    async def _await_stop(self, message: AwaitStop) -> Stopped:
        """After a cancelled execution: whether its library code has stopped within ``grace`` seconds."""
        tracker = self._executions.get(message.exec_id)
        if tracker is None:
            return Stopped(stopped=True)
        return Stopped(stopped=await asyncio.to_thread(tracker.wait_idle, message.grace))

    async def _execute(self, message: Execute) -> codec.Encoded:
        tracker = self._executions[message.exec_id] = _hosting.ThreadTracker()
        try:
            outcome = await _hosting.execute(self._class(message.invocation.class_name), message.invocation,
                                             self._host, tracker)
        finally:
            if tracker.wait_idle(0):
                self._executions.pop(message.exec_id, None)
            else:  # still running in a thread: forget it once it stops
                threading.Thread(target=self._forget_when_idle, args=(message.exec_id, tracker), daemon=True).start()
        answer = Executed(
            outputs=outcome.outputs,
            violations=tuple(outcome.violations),
            error=outcome.error,
            specs=tuple(outcome.specs) if outcome.specs is not None else None,
            strays=tuple(outcome.strays),
        )
        # Encoded here, once, so a value that cannot cross is named by its node and parameter.
        try:
            return codec.Encoded(*codec.encode(answer, BUS_TYPES, self.config.max_value_bytes))
        except codec.UnencodableValue as exc:
            parameter, rest = codec.first_segment(exc.path.removeprefix("outputs").removeprefix("."))
            problem = ValueTransferError(message.invocation.node_name, parameter, exc.type_name, exc.why, rest)
            failed = Executed(violations=answer.violations,
                              error=RemoteError(type="ValueTransferError", message=str(problem)))
            return codec.Encoded(*codec.encode(failed, BUS_TYPES))

    def _forget_when_idle(self, exec_id: str, tracker: _hosting.ThreadTracker) -> None:
        tracker.wait_idle(24 * 3600)
        if self._executions.get(exec_id) is tracker:
            self._executions.pop(exec_id, None)

    async def _apply_value(self, message: ApplyValue) -> ValueApplied:
        specs, violations = await _hosting.apply_value(
            self._class(message.invocation.class_name), message.invocation, message.parameter, message.value,
            self._host,
        )
        return ValueApplied(specs=tuple(specs), violations=tuple(violations))

    async def _apply_connection(self, message: ApplyConnection) -> ConnectionApplied:
        specs, violations = await _connections.apply_connection(
            self._class(message.invocation.class_name), message.invocation, message.change, self._host
        )
        return ConnectionApplied(specs=tuple(specs), violations=tuple(violations))


class RecordLines(logging.Formatter):
    """``LEVEL logger: message``, each further line as ``LEVEL| line``: the orchestrator re-logs every
    line of a record at its level (nodeisle.orchestrator.relay.relayed_level)."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", f"\n{record.levelname}| ")


def _watch_parent(parent_pid: int | None) -> None:
    """Exit when the orchestrator goes away, however it went."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(0)  # the parent died before the death signal was armed

    def wait_for_eof() -> None:
        try:  # os.read, not sys.stdin: a buffered reader's lock would block interpreter shutdown
            while os.read(0, 65536):
                pass
        except (OSError, ValueError):
            pass
        os._exit(0)

    threading.Thread(target=wait_for_eof, name="parent-watch", daemon=True).start()


def main(line: str | None = None, guard_pid: int | None = None) -> int:
    """Run the worker for the launch ``line`` (else read from stdin); ``guard_pid`` is its parent guard."""
    if line is None:
        line = sys.stdin.readline()
    try:
        config = LaunchConfig.from_json(line)
    except (ValueError, KeyError, TypeError) as exc:
        print(f"nodeisle worker: bad launch config on stdin: {exc}", file=sys.stderr)
        return EXIT_BAD_LAUNCH
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RecordLines("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, config.log_level.upper(), logging.INFO), handlers=[handler])
    _watch_parent(guard_pid if guard_pid is not None else config.parent_pid)
    return asyncio.run(WorkerRuntime(config).run())
