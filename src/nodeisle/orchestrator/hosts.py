"""Where a library's nodes run: in the orchestrator (LocalHost) or in a worker (WorkerHost).

Both implement the same small interface, so the engine routes "run this node" without knowing
which mode a library is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nodeisle.bus import codec
from nodeisle.bus.peer import RemoteFailure
from nodeisle.bus.protocol import DEFAULT_MAX_ATTACHMENTS
from nodeisle.config import defaults
from nodeisle.errors import BusError, LibraryError, ValueTransferError, WorkerCrashed
from nodeisle.flow.graph import NodeRecord, RequestFailed
from nodeisle.manifest import LibraryManifest
from nodeisle.node import connections as _connections
from nodeisle.node import hosting as _hosting
from nodeisle.node.connections import ConnectionChange
from nodeisle.node.scope import RequestHandler
from nodeisle.node.spec import ParameterSpec
from nodeisle.orchestrator import containment
from nodeisle.orchestrator.cgroups import Containment, machine_facts
from nodeisle.orchestrator.containment import ContainmentPlan, Limits
from nodeisle.orchestrator.deadline import Deadline
from nodeisle.orchestrator.hostapi import LoadReport, invocation
from nodeisle.orchestrator.interpreters import PythonFinder, orchestrator_interpreter
from nodeisle.orchestrator.launch import Launcher
from nodeisle.orchestrator.overlays import SharedDeps
from nodeisle.orchestrator.planner import RUNTIME_REQUIREMENTS as RUNTIME_REQUIREMENTS
from nodeisle.orchestrator.resolver import LOCK_NAME
from nodeisle.orchestrator.sandbox import SandboxChoice
from nodeisle.orchestrator.sandboxing import sandboxed
from nodeisle.orchestrator.supervision import CrashLoop, LibraryFailed
from nodeisle.orchestrator.supervision import Supervision as Supervision  # engine.py imports it from here
from nodeisle.orchestrator.workers import WorkerHub, WorkerProcess, WorkerProvision, WorkerState, worker_environment
from nodeisle.requests import RemoteError
from nodeisle.strict.rules import Context, Violation
from nodeisle.wire.messages import (
    ApplyConnection,
    ApplyValue,
    AwaitStop,
    ConnectionApplied,
    Execute,
    Executed,
    Ready,
    Stopped,
    ValueApplied,
)

LOGGER = logging.getLogger("nodeisle.library")


CANCEL_GRACE = 2.0  # seconds a cancelled execution's code gets to stop before its worker is terminated
ANSWER_MARGIN = 0.5  # beyond the grace, for the worker's answer to cross the bus


class LocalHost:
    """Runs a Shared library's nodes in the orchestrator process."""

    context = Context.ORCHESTRATOR

    def __init__(
        self, manifest: LibraryManifest, handler: RequestHandler, probe_timeout: float, *,
        pythons: PythonFinder | None = None, python_setting: str | None = None, deps: SharedDeps | None = None,
    ) -> None:
        self.manifest = manifest
        self.deps = deps  # checks its pins against this process's environment; None: not checked
        self.handler = handler
        self.probe_timeout = probe_timeout
        self.pythons = pythons or PythonFinder()
        self.python_setting = python_setting  # ignored Shared, with a warning
        self.code: _hosting.LibraryCode | None = None
        self.last_load: LoadReport | None = None  # what the latest load found (nodeisle check reads it)

    async def load(self) -> LoadReport:
        # Its pins: satisfied, or missing and put in its overlay, or in conflict (a LibraryError naming it).
        paths = await asyncio.to_thread(self.deps.prepare, self.manifest) if self.deps is not None else []

        def load_sync() -> _hosting.ProbeReport:
            sys.path.extend(p for p in paths if p not in sys.path)  # after the engine's own packages
            self.code = _hosting.import_library(self.manifest)
            return _hosting.probe_library(self.code, Context.ORCHESTRATOR, self.probe_timeout)

        for warning in self.pythons.shared_warnings(self.manifest, self.python_setting):
            LOGGER.warning("%s", warning)
        report = await asyncio.to_thread(load_sync)
        python = f"{orchestrator_interpreter().describe()}: runs Shared, in the orchestrator's process"
        self.last_load = LoadReport(report.schemas, report.dropped, report.violations, report.io_events, python)
        return self.last_load

    def _class(self, class_name: str) -> Any:
        if self.code is None or class_name not in self.code.classes:
            raise RequestFailed(f"node class {class_name!r} is not loaded in library {self.manifest.name!r}")
        return self.code.classes[class_name]

    @property
    def _host(self) -> _hosting.Host:
        return _hosting.Host(Context.ORCHESTRATOR, self.manifest.name, self.handler)

    async def execute(
        self, record: NodeRecord, inputs: Mapping[str, Any], deadline: Deadline | None = None
    ) -> _hosting.ExecutionOutcome:
        tracker = _hosting.ThreadTracker()
        run = _hosting.execute(self._class(record.class_name), invocation(record, inputs), self._host, tracker)
        if deadline is None:
            return await run
        try:
            async with asyncio.timeout(deadline.seconds):  # no extra task, unlike wait_for
                return await run
        except TimeoutError:
            stopped = await asyncio.to_thread(tracker.wait_idle, CANCEL_GRACE)
            note = (
                "it was cancelled"
                if stopped
                else "its process() is still running in a thread of the orchestrator process, which cannot be "
                "interrupted; run the library Isolated so a stuck node can be terminated"
            )
            return _hosting.ExecutionOutcome({}, [], deadline.error(record.name, note))

    async def apply_value(
        self, record: NodeRecord, parameter: str, value: Any, deadline: Deadline | None = None
    ) -> tuple[list[ParameterSpec], list[Violation]]:
        try:
            async with asyncio.timeout(deadline.seconds if deadline else None):
                return await _hosting.apply_value(
                    self._class(record.class_name), invocation(record), parameter, value, self._host
                )
        except TimeoutError:
            assert deadline is not None
            raise RequestFailed(
                f"{deadline.error(record.name, 'setting ' + repr(parameter) + ' did not finish').message}; its hook "
                "is still running in a thread of the orchestrator process"
            ) from None

    async def apply_connection(
        self, record: NodeRecord, change: ConnectionChange, deadline: Deadline | None = None
    ) -> tuple[list[ParameterSpec], list[Violation]]:
        try:
            async with asyncio.timeout(deadline.seconds if deadline else None):
                return await _connections.apply_connection(
                    self._class(record.class_name), invocation(record), change, self._host
                )
        except _connections.ConnectionHookError as exc:
            raise RequestFailed(str(exc)) from None
        except TimeoutError:
            assert deadline is not None
            raise RequestFailed(
                f"{deadline.error(record.name, f'its {change.hook} did not finish').message}; the hook is still "
                "running in a thread of the orchestrator process"
            ) from None

    async def close(self) -> None:
        if self.code is not None:
            await asyncio.to_thread(_hosting.unload_library, self.code)  # its hooks may block
        if self.deps is not None:
            self.deps.release(self.manifest.name)  # after its hooks ran: they may use its overlay
        self.code = None

    def describe(self) -> tuple[str | None, str | None]:
        return None, None

    def failure(self) -> str | None:
        return None


class WorkerHost:
    """Runs an Isolated library's nodes in a worker subprocess on the library's own virtualenv."""

    context = Context.WORKER

    def __init__(
        self,
        manifest: LibraryManifest,
        hub: WorkerHub,
        envs: Any,  # nodeisle.orchestrator.envs.EnvManager
        *,
        probe_timeout: float,
        start_timeout: float = defaults.WORKER_START_TIMEOUT,
        runtime_source: Path,
        supervision: Supervision | None = None,
        provision: Callable[[], WorkerProvision] | None = None,
        max_value_bytes: int = DEFAULT_MAX_ATTACHMENTS,
        launcher: Launcher | None = None,
        pythons: PythonFinder | None = None,
        python_setting: str | None = None,
        limits: Limits | None = None,
        sandbox: SandboxChoice | None = None,
    ) -> None:
        self.manifest = manifest
        self.sandbox = sandbox  # `nodeisle libraries sandbox`: each worker runs under bubblewrap
        self.limits = limits or Limits()  # `nodeisle libraries limits`: applied to each worker it starts
        self.pythons = pythons or PythonFinder()  # chooses the interpreter the env is built on
        self.python_setting = python_setting  # the library's `nodeisle libraries python` choice, if any
        self.max_value_bytes = max_value_bytes
        self.launcher = launcher  # None: a subprocess on the env's interpreter (nodeisle.orchestrator.launch)
        # Called at every (re)start: the worker reads the config and secrets current at that moment.
        self.provision = provision or WorkerProvision
        self.hub = hub
        self.envs = envs
        self.probe_timeout = probe_timeout
        self.start_timeout = start_timeout
        self.runtime_source = runtime_source
        self.python: Path | None = None
        self.last_load: LoadReport | None = None  # what the latest load found (nodeisle check reads it)
        self.worker: WorkerProcess | None = None
        self._starting: asyncio.Lock = asyncio.Lock()
        self.supervision = supervision or Supervision()
        self.crash_loop = CrashLoop(self.supervision)  # the crashes, the backoff, and giving up

    @property
    def restarts(self) -> int:
        return self.crash_loop.restarts

    async def load(self) -> LoadReport:
        deps = self.manifest.dependencies
        started = time.monotonic()
        choice = await asyncio.to_thread(self.pythons.choose, self.manifest, self.python_setting)
        info = await asyncio.to_thread(
            self.envs.ensure,
            self.manifest.name,
            list(deps.worker_env),
            list(deps.pip_install_flags),
            list(RUNTIME_REQUIREMENTS),
            self.runtime_source,
            python=None if choice.is_orchestrators else choice.interpreter.path,
            lock=self.manifest.directory / LOCK_NAME,
        )
        self.python = info.python
        LOGGER.info(
            "library %r: environment %s on %s (%s, %.0f ms)",
            self.manifest.name,
            info.path,
            choice.describe(),
            "reused" if info.reused else "built",
            (time.monotonic() - started) * 1000,
        )
        ready = await self._start_worker()
        self.last_load = LoadReport(
            {schema.class_name: schema for schema in ready.schemas},
            list(ready.dropped),
            list(ready.violations),
            list(ready.io_events),
            choice.describe(),
        )
        return self.last_load

    async def _start_worker(self) -> Ready:
        assert self.python is not None
        await self.hub.ensure_started()
        launcher, url = self.launcher, self.hub.url
        if self.sandbox is not None:
            launcher, url = await sandboxed(self.sandbox, self.manifest.name, self.manifest.path, self.python,
                                            self.hub, self.launcher)
        provision = self.provision()
        worker = WorkerProcess(
            self.manifest.name,
            self.python,
            self.manifest.path,
            probe_timeout=self.probe_timeout,
            env=worker_environment(self.python, {**provision.env, **containment.gpu_environment(self.limits.gpus)}),
            launch_extra=provision.launch,
            max_value_bytes=self.max_value_bytes,
            launcher=launcher,
            containment=self._containment(),
        )
        credential = self.hub.register(worker)
        self.worker = worker
        try:
            ready = await worker.start(url, credential, self.start_timeout)
        except BaseException:
            self.hub.unregister(worker)
            raise
        if ready.failure:  # the library failed to load as a whole: its worker serves nothing
            await worker.stop()
            self.hub.unregister(worker)
            raise LibraryError(self.manifest.name, ready.failure)
        if self.supervision.heartbeats:
            worker.start_heartbeat(self.supervision.heartbeat_interval, self.supervision.heartbeat_timeout)
        return ready

    def _containment(self) -> Containment | None:
        """A fresh worker's containment, planned from the library's limits and this machine's cgroups."""
        limited = self.limits.limits_resources
        return Containment(self.manifest.name, self.limits, self.containment_plan()) if limited else None

    def containment_plan(self) -> ContainmentPlan:
        return containment.plan(self.limits, machine_facts())

    async def _live_worker(self) -> WorkerProcess:
        """The running worker; a crashed one is replaced by a fresh one first."""
        async with self._starting:
            if self.crash_loop.failure:
                raise LibraryError(self.manifest.name, self.crash_loop.failure)
            if self.worker is None or not self.worker.alive:
                if self.worker is not None:
                    self.hub.unregister(self.worker)
                    await self._back_off(self.worker)
                    restart = self.crash_loop.restarted()
                    LOGGER.warning("library %r: starting a fresh worker (restart %d)", self.manifest.name, restart)
                try:
                    await self._start_worker()
                except LibraryError as exc:
                    raise WorkerCrashed(
                        self.manifest.name, self.worker.worker_id if self.worker else "?", str(exc)
                    ) from None
            assert self.worker is not None
            return self.worker

    @staticmethod
    def _transfer_error(record: NodeRecord, exc: codec.UnencodableValue, parameter: str | None) -> ValueTransferError:
        """Name the parameter behind a message path: ``invocation.values.<name>...`` (or ``inputs``), or
        ``value...`` for ``parameter``."""
        path = exc.path
        if parameter is not None and (path == "value" or path.startswith(("value.", "value["))):
            name, rest = parameter, path[len("value") :].removeprefix(".")
        else:
            within = path.removeprefix("invocation.").removeprefix("values.").removeprefix("inputs.")
            name, rest = codec.first_segment(within)
        return ValueTransferError(record.name, name, exc.type_name, exc.why, rest)

    async def _back_off(self, dead: WorkerProcess) -> None:
        """Before replacing a crashed worker: wait what the crash loop says; give up when it says so."""
        if dead.state is not WorkerState.CRASHED:
            return  # stopped on purpose (deadline, heartbeat): not a crash of the library's making
        now = time.monotonic()
        reason = (await dead.crash_error()).reason
        decision = self.crash_loop.crashed(now, reason)
        if isinstance(decision, LibraryFailed):
            LOGGER.error("library %r failed: %s", self.manifest.name, decision.failure)
            raise LibraryError(self.manifest.name, decision.failure)
        LOGGER.warning(
            "library %r: worker crashed (%s); restarting in %.2f s", self.manifest.name, reason, decision.delay
        )
        await asyncio.sleep(decision.delay)

    async def execute(
        self, record: NodeRecord, inputs: Mapping[str, Any], deadline: Deadline | None = None
    ) -> _hosting.ExecutionOutcome:
        # Values are not checked here: the peer encodes the message once, before sending anything,
        # and its UnencodableValue is turned into a ValueTransferError naming the parameter.
        message = Execute(invocation(record, inputs), uuid.uuid4().hex)
        try:
            worker = await self._live_worker()
            before = worker.containment.begin_execution() if worker.containment else 0
            try:
                async with asyncio.timeout(deadline.seconds if deadline else None):
                    answer: Executed = await worker.request("Execute", message)
            except TimeoutError:
                assert deadline is not None
                return await self._expired(worker, record, message.exec_id, deadline)
            except codec.UnencodableValue as exc:
                if not exc.path:  # the message as a whole is over a limit, not one value
                    why = (f"node {record.name!r}: its values cannot cross the bus: {exc.why}; send large data "
                           "as bytes, arrays or long strings, not as many small values")
                    return _hosting.ExecutionOutcome({}, [], RemoteError(type="ValueTransferError", message=why))
                raise self._transfer_error(record, exc, None) from None
        except LibraryError as exc:
            return _hosting.ExecutionOutcome({}, [], RemoteError(type="LibraryFailed", message=str(exc)))
        except ValueTransferError as exc:
            return _hosting.ExecutionOutcome({}, [], RemoteError(type="ValueTransferError", message=str(exc)))
        except WorkerCrashed as exc:
            return _hosting.ExecutionOutcome({}, [], RemoteError(type="WorkerCrashed", message=str(exc)))
        except RemoteFailure as exc:
            return _hosting.ExecutionOutcome(
                {}, [], RemoteError(type=exc.type_name, message=exc.remote_message, traceback=exc.traceback)
            )
        except BusError as exc:
            return _hosting.ExecutionOutcome({}, [], RemoteError(type=type(exc).__name__, message=str(exc)))
        limited = worker.containment
        return _hosting.ExecutionOutcome(
            dict(answer.outputs),
            list(answer.violations),
            limited.annotate(answer.error, before) if limited else answer.error,
            list(answer.specs) if answer.specs is not None else None,
            list(answer.strays),
            peak_memory=limited.readings().peak_memory if limited else None,
        )

    async def apply_value(
        self, record: NodeRecord, parameter: str, value: Any, deadline: Deadline | None = None
    ) -> tuple[list[ParameterSpec], list[Violation]]:
        return await self._hook(record, ApplyValue(invocation(record), parameter, value), f"setting {parameter!r}",
                                parameter, deadline)

    async def apply_connection(
        self, record: NodeRecord, change: ConnectionChange, deadline: Deadline | None = None
    ) -> tuple[list[ParameterSpec], list[Violation]]:
        return await self._hook(record, ApplyConnection(invocation(record), change), f"its {change.hook}", None,
                                deadline)

    async def _hook(
        self, record: NodeRecord, message: ApplyValue | ApplyConnection, what: str, parameter: str | None,
        deadline: Deadline | None,
    ) -> tuple[list[ParameterSpec], list[Violation]]:
        """Run a hook in the worker (a value set, a connection change); answer what it left behind."""
        worker: WorkerProcess | None = None
        try:
            worker = await self._live_worker()
            try:
                async with asyncio.timeout(deadline.seconds if deadline else None):
                    answer: ValueApplied | ConnectionApplied = await worker.request(type(message).__name__, message)
            except codec.UnencodableValue as exc:
                raise self._transfer_error(record, exc, parameter) from None
        except TimeoutError:
            assert deadline is not None and worker is not None
            worker.stop_reason = (  # the first reason stands: a missed heartbeat, say
                worker.stop_reason or f"terminated because {what} on {record.name} overran its deadline"
            )
            await worker.stop(urgent=True)  # the hook may be stuck: a fresh worker serves what comes next
            note = f"{what} did not finish, so Worker-{worker.worker_id} was terminated"
            raise RequestFailed(deadline.error(record.name, note).message) from None
        except RemoteFailure as exc:
            raise RequestFailed(exc.remote_message) from None
        except (ValueTransferError, LibraryError, BusError) as exc:  # WorkerCrashed is a BusError
            raise RequestFailed(str(exc)) from None
        return list(answer.specs), list(answer.violations)

    async def close(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
            self.hub.unregister(self.worker)

    async def _expired(
        self, worker: WorkerProcess, record: NodeRecord, exec_id: str, deadline: Deadline
    ) -> _hosting.ExecutionOutcome:
        """A deadline fired: the request was cancelled; terminate the worker if the node's code goes on."""
        stopped = False
        # A worker whose loop runs answers within the grace; one that cannot answer (its code holds the
        # GIL in a C call) is terminated right after it: deadline + CANCEL_GRACE + ANSWER_MARGIN at most.
        with contextlib.suppress(BusError, TimeoutError):
            answer: Stopped = await worker.request(
                "AwaitStop", AwaitStop(exec_id, CANCEL_GRACE), timeout=CANCEL_GRACE + ANSWER_MARGIN
            )
            stopped = answer.stopped
        if stopped:
            note = "it was cancelled cooperatively"
        else:
            note = (
                f"its code did not stop within {CANCEL_GRACE:g} s of cancellation, so Worker-{worker.worker_id} "
                "was terminated; a fresh worker serves the next execution"
            )
            worker.stop_reason = worker.stop_reason or f"terminated because node {record.name!r} overran its deadline"
            await worker.stop(urgent=True)
        return _hosting.ExecutionOutcome({}, [], deadline.error(record.name, note))

    def describe(self) -> tuple[str | None, str | None]:
        if self.crash_loop.failure:
            return (self.worker.worker_id if self.worker else None), "failed"
        if self.worker is None:
            return None, None
        return self.worker.worker_id, str(self.worker.state)

    def failure(self) -> str | None:
        return self.crash_loop.failure
