"""Where a library's nodes run: in the orchestrator (LocalHost) or in a worker (WorkerHost).

Both implement the same small interface, so the engine routes "run this node" without knowing
which mode a library is in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nodeisle import _hosting
from nodeisle._errors import BusError, LibraryError, ValueTransferError, WorkerCrashed
from nodeisle._node import ParameterSpec
from nodeisle._scope import NodeScope, Phase, RequestHandler
from nodeisle._strict import Context, Violation
from nodeisle.bus import codec
from nodeisle.bus.peer import RemoteFailure
from nodeisle.manifest import LibraryManifest
from nodeisle.orchestrator.graph import NodeRecord, RequestFailed
from nodeisle.orchestrator.workers import WorkerHub, WorkerProcess, worker_environment
from nodeisle.requests import WIRE_TYPES, RemoteError

LOGGER = logging.getLogger("nodeisle.library")
RUNTIME_REQUIREMENTS = ("websockets>=10",)


@dataclass
class LoadReport:
    schemas: dict[str, _hosting.NodeTypeSchema]
    dropped: list[_hosting.DroppedClass]
    violations: list[Violation]


class NodeHost(Protocol):
    context: Context

    async def load(self) -> LoadReport: ...

    async def execute(self, record: NodeRecord, values: Mapping[str, Any]) -> _hosting.ExecutionOutcome: ...

    async def apply_value(
        self, record: NodeRecord, parameter: str, value: Any
    ) -> tuple[list[ParameterSpec], list[Violation]]: ...

    async def close(self) -> None: ...

    def describe(self) -> tuple[str | None, str | None]:
        """(worker id, worker state), or (None, None) in process."""
        ...


class LocalHost:
    """Runs a Shared library's nodes in the orchestrator process."""

    context = Context.ORCHESTRATOR

    def __init__(self, manifest: LibraryManifest, handler: RequestHandler, probe_timeout: float) -> None:
        self.manifest = manifest
        self.handler = handler
        self.probe_timeout = probe_timeout
        self.code: _hosting.LibraryCode | None = None

    async def load(self) -> LoadReport:
        def load_sync() -> _hosting.ProbeReport:
            self.code = _hosting.import_library(self.manifest)
            return _hosting.probe_library(self.code, Context.ORCHESTRATOR, self.probe_timeout)

        report = await asyncio.to_thread(load_sync)
        return LoadReport(report.schemas, report.dropped, report.violations)

    def _class(self, class_name: str) -> Any:
        if self.code is None or class_name not in self.code.classes:
            raise RequestFailed(f"node class {class_name!r} is not loaded in library {self.manifest.name!r}")
        return self.code.classes[class_name]

    async def execute(self, record: NodeRecord, values: Mapping[str, Any]) -> _hosting.ExecutionOutcome:
        return await _hosting.execute(
            self._class(record.class_name),
            record.name,
            record.metadata,
            record.specs,
            values,
            Context.ORCHESTRATOR,
            self.manifest.name,
            self.handler,
        )

    async def apply_value(
        self, record: NodeRecord, parameter: str, value: Any
    ) -> tuple[list[ParameterSpec], list[Violation]]:
        scope = NodeScope(Context.ORCHESTRATOR, self.manifest.name, record.name, Phase.HYDRATION, self.handler)
        specs = await asyncio.to_thread(
            _hosting.apply_value,
            self._class(record.class_name),
            record.name,
            record.metadata,
            record.specs,
            record.values,
            parameter,
            value,
            scope,
        )
        return specs, scope.violations

    async def close(self) -> None:
        self.code = None

    def describe(self) -> tuple[str | None, str | None]:
        return None, None


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
        start_timeout: float = 120.0,
        runtime_source: Path,
    ) -> None:
        self.manifest = manifest
        self.hub = hub
        self.envs = envs
        self.probe_timeout = probe_timeout
        self.start_timeout = start_timeout
        self.runtime_source = runtime_source
        self.python: Path | None = None
        self.worker: WorkerProcess | None = None
        self._starting: asyncio.Lock = asyncio.Lock()
        self.restarts = 0

    async def load(self) -> LoadReport:
        deps = self.manifest.dependencies
        started = time.monotonic()
        info = await asyncio.to_thread(
            self.envs.ensure,
            self.manifest.name,
            list(deps.pip_dependencies),
            list(deps.pip_install_flags),
            list(RUNTIME_REQUIREMENTS),
            self.runtime_source,
        )
        self.python = info.python
        LOGGER.info(
            "library %r: environment %s (%s, %.0f ms)",
            self.manifest.name,
            info.path,
            "reused" if info.reused else "built",
            (time.monotonic() - started) * 1000,
        )
        ready = await self._start_worker()
        schemas = {s["class_name"]: _hosting.NodeTypeSchema.from_dict(s) for s in ready.schemas}
        dropped = [_hosting.DroppedClass.from_dict(d) for d in ready.dropped]
        return LoadReport(schemas, dropped, [Violation.from_dict(v) for v in ready.violations])

    async def _start_worker(self) -> Any:
        assert self.python is not None
        await self.hub.ensure_started()
        worker = WorkerProcess(
            self.manifest.name,
            self.python,
            self.manifest.path,
            probe_timeout=self.probe_timeout,
            env=worker_environment(self.python),
        )
        self.hub.register(worker)
        self.worker = worker
        try:
            return await worker.start(self.hub.url, self.hub.token, self.start_timeout)
        except BaseException:
            self.hub.unregister(worker)
            raise

    async def _live_worker(self) -> WorkerProcess:
        """The running worker; a crashed one is replaced by a fresh one first."""
        async with self._starting:
            if self.worker is None or not self.worker.alive:
                if self.worker is not None:
                    self.hub.unregister(self.worker)
                    self.restarts += 1
                    LOGGER.warning(
                        "library %r: starting a fresh worker (restart %d)", self.manifest.name, self.restarts
                    )
                try:
                    await self._start_worker()
                except LibraryError as exc:
                    raise WorkerCrashed(
                        self.manifest.name, self.worker.worker_id if self.worker else "?", str(exc)
                    ) from None
            assert self.worker is not None
            return self.worker

    def _payload(self, record: NodeRecord, values: Mapping[str, Any]) -> dict[str, Any]:
        for name, value in values.items():
            try:
                codec.encode(value)
            except codec.UnencodableValue as exc:
                raise ValueTransferError(record.name, name, exc.type_name, exc.why) from None
        return {
            "class_name": record.class_name,
            "node_name": record.name,
            "metadata": record.metadata,
            "specs": [s.to_dict() for s in record.specs],
            "values": dict(values),
        }

    async def execute(self, record: NodeRecord, values: Mapping[str, Any]) -> _hosting.ExecutionOutcome:
        try:
            payload = self._payload(record, values)
            worker = await self._live_worker()
            answer = await worker.request("_execute", payload)
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
        violations = [Violation.from_dict(v) for v in answer.get("violations", [])]
        error = answer.get("error")
        return _hosting.ExecutionOutcome(
            dict(answer.get("outputs") or {}), violations, error if isinstance(error, RemoteError) else None
        )

    async def apply_value(
        self, record: NodeRecord, parameter: str, value: Any
    ) -> tuple[list[ParameterSpec], list[Violation]]:
        payload = self._payload(record, {**record.values, parameter: value})
        payload["values"] = dict(record.values)
        payload["parameter_name"] = parameter
        payload["value"] = value
        worker = await self._live_worker()
        try:
            answer = await worker.request("_apply_value", payload)
        except RemoteFailure as exc:
            raise RequestFailed(exc.remote_message) from None
        except BusError as exc:
            raise RequestFailed(str(exc)) from None
        return (
            [ParameterSpec.from_dict(s) for s in answer["specs"]],
            [Violation.from_dict(v) for v in answer.get("violations", [])],
        )

    async def close(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
            self.hub.unregister(self.worker)

    def describe(self) -> tuple[str | None, str | None]:
        if self.worker is None:
            return None, None
        return self.worker.worker_id, str(self.worker.state)


__all__ = ["WIRE_TYPES", "LoadReport", "LocalHost", "NodeHost", "WorkerHost"]
