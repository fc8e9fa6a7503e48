"""The orchestrator's registered libraries: each one's state and mode, registering, (re)loading and
switching them (:class:`LibraryRegistry`), and how ``libraries list`` describes one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from nodeisle.errors import EnvironmentBuildError, LibraryError, ManifestError, headline
from nodeisle.flow.graph import RequestFailed
from nodeisle.manifest import Compatibility, LibraryManifest, WorkerMode, load_manifest
from nodeisle.node import hosting as _hosting
from nodeisle.orchestrator.hostapi import NodeHost
from nodeisle.requests import (
    LibraryInfo,
    LibraryMode,
    ListRegisteredLibrariesRequest,
    ListRegisteredLibrariesResult,
    RegisterLibraryRequest,
    RegisterLibraryResult,
    ReloadLibraryRequest,
    Result,
    SetLibraryModeRequest,
)
from nodeisle.strict.rules import Violation

LOGGER = logging.getLogger("nodeisle.engine")


@dataclass
class LibraryState:
    manifest: LibraryManifest
    mode: LibraryMode
    host: NodeHost | None = None
    schemas: dict[str, _hosting.NodeTypeSchema] = field(default_factory=dict)
    dropped: list[_hosting.DroppedClass] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    error: str | None = None
    python: str | None = None  # the interpreter its code runs on, and why (LoadReport.python)
    # Set when no load is in progress: an execution that arrives during a (re)load or a mode switch
    # waits for it, rather than meeting a worker that is not connected yet.
    loaded: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def name(self) -> str:
        return self.manifest.name


@contextlib.contextmanager
def _loading(state: LibraryState) -> Iterator[None]:
    """While this block runs, executions of ``state``'s nodes wait (``state.loaded``). Not to be nested."""
    state.loaded.clear()
    try:
        yield
    finally:
        state.loaded.set()


def resolve_mode(manifest: LibraryManifest, requested: LibraryMode | None) -> LibraryMode:
    """The user's choice, else the manifest's suggestion, else Shared. INCOMPATIBLE is never isolated."""
    if requested is LibraryMode.ISOLATED and manifest.declarations.compatibility is Compatibility.INCOMPATIBLE:
        raise RequestFailed(
            f"library {manifest.name!r} cannot run Isolated: its manifest ({manifest.path}) declares "
            "worker_mode_compatibility INCOMPATIBLE, so it only works in the orchestrator process (Shared)"
        )
    if requested is not None:
        return requested
    if manifest.declarations.suggested_mode is WorkerMode.WORKER:
        return LibraryMode.ISOLATED
    return LibraryMode.SHARED


def same_name_as(manifest: LibraryManifest, registered: Iterable[str]) -> str | None:
    """Why ``manifest`` cannot be registered beside ``registered`` (manifest paths), or None if it can.

    Another library of the same name would only fail later, when an engine loads both. A registered
    manifest that cannot be read now is passed over: ``libraries list`` reports it.
    """
    for path in registered:
        if path == str(manifest.path):
            continue
        try:
            other = load_manifest(path).name
        except ManifestError:
            continue
        if other == manifest.name:
            return (
                f"a library named {manifest.name!r} is already registered from {path}; {manifest.path} has the "
                f"same name, and an engine loads only one library of a name. Remove the other first "
                f"(`nodeisle libraries remove {shlex.quote(path)}`) or rename one of them"
            )
    return None


def describe_library(state: LibraryState) -> LibraryInfo:
    """What ``nodeisle libraries list`` shows of one library."""
    worker_id, worker_state = state.host.describe() if state.host else (None, None)
    problems = [f"node class {d.class_name!r} dropped: {d.reason}" for d in state.dropped]
    failure = state.error or (state.host.failure() if state.host else None)
    if failure:
        problems.insert(0, failure)
    if failure and worker_state is None and state.mode is LibraryMode.ISOLATED:
        worker_state = "failed"  # no worker: its environment or its start failed
    decl = state.manifest.declarations
    return LibraryInfo(
        name=state.name,
        path=str(state.manifest.path),
        compatibility=str(decl.compatibility),
        suggested_mode=str(decl.suggested_mode) if decl.suggested_mode else None,
        effective_mode=str(state.mode),
        status="failed" if failure else "loaded",
        worker_id=worker_id,
        worker_state=worker_state,
        problems=problems,
        node_types=sorted(state.schemas),
        # None: every secret. required_secrets binds a worker; a Shared library shares this process.
        readable_secrets=(
            list(decl.required_secrets)
            if decl.required_secrets is not None and state.mode is LibraryMode.ISOLATED
            else None
        ),
        dropped=[d.to_dict() for d in state.dropped],
        python=state.python,
        python_setting=state.host.python_setting if state.host else None,
        containment=containment_info(state),
    )


def containment_info(state: LibraryState) -> dict[str, Any] | None:
    """The library's limits and what enforces them on this machine (None when it has none)."""
    limits = getattr(state.host, "limits", None)
    box = getattr(state.host, "sandbox", None)
    info: dict[str, Any] = {"sandbox": box.to_dict()} if box is not None else {}
    if limits is None or not limits.to_dict():
        return info or None
    info["limits"] = limits.to_dict()
    planner = getattr(state.host, "containment_plan", None)
    if planner is None:
        info.update(mechanism="none", reason="it runs Shared, in the orchestrator's process: limits apply Isolated")
    else:
        info.update(planner().to_dict())
    return info


#: Builds the host a library's nodes run on, for its state's mode (the orchestrator's composition).
HostFactory = Callable[[LibraryState], NodeHost]


class LibraryRegistry:
    """The registered libraries by name, and the four library requests.

    ``make_host`` decides where a library runs (in process, or in a worker); ``saved_mode`` is the
    mode ``settings.json`` keeps for a library, used when a request names none.
    """

    def __init__(self, make_host: HostFactory, saved_mode: Callable[[str], LibraryMode | None]) -> None:
        self.states: dict[str, LibraryState] = {}
        self._make_host = make_host
        self._saved_mode = saved_mode

    def __repr__(self) -> str:
        return f"LibraryRegistry({sorted(self.states)})"

    def get(self, name: str) -> LibraryState:
        try:
            return self.states[name]
        except KeyError:
            raise RequestFailed(
                f"no library named {name!r} is registered; registered: {', '.join(self.states) or '(none)'}"
            ) from None

    async def close(self) -> None:
        for state in self.states.values():
            if state.host is not None:
                with contextlib.suppress(Exception):
                    await state.host.close()

    # -- the requests -----------------------------------------------------------------------------
    async def register(self, request: RegisterLibraryRequest) -> RegisterLibraryResult:
        manifest = load_manifest(request.path, require_inside=True)
        wanted = parse_mode(manifest.name, request.mode) if request.mode is not None else None
        if manifest.name in self.states:
            existing = self.states[manifest.name].manifest.path
            if existing == manifest.path:
                return RegisterLibraryResult(library_name=manifest.name, message="already registered")
            raise RequestFailed(f"a library named {manifest.name!r} is already registered from {existing}")
        for warning in manifest.warnings:
            LOGGER.warning("%s", warning)
        state = LibraryState(manifest, resolve_mode(manifest, wanted or self._saved_mode(manifest.name)))
        self.states[manifest.name] = state
        await self.load(state)
        warnings = [str(w) for w in manifest.warnings]
        if state.error:
            return RegisterLibraryResult.failure(state.error, library_name=manifest.name, warnings=warnings)
        return RegisterLibraryResult(library_name=manifest.name, warnings=warnings)

    async def reload(self, request: ReloadLibraryRequest) -> Result:
        state = self.get(request.library_name)
        with _loading(state):
            if state.host is not None:
                await state.host.close()
            try:
                state.manifest = load_manifest(state.manifest.path, require_inside=True)
            except ManifestError as exc:  # the library stays registered, marked failed with why
                state.host, state.schemas, state.dropped, state.error = None, {}, [], str(exc)
                return Result.failure(state.error)
            await self._load(state)
        return Result.failure(state.error) if state.error else Result(message=f"reloaded {state.name!r}")

    async def set_mode(self, request: SetLibraryModeRequest) -> Result:
        state = self.get(request.library_name)
        mode = resolve_mode(state.manifest, parse_mode(state.name, request.mode))
        if mode is not state.mode:
            with _loading(state):
                if state.host is not None:
                    await state.host.close()
                state.mode = mode
                await self._load(state)
        return Result.failure(state.error) if state.error else Result(message=f"{state.name!r} runs {mode}")

    async def remove(self, name: str) -> LibraryState:
        """Stop ``name``'s host (its worker) and forget the library; its nodes must be gone already."""
        state = self.get(name)
        with _loading(state):  # an execution waiting for it then finds it gone
            if state.host is not None:
                await state.host.close()
            state.host, state.error = None, f"library {name!r} was removed"
            del self.states[name]
        return state

    def list(self, _request: ListRegisteredLibrariesRequest) -> ListRegisteredLibrariesResult:
        return ListRegisteredLibrariesResult(libraries=[describe_library(s) for s in self.states.values()])

    # -- loading ----------------------------------------------------------------------------------
    async def load(self, state: LibraryState) -> None:
        """Start ``state``'s host and probe its node classes; a failure is kept in ``state.error``."""
        with _loading(state):
            await self._load(state)

    async def _load(self, state: LibraryState) -> None:
        host = self._make_host(state)
        state.host, state.error, state.python = host, None, None
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
        state.python = report.python
        for dropped in report.dropped:
            LOGGER.warning(
                "library %r: node class %r dropped: %s%s",
                state.name,
                dropped.class_name,
                dropped.reason,
                f"\n{dropped.traceback}" if dropped.traceback else "",
            )

    def node_type(self, node_type: str, library: str | None) -> tuple[LibraryState, _hosting.NodeTypeSchema]:
        """The library that has ``node_type`` (among all, or ``library``) and the type's schema."""
        candidates = [self.get(library)] if library else list(self.states.values())
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


def parse_mode(library: str, mode: object) -> LibraryMode:
    """``mode`` as a LibraryMode; a wrong word is a request failure naming the library and the accepted words."""
    try:
        return LibraryMode.parse(mode)
    except ValueError as exc:
        raise RequestFailed(f"library {library!r}: {exc}") from None
