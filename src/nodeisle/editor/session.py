"""What the editor does beyond one request: the page's view of the engine, workflow files, and the
library choices that persist.

:class:`EditorSession` drives one orchestrator through its requests, exactly as the CLI does: a
library added here is registered in ``settings.json`` like ``nodeisle libraries add``, a mode chosen
here is kept like ``nodeisle libraries mode``, and a workflow saved here is a file ``nodeisle run``
runs (its node positions are in a top-level ``editor`` field the CLI does not read). No web
framework here: the server (``editor/server.py``) only carries these calls over its WebSocket.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nodeisle.config.settings import LibraryMode
from nodeisle.errors import ManifestError, WorkflowError
from nodeisle.flow.graph import RequestFailed
from nodeisle.flow.workflow import load_workflow
from nodeisle.manifest import load_manifest
from nodeisle.manifest.model import WorkerMode
from nodeisle.orchestrator.engine import Orchestrator
from nodeisle.orchestrator.events import LibraryChanged
from nodeisle.orchestrator.libraries import LibraryState, describe_library, resolve_mode, same_name_as
from nodeisle.requests import (
    CreateConnectionRequest,
    CreateFlowRequest,
    CreateNodeRequest,
    DeleteFlowRequest,
    DeleteNodeRequest,
    RegisterLibraryRequest,
    Request,
    Result,
    SetLibraryModeRequest,
    SetParameterValueRequest,
)

from .media import MediaStore
from .wire import to_json

#: The flow the editor edits when no workflow file is open.
DEFAULT_FLOW = "editor"


class EditorError(Exception):
    """An editor action that cannot be carried out; the message names what and how to fix it."""


class EditorSession:
    """One editor's state: the orchestrator, the flow on the canvas and the workflow file it came from."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        self.flow = DEFAULT_FLOW
        self.workflow_path: Path | None = None
        self.positions: dict[str, Any] = {}
        self.media = MediaStore(orchestrator.static_files.root)  # the images outputs held, for /media/<key>

    def __repr__(self) -> str:
        return f"EditorSession(flow={self.flow!r}, workflow={self.workflow_path})"

    async def _ask(self, request: Request) -> Result:
        return await self.orchestrator.handle_async(request)

    async def start(self, workflow: Path | None) -> None:
        """Register the settings' libraries (as ``libraries list`` does), then open ``workflow`` if given."""
        await self._ask(CreateFlowRequest(flow_name=self.flow))
        for path in list(self.orchestrator.settings.libraries):
            await self._ask(RegisterLibraryRequest(path=path))  # a failure stays on the library, shown
        if workflow is not None:
            await self.open_workflow(str(workflow))

    # -- what the page shows -----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Libraries (with their node types and why each runs where it does), the flow's nodes and connections."""
        graph = self.orchestrator.graph
        flow = graph.flows.get(self.flow)
        nodes = []
        for name in flow.nodes if flow is not None else []:
            record = graph.nodes[name]
            nodes.append({
                "name": record.name,
                "library": record.library,
                "type": record.class_name,
                "parameters": [spec.to_dict() for spec in record.specs],
                "values": to_json(record.values),
                "outputs": to_json(record.outputs, self.media),
            })
        connections = [to_json(c) for c in flow.connections] if flow is not None else []
        return {
            "flow": self.flow,
            "workflow": str(self.workflow_path) if self.workflow_path else None,
            "libraries": [self._library(state) for state in self.orchestrator.libraries.values()],
            "nodes": nodes,
            "connections": connections,
            "positions": self.positions,
            "examples": examples(),
        }

    def _library(self, state: LibraryState) -> dict[str, Any]:
        manifest = state.manifest
        titles: dict[str, str] = {}
        for entry in manifest.categories:
            if isinstance(entry, dict):
                for key, value in entry.items():
                    titles[str(key)] = str(value.get("title", key)) if isinstance(value, dict) else str(key)
        types = []
        for class_name, schema in state.schemas.items():
            entry = manifest.node(class_name)
            category = (entry.category if entry else None) or "other"
            types.append({
                "type": class_name,
                "display_name": (entry.display_name if entry else None) or class_name,
                "description": (entry.description if entry else None) or "",
                "category": titles.get(category, category),
                "parameters": [p.to_dict() for p in schema.parameters],
                "options": options_of(schema.behaviors),
            })
        try:
            resolve_mode(manifest, LibraryMode.ISOLATED)
            locked = None
        except RequestFailed as exc:
            locked = str(exc)
        return {
            "info": to_json(describe_library(state)),
            "version": manifest.library_version,
            "node_types": types,
            "mode_locked": locked,
            "mode_reason": self._mode_reason(state, locked),
            "violations": [v.to_dict() for v in state.violations],  # found at load, per node type
        }

    def _mode_reason(self, state: LibraryState, locked: str | None) -> str:
        chosen = self.orchestrator.settings.library_modes.get(state.name)
        suggested = state.manifest.declarations.suggested_mode
        if locked is not None:
            return "locked to Shared: the manifest declares worker_mode_compatibility INCOMPATIBLE"
        if chosen is not None and chosen is state.mode:
            return f"your choice ({self.orchestrator.settings.path})"
        by_author = LibraryMode.ISOLATED if suggested is WorkerMode.WORKER else LibraryMode.SHARED
        if state.mode is not by_author:  # neither the user's nor the author's: the open workflow's library_modes
            where = f" of {self.workflow_path.name}" if self.workflow_path else ""
            return f"the open workflow's library_modes{where} (change it here to keep it as your choice)"
        if suggested is not None:
            return f"the author's suggestion (suggested_worker_mode {suggested})"
        return "the default: no suggested_worker_mode, so Shared"

    # -- libraries, persisted like the CLI's ------------------------------------------------------
    async def add_library(self, path: str) -> Result:
        """Register a library now and in ``settings.json`` (``nodeisle libraries add``)."""
        try:
            manifest = load_manifest(path, require_inside=True)
        except ManifestError as exc:
            raise EditorError(str(exc)) from None
        settings = self.orchestrator.settings
        if str(manifest.path) not in settings.libraries:
            twin = same_name_as(manifest, settings.libraries)
            if twin is not None:
                raise EditorError(twin)
            settings.libraries.append(str(manifest.path))
            settings.save()
        return await self._ask(RegisterLibraryRequest(path=str(manifest.path)))

    async def set_mode(self, library: str, mode: str) -> Result:
        """Move a library between Shared and Isolated now and keep it (``nodeisle libraries mode``)."""
        try:
            wanted = LibraryMode.parse(mode)
        except ValueError as exc:
            raise EditorError(f"library {library!r}: {exc}") from None
        settings = self.orchestrator.settings
        previous = settings.library_modes.get(library)
        # Kept before the switch, whose events the page shows: once it shows the new mode, the choice is
        # in settings.json. A switch that does not happen (refused) puts the setting back.
        settings.library_modes[library] = wanted
        settings.save()
        result = await self._ask(SetLibraryModeRequest(library_name=library, mode=wanted))
        state = self.orchestrator.libraries.get(library)
        if state is None or state.mode is not wanted:  # switched, even if the new host failed: kept as chosen
            if previous is None:
                settings.library_modes.pop(library, None)
            else:
                settings.library_modes[library] = previous
            settings.save()
        return result

    async def remove_library(self, library: str) -> dict[str, Any]:
        """Delete the library's nodes, stop it and unregister it from ``settings.json`` (``libraries remove``)."""
        if library not in self.orchestrator.libraries:
            raise EditorError(f"no library named {library!r} is registered")
        doomed = [r.name for r in self.orchestrator.graph.nodes.values() if r.library == library]
        for name in doomed:
            await self._ask(DeleteNodeRequest(node_name=name))
        state = await self.orchestrator.registry.remove(library)
        settings = self.orchestrator.settings
        if str(state.manifest.path) in settings.libraries or library in settings.library_modes:
            settings.libraries = [p for p in settings.libraries if p != str(state.manifest.path)]
            settings.library_modes.pop(library, None)
            settings.save()
        self.orchestrator.events.emit(LibraryChanged(library=describe_library(state), removed=True))
        return {"removed": library, "deleted_nodes": doomed}

    # -- workflow files -----------------------------------------------------------------------------
    async def open_workflow(self, path: str) -> dict[str, Any]:
        """Replace the canvas with a workflow file's flow (built, not run). Returns the problems met."""
        try:
            workflow = load_workflow(path)
        except WorkflowError as exc:
            raise EditorError(str(exc)) from None
        problems: list[str] = []
        for library in workflow.libraries:
            try:
                manifest = load_manifest(library)
            except ManifestError as exc:
                raise EditorError(str(exc)) from None
            wanted = workflow.library_modes.get(manifest.name)
            result = await self._ask(RegisterLibraryRequest(path=str(library), mode=wanted))
            state = self.orchestrator.libraries.get(manifest.name)
            if result.succeeded and wanted is not None and state is not None and state.mode is not wanted:
                result = await self._ask(SetLibraryModeRequest(library_name=manifest.name, mode=wanted))
            if not result.succeeded:
                problems.append(result.message)
        if self.flow in self.orchestrator.graph.flows:
            await self._ask(DeleteFlowRequest(flow_name=self.flow))
        self.flow, self.workflow_path = workflow.path.stem, workflow.path
        self.positions = _positions(workflow.path)
        await self._ask(CreateFlowRequest(flow_name=self.flow))
        requests: list[Request] = [
            CreateNodeRequest(node_type=n.type, library_name=n.library, node_name=n.name, flow_name=self.flow,
                              metadata={"timeout": n.timeout} if n.timeout is not None else None)
            for n in workflow.nodes
        ]
        requests += [SetParameterValueRequest(node_name=n.name, parameter_name=k, value=v)
                     for n in workflow.nodes for k, v in n.values.items()]
        requests += [CreateConnectionRequest(source_node_name=c.source[0], source_parameter_name=c.source[1],
                                             target_node_name=c.target[0], target_parameter_name=c.target[1])
                     for c in workflow.connections]
        for request in requests:
            result = await self._ask(request)
            if not result.succeeded:
                problems.append(result.message)
        return {"problems": problems}

    def save_workflow(self, path: str, positions: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write the canvas's flow as a workflow file in the CLI's format; positions go in ``editor``."""
        if not path:
            raise EditorError("give the workflow file's path, e.g. flows/my_flow.json")
        file = Path(path).expanduser().resolve()
        if file.suffix != ".json":
            raise EditorError(f"{file}: a workflow file ends in .json")
        graph = self.orchestrator.graph
        flow = graph.flow(self.flow)
        records = [graph.nodes[name] for name in flow.nodes]
        used = list(dict.fromkeys(r.library for r in records))
        states = [self.orchestrator.libraries[name] for name in used if name in self.orchestrator.libraries]
        if positions is not None:
            self.positions = {k: v for k, v in positions.items() if k in flow.nodes}
        document = {
            "libraries": [os.path.relpath(s.manifest.directory, file.parent) for s in states],
            "library_modes": {s.name: str(s.mode) for s in states},
            "nodes": [
                {"name": r.name, "library": r.library, "type": r.class_name, "values": to_json(r.values)}
                | ({"timeout": r.metadata["timeout"]} if r.metadata.get("timeout") is not None else {})
                for r in records
            ],
            "connections": [
                {"from": f"{c.source_node_name}.{c.source_parameter_name}",
                 "to": f"{c.target_node_name}.{c.target_parameter_name}"}
                for c in flow.connections
            ],
            "editor": {"positions": self.positions},
        }
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(json.dumps(document, indent=2) + "\n", "utf-8")
        except OSError as exc:
            raise EditorError(f"{file}: cannot write the workflow: {exc.strerror or exc}") from None
        self.workflow_path = file
        return {"path": str(file)}


_OPTIONS = re.compile(r"trait Options\(choices=(.*)\)", re.DOTALL)


def options_of(behaviors: Mapping[str, tuple[str, ...]]) -> dict[str, list[Any]]:
    """Each parameter's ``Options`` choices, read back from the schema's behaviour text.

    The schema carries a trait as its ``repr`` (``node/model.py``: ``Options(choices=[...])``); choices
    that are Python literals come back as values, others leave the parameter a plain field.
    """
    found: dict[str, list[Any]] = {}
    for parameter, texts in behaviors.items():
        for text in texts:
            match = _OPTIONS.fullmatch(text)
            if match is None:
                continue
            try:
                choices = ast.literal_eval(match[1])
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            if isinstance(choices, list) and choices:
                found[parameter] = choices
    return found


#: The checkout's examples (absent from an installed wheel): offered as suggestions in the path fields.
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def examples() -> dict[str, list[str]]:
    """The example libraries and workflows of this checkout, so a first user need not know their paths."""
    libraries = sorted(str(p.parent) for p in EXAMPLES.glob("libraries/*/griptape-nodes-library.json"))
    return {"libraries": libraries, "workflows": sorted(str(p) for p in EXAMPLES.glob("workflows/*.json"))}


def _positions(path: Path) -> dict[str, Any]:
    """The node positions a workflow file keeps for the editor (none for a file written by hand)."""
    try:
        data = json.loads(path.read_text("utf-8-sig"))
    except (OSError, ValueError):
        return {}
    editor = data.get("editor") if isinstance(data, dict) else None
    positions = editor.get("positions") if isinstance(editor, dict) else None
    return positions if isinstance(positions, dict) else {}
