"""``nodeisle check``: is a library isolation-ready? The seed's checklist, item by item, with evidence.

The library is loaded the way it will run: in a real worker on its own virtualenv, or in this
process with ``shared=True``. So the schema probe, the strict-mode rules and the I/O audit of
``__init__`` see what they will see for users. Each node class in the schema then runs once with
its default values. Static reads of the node source (:mod:`~nodeisle.check.source_scan`)
add what one run cannot see: a branch not taken, and the line of each finding. Judging each item
from what was seen is :mod:`~nodeisle.check.checklist`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nodeisle.check.checklist import contradictory_declarations, judge
from nodeisle.check.report import CheckItem, CheckReport, Evidence, NodeRun, Observed, Status
from nodeisle.check.source_scan import scan_library
from nodeisle.config.settings import LibraryMode, Settings
from nodeisle.errors import ManifestError
from nodeisle.manifest import Compatibility, LibraryManifest, load_manifest
from nodeisle.node import audit as _audit
from nodeisle.orchestrator import sandbox
from nodeisle.orchestrator.engine import build_orchestrator
from nodeisle.requests import CreateNodeRequest, ExecuteNodeRequest, RegisterLibraryRequest
from nodeisle.strict.rules import Violation

__all__ = ["DEFAULT_RUN_TIMEOUT", "CheckItem", "CheckReport", "Evidence", "Status", "check_library", "observe"]

DEFAULT_RUN_TIMEOUT = 60.0


async def check_library(
    path: str | Path, *, shared: bool = False, home: Path | None = None, settings: Settings | None = None,
    run_timeout: float = DEFAULT_RUN_TIMEOUT, config_flags: Mapping[str, Any] | None = None,
) -> CheckReport:
    """Load the library (in a worker unless ``shared``), run each node once, and judge every checklist item.

    Raises :class:`~nodeisle.errors.ManifestError` when the manifest cannot be read at all; contradictory
    declarations are reported as a failed ``declarations`` item instead.
    """
    try:
        manifest = load_manifest(path, require_inside=True)
    except ManifestError as exc:
        if not exc.json_path.startswith("metadata.declarations"):
            raise
        return contradictory_declarations(exc)
    scan = scan_library(manifest)
    incompatible = manifest.declarations.compatibility is Compatibility.INCOMPATIBLE
    mode = LibraryMode.SHARED if shared or incompatible else LibraryMode.ISOLATED
    observed = await observe(manifest, mode, home=home, settings=settings, run_timeout=run_timeout,
                             config_flags=config_flags)
    return CheckReport(manifest.name, manifest.path, observed, judge(manifest, scan, observed))


async def observe(manifest: LibraryManifest, mode: LibraryMode, *, home: Path | None = None,
                  settings: Settings | None = None, run_timeout: float = DEFAULT_RUN_TIMEOUT,
                  config_flags: Mapping[str, Any] | None = None) -> Observed:
    """Register the library in a fresh orchestrator, then create and execute one node per class."""
    observed = Observed(mode)
    async with build_orchestrator(home, settings, config_flags) as orchestrator:
        # A worker audits its probe by itself; in this process the probe audits only when asked.
        audit = _audit.auditing_construction() if mode is LibraryMode.SHARED else contextlib.nullcontext()
        with audit:
            result = await orchestrator.handle_async(RegisterLibraryRequest(path=str(manifest.path), mode=mode))
        state = orchestrator.libraries.get(manifest.name)
        if state is not None and state.host is not None:
            observed.worker_id = state.host.describe()[0]
            observed.load = getattr(state.host, "last_load", None)
            observed.refused = _sandbox_refusals(state.host, observed.load)
        if not result.succeeded or state is None:
            observed.load_error = result.message or "the library did not load"
            return observed
        for class_name in [e.class_name for e in manifest.nodes if e.class_name in state.schemas]:
            if class_name not in observed.runs:
                observed.runs[class_name] = await _run_once(orchestrator, manifest.name, class_name, run_timeout)
    return observed


async def _run_once(orchestrator: Any, library: str, class_name: str, timeout: float) -> NodeRun:
    created = await orchestrator.handle_async(
        CreateNodeRequest(node_type=class_name, library_name=library, node_name=class_name))
    if not created.succeeded:
        return NodeRun(class_name, "not-created", "RequestFailed", created.message)
    try:
        result = await asyncio.wait_for(
            orchestrator.handle_async(ExecuteNodeRequest(node_name=created.node_name)), timeout)
    except TimeoutError:
        return NodeRun(class_name, "timeout", "Timeout", f"did not finish within {timeout:g} s")
    violations = tuple(Violation.from_dict(v) for v in result.violations)
    if result.succeeded:
        return NodeRun(class_name, "succeeded", violations=violations)
    error = result.error
    return NodeRun(class_name, "failed", error.type if error else "RequestFailed",
                   error.message if error else result.message, violations)


def _sandbox_refusals(host: Any, load: Any) -> list[tuple[_audit.IOEvent, str]]:
    """What the library's sandbox refused of the I/O its ``__init__`` did (nothing when it runs unsandboxed)."""
    choice, python = getattr(host, "sandbox", None), getattr(host, "python", None)
    if choice is None or load is None or python is None:
        return []
    shown = (Path(python).parent.parent, host.manifest.path.parent)
    found = [(event, sandbox.refusal(event.event, event.target, choice, shown)) for event in load.io_events]
    return [(event, why) for event, why in found if why is not None]
