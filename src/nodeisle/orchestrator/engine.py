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
from nodeisle.config.table import EngineConfig
from nodeisle.errors import LibraryError, ManifestError, NotConnectedError, RequestRefused, headline
from nodeisle.flow.graph import Flow, Graph, NodeRecord, RequestFailed
from nodeisle.flow.scheduling import Schedule
from nodeisle.manifest import LibraryManifest
from nodeisle.node import hosting as _hosting
from nodeisle.node.scope import engine as engine_scope
from nodeisle.node.spec import ParameterSpec
from nodeisle.orchestrator import authority, sandbox
from nodeisle.orchestrator import events as _events
from nodeisle.orchestrator.deadline import Deadline
from nodeisle.orchestrator.graph_requests import GraphRequests, check_timeout
from nodeisle.orchestrator.hostapi import NodeHost
from nodeisle.orchestrator.hosts import LocalHost, Supervision, WorkerHost
from nodeisle.orchestrator.interpreters import PythonFinder
from nodeisle.orchestrator.launch import Launcher
from nodeisle.orchestrator.libraries import LibraryRegistry, LibraryState, describe_library
from nodeisle.orchestrator.overlays import SharedDeps
from nodeisle.orchestrator.planner import answer_plan
from nodeisle.orchestrator.propagation import ConfigAndSecrets
from nodeisle.orchestrator.sandbox import SandboxChoice
from nodeisle.orchestrator.static_files import STATIC_FILES_DIR, StaticFiles
from nodeisle.orchestrator.static_files import answer as _save_static_file
from nodeisle.orchestrator.workers import WorkerHub, WorkerProcess
from nodeisle.requests import (
    ExecuteNodeRequest,
    ExecuteNodeResult,
    ListRegisteredLibrariesRequest,
    ListRegisteredLibrariesResult,
    NodeRunResult,
    PlanRequest,
    RegisterLibraryRequest,
    RegisterLibraryResult,
    ReloadLibraryRequest,
    RemoteError,
    Request,
    Result,
    RunFlowRequest,
    RunFlowResult,
    SaveStaticFileRequest,
    SetLibraryModeRequest,
    SetParameterValueRequest,
)

LOGGER = logging.getLogger("nodeisle.engine")
PROGRESS = logging.getLogger("nodeisle.progress")
REFUSALS = _logs.guard(logging.getLogger("nodeisle.authority"), _logs.by_text)  # per refusal, not per call site


SyncHandler = Callable[[Any], Result]
AsyncHandler = Callable[[Any], Awaitable[Result]]


class Orchestrator:
    def __init__(
        self,
        home: Path,
        settings: Settings,
        envs: Any,
        *,
        config: EngineConfig | None = None,
        store: ConfigStore | None = None,
        secrets: SecretsStore | None = None,
        events: _events.EventBus | None = None,
    ) -> None:
        self.home = home
        #: What observers (the editor) subscribe to: library, env, worker, node-status and log events.
        self.events = events or _events.EventBus()
        self.settings = settings
        self.envs = envs
        self.graph = Graph()
        self.registry = LibraryRegistry(self._new_host, settings.library_modes.get)
        self.libraries: dict[str, LibraryState] = self.registry.states
        self.hub = WorkerHub(self._handle_from_worker)
        self.launcher: Launcher | None = None  # None: workers are subprocesses (nodeisle.orchestrator.launch)
        self.pythons = PythonFinder()  # the interpreters on this machine, found once, for Isolated envs
        self.shared_deps = SharedDeps(envs.resolver, home / "overlays") if hasattr(envs, "resolver") else None
        # Config and secrets: the six requests, the worker broadcasts, least privilege (propagation.py).
        self.shared_state = ConfigAndSecrets(
            store or ConfigStore(home / CONFIG_FILE),
            secrets or SecretsStore(home / SECRETS_FILE),
            self._library_workers,
        )
        #: The tunables, frozen when the engine is built (broadcast_timeout and worker_start_timeout are
        #: read from the store at each use: a change applies at the next broadcast or worker start).
        self.config = config if config is not None else self.shared_state.config.snapshot()
        self.static_files = StaticFiles(home / STATIC_FILES_DIR)  # written here only, for Shared and Isolated alike
        self._facts = authority.GraphFacts(
            self._node_library, self._type_library, self._flow_libraries, self._declared_secrets,
            fed_libraries=self._fed_libraries, declared_by=self._declared_by,
            operator_set=self.shared_state.secrets.is_operator_set, known_secret=self._known_secret,
            config_categories=self.shared_state.library_categories,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._active_runs: set[asyncio.Event] = set()  # one cancel event per flow run in progress
        graph_requests = GraphRequests(
            self.graph, self.registry, self._host,
            lambda: Deadline(self.config.execution_timeout, "the execution_timeout setting"),
        )
        self._sync: dict[type[Request], SyncHandler] = {
            **graph_requests.sync_handlers(),
            ListRegisteredLibrariesRequest: self.registry.list,
            **self.shared_state.sync_handlers(),
            # Shared node code in an async process saves from the loop itself: written there, blocking it briefly
            SaveStaticFileRequest: self._save_static_file_now,
        }
        self._async: dict[type[Request], AsyncHandler] = {
            **graph_requests.async_handlers(),
            **self.shared_state.async_handlers(),
            RegisterLibraryRequest: self.registry.register,
            PlanRequest: lambda r: answer_plan(r, self.registry, self.envs, self.pythons, self.settings),
            ReloadLibraryRequest: self.registry.reload,
            SetLibraryModeRequest: self.registry.set_mode,
            SetParameterValueRequest: self._set_value,
            ExecuteNodeRequest: self._execute_node,
            RunFlowRequest: self._run_flow,
            SaveStaticFileRequest: self._save_static_file,
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
        await self.registry.close()
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
            if kind in self._async:  # a kind in both: the async handler, unless the caller is on the loop
                result = await self._async[kind](request)
                self._library_changed(request, result)
                return result
            if kind in self._sync:
                return self._sync[kind](request)
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

    def _library_changed(self, request: Request, result: Result) -> None:
        """After a library request, tell observers the library's new state (a failed load is a state too)."""
        if isinstance(request, RegisterLibraryRequest) and isinstance(result, RegisterLibraryResult):
            name = result.library_name
        elif isinstance(request, (ReloadLibraryRequest, SetLibraryModeRequest)):
            name = request.library_name
        else:
            return
        state = self.libraries.get(name) if name is not None else None
        if state is not None:
            _events.library_changed(self.events, describe_library(state), state.violations)

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
            return self.registry.node_type(node_type, library)[0].name
        except RequestFailed:
            return None

    def _flow_libraries(self, flow_name: str) -> list[str]:
        flow = self.graph.flows.get(flow_name)
        return [self.graph.nodes[n].library for n in flow.nodes] if flow is not None else []

    def _fed_libraries(self, node_name: str, parameter: str | None) -> list[str]:
        record = self.graph.nodes.get(node_name)
        if record is None:
            return []
        outgoing = self.graph.flows[record.flow].connections
        return [
            self.graph.nodes[c.target_node_name].library
            for c in outgoing
            if c.source_node_name == node_name and parameter in (None, c.source_parameter_name)
        ]

    def _declared_by(self, key: str) -> list[str]:
        return [s.name for s in self.libraries.values() if key in (s.manifest.declarations.required_secrets or ())]

    def _known_secret(self, key: str) -> bool:
        return key in self.shared_state.secret_names()

    def _declared_secrets(self, library: str) -> tuple[str, ...] | None:
        state = self.libraries.get(library)
        return state.manifest.declarations.required_secrets if state is not None else ()

    def _library_workers(self) -> list[tuple[LibraryManifest, WorkerProcess | None]]:
        """Each registered library with its worker process (None when it runs Shared or has none)."""
        return [
            (s.manifest, s.host.worker if isinstance(s.host, WorkerHost) else None) for s in self.libraries.values()
        ]

    def _new_host(self, state: LibraryState) -> NodeHost:
        """Where ``state``'s nodes run: in this process (Shared), or in a worker on the library's env (Isolated)."""
        config = self.config
        # The defaults its manifest's settings declare are config before its code runs, in either mode.
        self.shared_state.refresh_library_defaults()
        python = self.settings.library_pythons.get(state.name)
        if state.mode is not LibraryMode.ISOLATED:
            return LocalHost(state.manifest, self, config.probe_timeout, pythons=self.pythons, python_setting=python,
                             deps=self.shared_deps)
        self.hub.state_listener = self._worker_state  # here, not in __init__: a test may swap the hub
        return WorkerHost(
            state.manifest,
            self.hub,
            self.envs,
            launcher=self.launcher,
            pythons=self.pythons,
            python_setting=python,
            limits=self.settings.library_limits.get(state.name),
            sandbox=self._sandbox(state),
            probe_timeout=config.probe_timeout,
            start_timeout=float(self.shared_state.setting("worker_start_timeout")),
            max_value_bytes=int(self.shared_state.setting("max_value_bytes")),
            provision=lambda: self.shared_state.provision(state.manifest),
            runtime_source=Path(nodeisle.__file__).parent,
            supervision=Supervision(
                heartbeat_interval=config.heartbeat_interval,
                heartbeat_timeout=config.heartbeat_timeout,
                crash_limit=config.crash_limit,
                crash_window=config.crash_window,
            ),
        )

    def _worker_state(self, worker: WorkerProcess) -> None:
        state = str(worker.state)
        self.events.emit(_events.WorkerStateChanged(library=worker.library, worker_id=worker.worker_id, state=state))

    def _sandbox(self, state: LibraryState) -> SandboxChoice | None:
        """The library's sandbox, if it runs in one: it must not see the engine home or other libraries."""
        folders = [Path(p).parent for p in self.settings.libraries]
        folders += [s.manifest.directory for s in self.libraries.values()]
        hidden = sandbox.hidden_paths(self.home, state.manifest.directory, folders, Path.home())
        return sandbox.choose(self.settings.library_sandbox.get(state.name), self.config.sandbox, hidden)

    async def _set_value(self, request: SetParameterValueRequest) -> Result:
        deadline = Deadline(self.config.execution_timeout, "the execution_timeout setting")
        for _attempt in range(3):
            record = self.graph.node(request.node_name)
            record.spec(request.parameter_name)
            host = await self._host(record)
            version = record.version
            try:
                specs, violations = await host.apply_value(record, request.parameter_name, request.value, deadline)
                _events.emit_violations(self.events, violations, record.name)
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

    async def _save_static_file(self, request: SaveStaticFileRequest) -> Result:
        return await asyncio.to_thread(self._save_static_file_now, request)

    def _save_static_file_now(self, request: SaveStaticFileRequest) -> Result:
        return _save_static_file(self.static_files, request, int(self.shared_state.setting("max_value_bytes")))

    # -- execution --------------------------------------------------------------------------------
    async def _host(self, record: NodeRecord) -> NodeHost:
        state = self.registry.get(record.library)
        await state.loaded.wait()  # a library being (re)loaded or switched: its nodes wait for the result
        failure = state.error or (state.host.failure() if state.host else "no host")
        if state.host is None or failure:
            raise RequestFailed(f"node {record.name!r}: library {state.name!r} is not usable: {failure}")
        return state.host

    async def execute(self, record: NodeRecord, inputs: dict[str, Any]) -> _hosting.ExecutionOutcome:
        """Run one node with its stored values overlaid by ``inputs``; store its outputs."""
        for name in inputs:
            record.spec(name)
        check_timeout(record.name, record.metadata, "its metadata")
        timeout = record.metadata.get("timeout")
        if timeout is not None:
            deadline = Deadline(float(timeout), f"node {record.name!r}'s timeout")
        else:
            deadline = Deadline(self.config.execution_timeout, "the execution_timeout setting")
        sent = list(record.specs)
        outcome = await (await self._host(record)).execute(record, inputs, deadline)
        _events.emit_violations(self.events, outcome.violations, record.name)
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
        check_timeout(record.name, request.node_metadata, "ExecuteNodeRequest.node_metadata")
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
        return await self._run(self.graph.flow(request.flow_name))

    async def run_upstream(self, node_name: str) -> RunFlowResult:
        """Run ``node_name`` and every node it depends on, as a run of its flow (the editor's ``Run <node>``)."""
        record = self.graph.node(node_name)
        flow = self.graph.flow(record.flow)
        plan = Schedule(flow.nodes, ((c.source_node_name, c.target_node_name) for c in flow.connections))
        keep = {*plan.all_upstream(node_name), node_name}
        part = Flow(flow.name, [n for n in flow.nodes if n in keep], [
            c for c in flow.connections if c.source_node_name in keep and c.target_node_name in keep
        ])
        return await self._run(part)

    async def _run(self, flow: Flow) -> RunFlowResult:
        from nodeisle.flow.runner import run_flow

        cancel = asyncio.Event()
        self._active_runs.add(cancel)
        try:
            result = await run_flow(self.graph, flow, self.execute, cancel, self._reporter(flow.name))
        finally:
            self._active_runs.discard(cancel)
        self.events.emit(_events.RunFinished(flow=flow.name, status=result.status, message=result.message))
        return result

    def _reporter(self, flow: str) -> Callable[[str, NodeRunResult], None]:
        def report(node: str, result: NodeRunResult) -> None:
            self.events.emit(_events.NodeStatusChanged(
                flow=flow, node=node, status=result.status, outputs=dict(result.outputs), error=result.error,
                violations=list(result.violations),
            ))

        return report

    def cancel_runs(self) -> None:
        """Cancel every flow run in progress (Ctrl-C): executions in flight are cancelled, nothing new starts."""
        for cancel in self._active_runs:
            cancel.set()


def build_orchestrator(
    home: Path | None = None, settings: Settings | None = None, config_flags: Mapping[str, Any] | None = None
) -> Orchestrator:
    """The composition root: engine home, settings and config, secrets, environment manager, orchestrator.

    ``settings`` are the registered libraries and their modes (default: the home's ``settings.json``).
    ``config_flags`` are the command line's ``-c KEY=VALUE`` values (the highest config layer,
    nodeisle.config.store), also the way to set a tunable from code. The engine is built with the
    frozen :class:`~nodeisle.config.table.EngineConfig` of every layer. Raises ConfigError for an
    unreadable config.json or a bad ``NODEISLE_*`` variable.
    """
    from nodeisle.orchestrator.envs import EnvManager

    home = home or engine_home()
    store = ConfigStore(home / CONFIG_FILE, flags=config_flags)
    config = store.snapshot()
    events = _events.EventBus()

    def progress(p: Any) -> None:
        PROGRESS.info("env %s: %s (%.1f s) %s", p.library, p.step, p.elapsed_s, headline(p.detail))
        step = _events.EnvBuildProgress(library=p.library, step=str(p.step), elapsed_s=p.elapsed_s, detail=p.detail)
        events.emit(step)

    envs = EnvManager(
        home / "envs",
        find_links=config.find_links,
        offline=config.offline,
        cache_dir=Path(config.uv_cache) if config.uv_cache else None,
        # A failed step shows its first line: the whole error (uv's output) is the library's error, shown once.
        progress=progress,
    )
    return Orchestrator(
        home,
        settings or Settings.load(home),
        envs,
        config=config,
        store=store,
        secrets=SecretsStore(home / SECRETS_FILE),
        events=events,
    )
