"""The orchestrator: owns libraries and the graph, answers every request.

Build one with :func:`build_orchestrator` (the composition root); there is no global instance.
All state changes happen on the orchestrator's event loop; ``handle_sync`` from another thread
hands the request to the loop and waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import nodeisle
from nodeisle import logs as _logs
from nodeisle.config.secrets import SECRETS_FILE, SecretsStore
from nodeisle.config.settings import LibraryMode, Settings, engine_home
from nodeisle.config.store import CONFIG_FILE, ConfigStore
from nodeisle.errors import (
    EnvironmentBuildError,
    LibraryError,
    ManifestError,
    NotConnectedError,
    RequestRefused,
    headline,
)
from nodeisle.flow.graph import Graph, NodeRecord, RequestFailed
from nodeisle.manifest import LibraryManifest, load_manifest
from nodeisle.node import hosting as _hosting
from nodeisle.node.model import ParameterSpec
from nodeisle.node.scope import engine as engine_scope
from nodeisle.orchestrator import authority
from nodeisle.orchestrator.hosts import Deadline, LocalHost, NodeHost, Supervision, WorkerHost, timeout_problem
from nodeisle.orchestrator.libraries import LibraryState, describe_library, resolve_mode
from nodeisle.orchestrator.propagation import ConfigAndSecrets
from nodeisle.orchestrator.workers import WorkerHub, WorkerProcess
from nodeisle.requests import (
    AddParameterToNodeRequest,
    ConnectionInfo,
    CreateConnectionRequest,
    CreateFlowRequest,
    CreateFlowResult,
    CreateNodeRequest,
    CreateNodeResult,
    DeleteConnectionRequest,
    DeleteFlowRequest,
    DeleteNodeRequest,
    ExecuteNodeRequest,
    ExecuteNodeResult,
    GetParameterDetailsRequest,
    GetParameterDetailsResult,
    GetParameterValueRequest,
    GetParameterValueResult,
    ListConnectionsForNodeRequest,
    ListConnectionsForNodeResult,
    ListConnectionsForParameterRequest,
    ListFlowsRequest,
    ListFlowsResult,
    ListNodesInFlowRequest,
    ListNodesInFlowResult,
    ListParametersOnNodeRequest,
    ListParametersOnNodeResult,
    ListRegisteredLibrariesRequest,
    ListRegisteredLibrariesResult,
    RegisterLibraryRequest,
    RegisterLibraryResult,
    ReloadLibraryRequest,
    RemoteError,
    RemoveParameterFromNodeRequest,
    Request,
    Result,
    RunFlowRequest,
    SetLibraryModeRequest,
    SetParameterValueRequest,
)

LOGGER = logging.getLogger("nodeisle.engine")
PROGRESS = logging.getLogger("nodeisle.progress")
REFUSALS = _logs.guard(logging.getLogger("nodeisle.authority"))


SyncHandler = Callable[[Any], Result]
AsyncHandler = Callable[[Any], Awaitable[Result]]


class Orchestrator:
    def __init__(
        self,
        home: Path,
        settings: Settings,
        envs: Any,
        *,
        config: ConfigStore | None = None,
        secrets: SecretsStore | None = None,
    ) -> None:
        self.home = home
        self.settings = settings
        self.envs = envs
        self.graph = Graph()
        self.libraries: dict[str, LibraryState] = {}
        self.hub = WorkerHub(self._handle_from_worker)
        self._facts = authority.GraphFacts(
            self._node_library, self._type_library, self._flow_libraries, self._declared_secrets
        )
        # Config and secrets: the six requests, the worker broadcasts, least privilege (propagation.py).
        self.shared_state = ConfigAndSecrets(
            config or ConfigStore(home / CONFIG_FILE),
            secrets or SecretsStore(home / SECRETS_FILE),
            self._library_workers,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._active_runs: set[asyncio.Event] = set()  # one cancel event per flow run in progress
        self._sync: dict[type[Request], SyncHandler] = {
            CreateFlowRequest: self._create_flow,
            DeleteFlowRequest: self._delete_flow,
            ListFlowsRequest: self._list_flows,
            DeleteNodeRequest: self._delete_node,
            ListNodesInFlowRequest: self._list_nodes,
            ListParametersOnNodeRequest: self._list_parameters,
            AddParameterToNodeRequest: self._add_parameter,
            RemoveParameterFromNodeRequest: self._remove_parameter,
            GetParameterValueRequest: self._get_value,
            GetParameterDetailsRequest: self._get_details,
            CreateConnectionRequest: self._connect,
            DeleteConnectionRequest: self._disconnect,
            ListConnectionsForNodeRequest: self._connections_for_node,
            ListConnectionsForParameterRequest: self._connections_for_parameter,
            ListRegisteredLibrariesRequest: self._list_libraries,
            CreateNodeRequest: self._create_node,
            **self.shared_state.sync_handlers(),
        }
        self._async: dict[type[Request], AsyncHandler] = {
            **self.shared_state.async_handlers(),
            RegisterLibraryRequest: self._register_library,
            ReloadLibraryRequest: self._reload_library,
            SetLibraryModeRequest: self._set_library_mode,
            SetParameterValueRequest: self._set_value,
            ExecuteNodeRequest: self._execute_node,
            RunFlowRequest: self._run_flow,
        }

    def __repr__(self) -> str:
        return f"Orchestrator(home={str(self.home)!r}, libraries={sorted(self.libraries)})"

    # -- lifecycle --------------------------------------------------------------------------------
    async def __aenter__(self) -> Orchestrator:
        self._loop = asyncio.get_running_loop()
        self.shared_state.export()  # Shared libraries read secrets from this process's environment
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for state in self.libraries.values():
            if state.host is not None:
                with contextlib.suppress(Exception):
                    await state.host.close()
        await self.hub.close()
        self.shared_state.unexport()

    @contextlib.contextmanager
    def activated(self) -> Iterator[None]:
        """Let ``nodeisle.handle_request`` reach this orchestrator from a script in this context."""
        with engine_scope(self):
            yield

    # -- request entry points ---------------------------------------------------------------------
    async def handle_async(self, request: Request) -> Result:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        kind = type(request)
        try:
            if kind in self._sync:
                return self._sync[kind](request)
            if kind in self._async:
                return await self._async[kind](request)
            return kind.result_type.failure(f"{kind.__name__} is not handled by the orchestrator")
        except RequestFailed as exc:
            return kind.result_type.failure(str(exc))
        except (ManifestError, LibraryError) as exc:
            return kind.result_type.failure(str(exc))
        except (Exception, SystemExit) as exc:  # SystemExit: library code (a hook, an __init__) called exit()
            LOGGER.exception("internal error while handling %s", kind.__name__)
            return kind.result_type.failure(
                f"internal error while handling {kind.__name__}: {type(exc).__name__}: {exc}"
            )

    def handle_sync(self, request: Request) -> Result:
        loop = self._loop
        if loop is None:
            raise NotConnectedError("the orchestrator is not running: use it inside `async with orchestrator:`")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            kind = type(request)
            if kind not in self._sync:
                raise NotConnectedError(
                    f"{kind.__name__} needs the event loop; from async code use `await nodeisle.ahandle_request(...)`"
                )
            return self._dispatch_sync(request)
        if not loop.is_running() or loop.is_closed():  # nothing would ever answer: fail now, never hang
            raise NotConnectedError("the orchestrator's event loop is not running")
        return asyncio.run_coroutine_threadsafe(self.handle_async(request), loop).result()

    def _dispatch_sync(self, request: Request) -> Result:
        kind = type(request)
        try:
            return self._sync[kind](request)
        except RequestFailed as exc:
            return kind.result_type.failure(str(exc))

    async def _handle_from_worker(self, worker: Any, name: str, payload: Any) -> Any:
        if not isinstance(payload, Request) or type(payload).__name__ != name:
            raise TypeError(f"Worker-{worker.worker_id} sent {name!r}, which is not a request the orchestrator answers")
        refusal = authority.judge(worker.library, payload, self._facts)
        if refusal is not None:
            REFUSALS.warning("Worker-%s [%s] %s", worker.worker_id, worker.library, refusal)
            raise RequestRefused(refusal)  # the peer answers it as an error; the worker raises it in node code
        result = await self.handle_async(payload)
        if isinstance(result, ListRegisteredLibrariesResult):  # another library's worker id is none of its business
            for info in result.libraries:
                if info.name != worker.library:
                    info.worker_id = None
        return result

    def _node_library(self, node_name: str) -> str | None:
        record = self.graph.nodes.get(node_name)
        return record.library if record is not None else None

    def _type_library(self, node_type: str, library: str | None) -> str | None:
        try:
            return self._node_type(node_type, library)[0].name
        except RequestFailed:
            return None

    def _flow_libraries(self, flow_name: str) -> list[str]:
        flow = self.graph.flows.get(flow_name)
        return [self.graph.nodes[n].library for n in flow.nodes] if flow is not None else []

    def _declared_secrets(self, library: str) -> tuple[str, ...] | None:
        state = self.libraries.get(library)
        return state.manifest.declarations.required_secrets if state is not None else ()

    def _library_workers(self) -> list[tuple[LibraryManifest, WorkerProcess | None]]:
        """Each registered library with its worker process (None when it runs Shared or has none)."""
        return [
            (s.manifest, s.host.worker if isinstance(s.host, WorkerHost) else None) for s in self.libraries.values()
        ]

    # -- libraries --------------------------------------------------------------------------------
    async def _register_library(self, request: RegisterLibraryRequest) -> RegisterLibraryResult:
        manifest = load_manifest(request.path, require_inside=True)
        wanted = _parse_mode(manifest.name, request.mode) if request.mode is not None else None
        if manifest.name in self.libraries:
            existing = self.libraries[manifest.name].manifest.path
            if existing == manifest.path:
                return RegisterLibraryResult(library_name=manifest.name, message="already registered")
            raise RequestFailed(f"a library named {manifest.name!r} is already registered from {existing}")
        for warning in manifest.warnings:
            LOGGER.warning("%s", warning)
        requested = wanted or self.settings.library_modes.get(manifest.name)
        state = LibraryState(manifest, resolve_mode(manifest, requested))
        self.libraries[manifest.name] = state
        await self._load(state)
        result = RegisterLibraryResult(library_name=manifest.name, warnings=[str(w) for w in manifest.warnings])
        if state.error:
            return RegisterLibraryResult.failure(state.error, library_name=manifest.name, warnings=result.warnings)
        return result

    async def _load(self, state: LibraryState) -> None:
        if state.mode is LibraryMode.ISOLATED:
            host: NodeHost = WorkerHost(
                state.manifest,
                self.hub,
                self.envs,
                probe_timeout=self.settings.probe_timeout,
                start_timeout=float(self.shared_state.setting("worker_start_timeout")),
                max_value_bytes=int(self.shared_state.setting("max_value_bytes")),
                provision=lambda: self.shared_state.provision(state.manifest),
                runtime_source=Path(nodeisle.__file__).parent,
                supervision=Supervision(
                    heartbeat_interval=self.settings.heartbeat_interval,
                    heartbeat_timeout=self.settings.heartbeat_timeout,
                    crash_limit=self.settings.crash_limit,
                    crash_window=self.settings.crash_window,
                ),
            )
        else:
            host = LocalHost(state.manifest, self, self.settings.probe_timeout)
        state.host, state.error = host, None
        try:
            report = await host.load()
        except (LibraryError, ManifestError) as exc:
            state.error = str(exc)
            # One line: the whole error (an installer's output, say) is in the result, and that is shown.
            log = f" (installer log: {exc.log_path})" if isinstance(exc, EnvironmentBuildError) else ""
            LOGGER.error("%s%s", headline(state.error), log)
            LOGGER.debug("%s", exc)
            return
        state.schemas, state.dropped, state.violations = report.schemas, report.dropped, report.violations
        for dropped in report.dropped:
            LOGGER.warning(
                "library %r: node class %r dropped: %s%s",
                state.name,
                dropped.class_name,
                dropped.reason,
                f"\n{dropped.traceback}" if dropped.traceback else "",
            )

    async def _reload_library(self, request: ReloadLibraryRequest) -> Result:
        state = self._library(request.library_name)
        if state.host is not None:
            await state.host.close()
        try:
            state.manifest = load_manifest(state.manifest.path, require_inside=True)
        except ManifestError as exc:  # the library stays registered, marked failed with why
            state.host, state.schemas, state.dropped, state.error = None, {}, [], str(exc)
            return Result.failure(state.error)
        await self._load(state)
        return Result.failure(state.error) if state.error else Result(message=f"reloaded {state.name!r}")

    async def _set_library_mode(self, request: SetLibraryModeRequest) -> Result:
        state = self._library(request.library_name)
        mode = resolve_mode(state.manifest, _parse_mode(state.name, request.mode))
        if mode is not state.mode:
            if state.host is not None:
                await state.host.close()
            state.mode = mode
            await self._load(state)
        return Result.failure(state.error) if state.error else Result(message=f"{state.name!r} runs {mode}")

    def _library(self, name: str) -> LibraryState:
        try:
            return self.libraries[name]
        except KeyError:
            raise RequestFailed(
                f"no library named {name!r} is registered; registered: {', '.join(self.libraries) or '(none)'}"
            ) from None

    def _list_libraries(self, _request: ListRegisteredLibrariesRequest) -> ListRegisteredLibrariesResult:
        return ListRegisteredLibrariesResult(libraries=[describe_library(s) for s in self.libraries.values()])

    # -- flows and nodes --------------------------------------------------------------------------
    def _create_flow(self, request: CreateFlowRequest) -> CreateFlowResult:
        return CreateFlowResult(flow_name=self.graph.create_flow(request.flow_name).name)

    def _delete_flow(self, request: DeleteFlowRequest) -> Result:
        self.graph.delete_flow(request.flow_name)
        return Result()

    def _list_flows(self, _request: ListFlowsRequest) -> ListFlowsResult:
        return ListFlowsResult(flow_names=list(self.graph.flows))

    def _create_node(self, request: CreateNodeRequest) -> CreateNodeResult:
        state, schema = self._node_type(request.node_type, request.library_name)
        flow = self.graph.flow(request.flow_name) if request.flow_name else self.graph.default_flow()
        name = request.node_name or self.graph.unique_node_name(request.node_type)
        _check_timeout(name, request.metadata, "CreateNodeRequest.metadata")
        metadata = {**{k: v for k, v in schema.metadata.items() if v is not None}, **(request.metadata or {})}
        self.graph.add_node(
            NodeRecord(name, flow.name, state.name, schema.class_name, metadata, list(schema.parameters))
        )
        return CreateNodeResult(node_name=name)

    def _node_type(self, node_type: str, library: str | None) -> tuple[LibraryState, _hosting.NodeTypeSchema]:
        candidates = [self._library(library)] if library else list(self.libraries.values())
        found = [(s, s.schemas[node_type]) for s in candidates if node_type in s.schemas]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise RequestFailed(
                f"node type {node_type!r} exists in several libraries "
                f"({', '.join(s.name for s, _ in found)}); name the library"
            )
        for state in candidates:
            for dropped in state.dropped:
                if dropped.class_name == node_type:
                    raise RequestFailed(
                        f"node type {node_type!r} of library {state.name!r} was dropped at load: {dropped.reason}"
                    )
            if state.error and (state.manifest.node(node_type) is not None):
                raise RequestFailed(f"node type {node_type!r}: library {state.name!r} failed to load: {state.error}")
        where = f"library {library!r}" if library else "any registered library"
        raise RequestFailed(f"no node type {node_type!r} in {where}")

    def _delete_node(self, request: DeleteNodeRequest) -> Result:
        self.graph.delete_node(request.node_name)
        return Result()

    def _list_nodes(self, request: ListNodesInFlowRequest) -> ListNodesInFlowResult:
        return ListNodesInFlowResult(node_names=list(self.graph.flow(request.flow_name).nodes))

    # -- parameters -------------------------------------------------------------------------------
    def _list_parameters(self, request: ListParametersOnNodeRequest) -> ListParametersOnNodeResult:
        return ListParametersOnNodeResult(parameter_names=[s.name for s in self.graph.node(request.node_name).specs])

    def _add_parameter(self, request: AddParameterToNodeRequest) -> Result:
        try:
            spec = ParameterSpec.from_dict(
                {
                    "name": request.parameter_name,
                    "type": request.type,
                    "default_value": request.default_value,
                    "tooltip": request.tooltip,
                    "allowed_modes": request.allowed_modes,
                }
            )
        except ValueError as exc:
            raise RequestFailed(f"AddParameterToNodeRequest for node {request.node_name!r}: {exc}") from None
        if not request.parameter_name.isidentifier():
            raise RequestFailed(f"parameter name {request.parameter_name!r} must be a Python identifier")
        self.graph.add_parameter(request.node_name, spec)
        return Result(message=f"added {request.node_name}.{request.parameter_name}")

    def _remove_parameter(self, request: RemoveParameterFromNodeRequest) -> Result:
        self.graph.remove_parameter(request.node_name, request.parameter_name)
        return Result(message=f"removed {request.node_name}.{request.parameter_name}")

    async def _set_value(self, request: SetParameterValueRequest) -> Result:
        deadline = Deadline(self.settings.execution_timeout, "the execution_timeout setting")
        for _attempt in range(3):
            record = self.graph.node(request.node_name)
            record.spec(request.parameter_name)
            host = self._host(record)
            version = record.version
            try:
                specs, _violations = await host.apply_value(record, request.parameter_name, request.value, deadline)
            except _hosting.HydrationError as exc:
                raise RequestFailed(f"node {record.name!r}: {exc}") from None
            except KeyError as exc:
                raise RequestFailed(str(exc.args[0]) if exc.args else str(exc)) from None
            if self.graph.nodes.get(record.name) is not record:
                raise RequestFailed(f"node {record.name!r} was deleted while its value was being set")
            if record.version == version:  # nothing changed the node meanwhile: the hooks' result stands
                record.values[request.parameter_name] = request.value
                self.graph.replace_specs(record, specs)
                return Result()
        raise RequestFailed(
            f"node {request.node_name!r} kept changing while {request.parameter_name!r} was being set; try again"
        )

    def _get_value(self, request: GetParameterValueRequest) -> GetParameterValueResult:
        return GetParameterValueResult(value=self.graph.node(request.node_name).value(request.parameter_name))

    def _get_details(self, request: GetParameterDetailsRequest) -> GetParameterDetailsResult:
        spec = self.graph.node(request.node_name).spec(request.parameter_name)
        return GetParameterDetailsResult(
            type=spec.type,
            default_value=spec.default_value,
            tooltip=spec.tooltip,
            allowed_modes=[str(m) for m in spec.allowed_modes],
        )

    # -- connections ------------------------------------------------------------------------------
    @staticmethod
    def _connection(request: CreateConnectionRequest | DeleteConnectionRequest) -> ConnectionInfo:
        return ConnectionInfo(
            source_node_name=request.source_node_name,
            source_parameter_name=request.source_parameter_name,
            target_node_name=request.target_node_name,
            target_parameter_name=request.target_parameter_name,
        )

    def _connect(self, request: CreateConnectionRequest) -> Result:
        self.graph.connect(self._connection(request))
        return Result()

    def _disconnect(self, request: DeleteConnectionRequest) -> Result:
        self.graph.disconnect(self._connection(request))
        return Result()

    def _connections_for_node(self, request: ListConnectionsForNodeRequest) -> ListConnectionsForNodeResult:
        incoming, outgoing = self.graph.connections_of(request.node_name)
        return ListConnectionsForNodeResult(incoming=incoming, outgoing=outgoing)

    def _connections_for_parameter(self, request: ListConnectionsForParameterRequest) -> ListConnectionsForNodeResult:
        incoming, outgoing = self.graph.connections_of(request.node_name, request.parameter_name)
        return ListConnectionsForNodeResult(incoming=incoming, outgoing=outgoing)

    # -- execution --------------------------------------------------------------------------------
    def _host(self, record: NodeRecord) -> NodeHost:
        state = self._library(record.library)
        failure = state.error or (state.host.failure() if state.host else "no host")
        if state.host is None or failure:
            raise RequestFailed(f"node {record.name!r}: library {state.name!r} is not usable: {failure}")
        return state.host

    async def execute(self, record: NodeRecord, inputs: dict[str, Any]) -> _hosting.ExecutionOutcome:
        """Run one node with its stored values overlaid by ``inputs``; store its outputs."""
        for name in inputs:
            record.spec(name)
        _check_timeout(record.name, record.metadata, "its metadata")
        timeout = record.metadata.get("timeout")
        if timeout is not None:
            deadline = Deadline(float(timeout), f"node {record.name!r}'s timeout")
        else:
            deadline = Deadline(self.settings.execution_timeout, "the execution_timeout setting")
        sent = list(record.specs)
        outcome = await self._host(record).execute(record, inputs, deadline)
        if outcome.specs is not None and self.graph.nodes.get(record.name) is record:
            self._adopt_hydration(record, sent, outcome.specs)
        if outcome.error is None:
            # Not on the node when process() ended, nor added to the graph meanwhile (AddParameterToNodeRequest)
            unknown = sorted(set(outcome.strays) - {s.name for s in record.specs})
            if unknown:
                known = ", ".join(s.name for s in record.specs) or "(none)"
                return _hosting.ExecutionOutcome({}, outcome.violations, RemoteError(
                    type="UnknownParameter",
                    message=f"node {record.name!r} wrote output {unknown[0]!r}, but it has no parameter of that name "
                    f"(its parameters are: {known}); add the parameter in __init__ (or with "
                    "AddParameterToNodeRequest) before writing to it",
                ))
            record.outputs = dict(outcome.outputs)
        return outcome

    def _adopt_hydration(self, record: NodeRecord, sent: list[ParameterSpec], after: list[ParameterSpec]) -> None:
        """Keep what the inputs' hooks added or removed, as when a user sets a value; what requests changed
        during the execution (AddParameterToNodeRequest ...) stays too."""
        before = {s.name for s in sent}
        added = [s for s in after if s.name not in before]
        removed = before - {s.name for s in after}
        current = [s for s in record.specs if s.name not in removed]
        present = {s.name for s in current}
        self.graph.replace_specs(record, [*current, *(s for s in added if s.name not in present)])

    async def _execute_node(self, request: ExecuteNodeRequest) -> ExecuteNodeResult:
        record = self.graph.node(request.node_name)
        _check_timeout(record.name, request.node_metadata, "ExecuteNodeRequest.node_metadata")
        if request.node_metadata:
            record.metadata = {**record.metadata, **request.node_metadata}
        outcome = await self.execute(record, dict(request.parameter_values))
        violations = [v.to_dict() for v in outcome.violations]
        if outcome.error is not None:
            return ExecuteNodeResult.failure(
                f"node {record.name!r} failed: {outcome.error}",
                error=outcome.error,
                violations=violations,
            )
        return ExecuteNodeResult(parameter_output_values=outcome.outputs, violations=violations)

    async def _run_flow(self, request: RunFlowRequest) -> Result:
        from nodeisle.flow.runner import run_flow

        flow = self.graph.flow(request.flow_name)
        cancel = asyncio.Event()
        self._active_runs.add(cancel)
        try:
            return await run_flow(self, flow, cancel)
        finally:
            self._active_runs.discard(cancel)

    def cancel_runs(self) -> None:
        """Cancel every flow run in progress (Ctrl-C): executions in flight are cancelled, nothing new starts."""
        for cancel in self._active_runs:
            cancel.set()


def _parse_mode(library: str, mode: object) -> LibraryMode:
    try:
        return LibraryMode.parse(mode)
    except ValueError as exc:
        raise RequestFailed(f"library {library!r}: {exc}") from None


def _check_timeout(node: str, metadata: Mapping[str, Any] | None, where: str) -> None:
    """Refuse a node ``timeout`` that is not a positive, finite number of seconds (NaN would disable the deadline)."""
    if metadata and metadata.get("timeout") is not None:
        problem = timeout_problem(metadata["timeout"])
        if problem is not None:
            raise RequestFailed(f"node {node!r}: {where}: {problem}")


def build_orchestrator(
    home: Path | None = None, settings: Settings | None = None, config_flags: Mapping[str, Any] | None = None
) -> Orchestrator:
    """The composition root: engine home, settings and config, secrets, environment manager, orchestrator.

    ``config_flags`` are the command line's ``-c KEY=VALUE`` values (the highest config layer,
    nodeisle.config.store). Raises ConfigError for an unreadable config.json or a bad
    ``NODEISLE_*`` variable.
    """
    from nodeisle.orchestrator.envs import EnvManager

    home = home or engine_home()
    config = ConfigStore(home / CONFIG_FILE, flags=config_flags)
    settings = config.apply_to(settings or Settings.load(home))
    cache = config.snapshot().uv_cache
    envs = EnvManager(
        home / "envs",
        find_links=list(settings.find_links),
        offline=settings.offline,
        cache_dir=Path(cache) if cache else None,
        # A failed step shows its first line: the whole error (uv's output) is the library's error, shown once.
        progress=lambda p: PROGRESS.info("env %s: %s (%.1f s) %s", p.library, p.step, p.elapsed_s, headline(p.detail)),
    )
    return Orchestrator(home, settings, envs, config=config, secrets=SecretsStore(home / SECRETS_FILE))
