"""The orchestrator's view of a registered library: its state, its mode, and how it is described."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

from nodeisle.config.settings import LibraryMode
from nodeisle.errors import ManifestError
from nodeisle.flow.graph import RequestFailed
from nodeisle.manifest import Compatibility, LibraryManifest, WorkerMode, load_manifest
from nodeisle.node import hosting as _hosting
from nodeisle.orchestrator.hosts import NodeHost
from nodeisle.requests import LibraryInfo
from nodeisle.strict.rules import Violation


@dataclass
class LibraryState:
    manifest: LibraryManifest
    mode: LibraryMode
    host: NodeHost | None = None
    schemas: dict[str, _hosting.NodeTypeSchema] = field(default_factory=dict)
    dropped: list[_hosting.DroppedClass] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    error: str | None = None

    @property
    def name(self) -> str:
        return self.manifest.name


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
    )
