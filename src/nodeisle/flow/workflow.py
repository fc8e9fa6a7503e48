"""Workflow files: a JSON description of libraries, nodes, values and connections, and running one.

    {"libraries": ["libs/text_tools"], "library_modes": {"Text Tools": "isolated"},
     "nodes": [{"name": "greet", "library": "Text Tools", "type": "Echo", "values": {"text": "hi"}}],
     "connections": [{"from": "greet.result", "to": "shout.text"}]}

A connection between control parameters (``{"from": "a.exec_out", "to": "b.exec_in"}``, each end a
parameter of a control type such as Griptape's ``parametercontroltype``) orders ``a`` before ``b``
and carries no value; see ``flow/scheduling.py`` for the rules.

Library paths are relative to the workflow file. Names (of libraries, nodes, node types and
parameters) may not contain NUL or Unicode bidirectional controls, which make a name display as
something it is not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodeisle.config.settings import LibraryMode
from nodeisle.errors import ManifestError, WorkflowError, headline
from nodeisle.flow.runner import NOT_REACHED
from nodeisle.flow.scheduling import NodeStatus, Schedule, summarize
from nodeisle.manifest import LibraryManifest, load_manifest
from nodeisle.orchestrator.deadline import timeout_problem
from nodeisle.orchestrator.engine import Orchestrator
from nodeisle.requests import (
    CreateConnectionRequest,
    CreateFlowRequest,
    CreateNodeRequest,
    NodeRunResult,
    RegisterLibraryRequest,
    RemoteError,
    RunFlowRequest,
    RunFlowResult,
    SetParameterValueRequest,
)


@dataclass(frozen=True)
class NodeSpec:
    name: str
    library: str | None
    type: str
    values: dict[str, Any]
    json_path: str
    timeout: float | None = None


@dataclass(frozen=True)
class ConnectionSpec:
    source: tuple[str, str]
    target: tuple[str, str]
    json_path: str


@dataclass(frozen=True)
class Workflow:
    path: Path
    libraries: list[Path]
    library_modes: dict[str, LibraryMode]
    nodes: list[NodeSpec]
    connections: list[ConnectionSpec] = field(default_factory=list)


def load_workflow(path: str | Path) -> Workflow:
    file = Path(path).resolve()
    where = str(file)
    data = _read_json(file)
    if not isinstance(data, dict):
        raise WorkflowError(where, "$", f"expected a JSON object, found {type(data).__name__}")
    libraries = []
    for i, library_path in enumerate(_list(where, "libraries", data)):
        text = _str(where, f"libraries[{i}]", library_path)
        if "\x00" in text:
            raise WorkflowError(where, f"libraries[{i}]", f"the path {text!r} contains {_hidden(text)}; remove it")
        libraries.append(file.parent / text)
    modes_raw = data.get("library_modes", {})
    if not isinstance(modes_raw, dict):
        raise WorkflowError(where, "library_modes", "expected an object of library name to 'shared' or 'isolated'")
    modes: dict[str, LibraryMode] = {}
    for name, mode in modes_raw.items():
        _check_name(where, "library_modes", "library name", name)
        try:
            modes[name] = LibraryMode.parse(str(mode))
        except ValueError as exc:
            raise WorkflowError(where, f"library_modes.{name}", str(exc)) from None
    nodes: list[NodeSpec] = []
    seen: set[str] = set()
    for i, node in enumerate(_list(where, "nodes", data)):
        jp = f"nodes[{i}]"
        if not isinstance(node, dict):
            raise WorkflowError(
                where, jp, "each node must be an object with name, type and optional library and values"
            )
        name = _name(where, f"{jp}.name", node.get("name"), "node name")
        if name in seen:
            raise WorkflowError(where, f"{jp}.name", f"duplicate node name {name!r}")
        seen.add(name)
        values = node.get("values", {})
        if not isinstance(values, dict):
            raise WorkflowError(where, f"{jp}.values", "expected an object of parameter name to value")
        for parameter in values:
            _check_name(where, f"{jp}.values", "parameter name", parameter)
        library = node.get("library")
        timeout = node.get("timeout")
        if timeout is not None:
            problem = timeout_problem(timeout)
            if problem is not None:
                raise WorkflowError(where, f"{jp}.timeout", f"node {name!r}: {problem}")
        nodes.append(
            NodeSpec(
                name,
                _name(where, f"{jp}.library", library, "library name") if library is not None else None,
                _name(where, f"{jp}.type", node.get("type"), "node type"),
                values,
                jp,
                float(timeout) if timeout is not None else None,
            )
        )
    connections = []
    for i, conn in enumerate(_list(where, "connections", data)):
        jp = f"connections[{i}]"
        if not isinstance(conn, dict):
            raise WorkflowError(where, jp, 'expected {"from": "node.parameter", "to": "node.parameter"}')
        ends = []
        for key in ("from", "to"):
            text_end = _str(where, f"{jp}.{key}", conn.get(key))
            _check_name(where, f"{jp}.{key}", "connection end", text_end)
            node_name, dot, parameter = text_end.partition(".")
            if not dot or not node_name or not parameter:
                raise WorkflowError(where, f"{jp}.{key}", f"expected 'node.parameter', found {text_end!r}")
            if node_name not in seen:
                raise WorkflowError(where, f"{jp}.{key}", f"no node named {node_name!r} in this workflow")
            ends.append((node_name, parameter))
        connections.append(ConnectionSpec(ends[0], ends[1], jp))
    return Workflow(file, libraries, modes, nodes, connections)


def _read_json(file: Path) -> Any:
    where = str(file)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise WorkflowError(where, "$", f"cannot read the workflow file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WorkflowError(
            where, "$", f"the file holds bytes that are not UTF-8 (at byte offset {exc.start}); save it as UTF-8"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowError(where, "$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise WorkflowError(
            where, "$", "the JSON is nested too deeply to read; a workflow needs only a few levels of nesting"
        ) from None
    except ValueError as exc:  # an integer of thousands of digits
        reason = str(exc).split(";")[0]
        raise WorkflowError(
            where, "$", f"the JSON cannot be read ({reason}); write very long numbers as strings"
        ) from None


#: Characters a name may not hold: NUL, and the Unicode bidirectional controls, which make a name
#: display as something it is not (embeddings, overrides and isolates, the marks LRM, RLM and ALM).
HIDDEN_CHARACTERS = frozenset(
    "\x00\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)


def _hidden(text: str) -> str:
    index, char = next((i, c) for i, c in enumerate(text) if c in HIDDEN_CHARACTERS)
    what = "a NUL character" if char == "\x00" else "the Unicode bidirectional control character"
    return f"{what} U+{ord(char):04X} at index {index}"


def _check_name(where: str, json_path: str, what: str, name: str) -> None:
    if not HIDDEN_CHARACTERS.isdisjoint(name):
        raise WorkflowError(
            where,
            json_path,
            f"{what} {name!r} contains {_hidden(name)}; names may not contain NUL or bidirectional controls "
            "(U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C), which make a name display as something "
            "it is not; remove it",
        )


def _name(where: str, json_path: str, value: Any, what: str) -> str:
    name = _str(where, json_path, value)
    _check_name(where, json_path, what, name)
    return name


def _list(where: str, key: str, data: Mapping[str, Any]) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise WorkflowError(where, key, f"expected a list, found {type(value).__name__}")
    return value


def _str(where: str, json_path: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise WorkflowError(where, json_path, f"expected a non-empty string, found {json.dumps(value)}")
    return value


async def _register_from_settings(
    orchestrator: Orchestrator, workflow: Workflow, modes: Mapping[str, LibraryMode]
) -> dict[str, str]:
    """Register the libraries the workflow's nodes name that its ``libraries`` list lacks, from the ones
    registered with ``nodeisle libraries add`` (settings.json). Returns the load error of each that failed.

    A workflow may so name a library by its name alone; an unknown name is reported per node afterwards.
    """
    needed = {node.library for node in workflow.nodes} - set(orchestrator.libraries)
    failed: dict[str, str] = {}
    for path in orchestrator.settings.libraries:
        if not needed:
            break
        try:
            manifest = load_manifest(path)
        except ManifestError:
            continue  # `nodeisle libraries list` names a registered library that no longer loads
        if manifest.name not in needed:
            continue
        needed.discard(manifest.name)
        result = await orchestrator.handle_async(RegisterLibraryRequest(path=path, mode=modes.get(manifest.name)))
        if not result.succeeded:
            failed[manifest.name] = result.message
    return failed


async def run_workflow(
    orchestrator: Orchestrator,
    workflow: Workflow,
    modes: Mapping[str, LibraryMode] | None = None,
    on_run_start: Callable[[bool], object] | None = None,
) -> RunFlowResult:
    """Register the workflow's libraries (and the registered ones its nodes name), build its flow and run it.

    Raises WorkflowError for bad input. A library that fails to load (for example its environment
    cannot be built) does not stop the run: its nodes fail with the library's error, nodes downstream
    of them are skipped, and every other node runs. The result has every node of the workflow, in
    order, and is counted over all of them; a failed library's whole error (an installer's output,
    say) is in ``library_errors`` once, and its nodes' errors give its first line.
    """
    where = str(workflow.path)
    wanted_modes = {**workflow.library_modes, **(modes or {})}
    failed_libraries: dict[str, str] = {}
    failed_manifests: list[LibraryManifest] = []
    for i, library in enumerate(workflow.libraries):
        try:
            manifest = load_manifest(library)
        except ManifestError as exc:
            raise WorkflowError(where, f"libraries[{i}]", str(exc)) from None
        mode = wanted_modes.get(manifest.name)
        result = await orchestrator.handle_async(
            RegisterLibraryRequest(path=str(library), mode=mode)
        )
        if not result.succeeded:
            if manifest.name not in orchestrator.libraries:  # refused before loading: bad input
                raise WorkflowError(where, f"libraries[{i}]", result.message)
            failed_libraries[manifest.name] = result.message
            failed_manifests.append(manifest)
    for name, message in (await _register_from_settings(orchestrator, workflow, wanted_modes)).items():
        failed_libraries[name] = message
    flow = await orchestrator.handle_async(CreateFlowRequest(flow_name=workflow.path.stem))
    if not flow.succeeded:
        raise WorkflowError(where, "$", flow.message)
    flow_name = workflow.path.stem
    loaded_types = {t for state in orchestrator.libraries.values() for t in state.schemas}

    def failed_library_of(node: NodeSpec) -> str | None:
        """The failed library a node needs: named, or the one listing its type when no loaded library has it."""
        if node.library is not None:
            return node.library if node.library in failed_libraries else None
        if node.type in loaded_types:
            return None
        return next((m.name for m in failed_manifests if m.node(node.type) is not None), None)

    unavailable = {}
    for node in workflow.nodes:
        failed = failed_library_of(node)
        if failed is not None:
            why = headline(failed_libraries[failed]).removeprefix(f"library {failed!r}: ")
            error = RemoteError(type="LibraryError", message=f"library {failed!r} failed to load: {why}")
            unavailable[node.name] = NodeRunResult(status=NodeStatus.FAILED.value, error=error)
    plan = Schedule((n.name for n in workflow.nodes), ((c.source[0], c.target[0]) for c in workflow.connections))
    skipped = set(plan.all_downstream(unavailable))  # never created: they could not run
    for node in workflow.nodes:
        if node.name in unavailable or node.name in skipped:
            continue
        created = await orchestrator.handle_async(
            CreateNodeRequest(
                node_type=node.type,
                library_name=node.library,
                node_name=node.name,
                flow_name=flow_name,
                metadata={"timeout": node.timeout} if node.timeout is not None else None,
            )
        )
        if not created.succeeded:
            raise WorkflowError(where, f"{node.json_path}.type", created.message)
    for node in workflow.nodes:
        if node.name in unavailable or node.name in skipped:
            continue
        for parameter, value in node.values.items():
            result = await orchestrator.handle_async(
                SetParameterValueRequest(node_name=node.name, parameter_name=parameter, value=value)
            )
            if not result.succeeded:
                raise WorkflowError(where, f"{node.json_path}.values.{parameter}", result.message)
    for connection in workflow.connections:
        if {connection.source[0], connection.target[0]} & (set(unavailable) | skipped):
            continue
        result = await orchestrator.handle_async(
            CreateConnectionRequest(
                source_node_name=connection.source[0],
                source_parameter_name=connection.source[1],
                target_node_name=connection.target[0],
                target_parameter_name=connection.target[1],
            )
        )
        if not result.succeeded:
            raise WorkflowError(where, connection.json_path, result.message)
    if on_run_start is not None:
        on_run_start(True)
    result = await orchestrator.handle_async(RunFlowRequest(flow_name=flow_name))
    assert isinstance(result, RunFlowResult)
    if unavailable or skipped or failed_libraries:
        nodes = {**result.nodes, **unavailable}
        for name in skipped:
            nodes[name] = NodeRunResult(
                status=NodeStatus.SKIPPED.value,
                error=RemoteError(type="Skipped", message="an upstream node's library failed to load"),
            )
        ordered = {n.name: nodes[n.name] for n in workflow.nodes if n.name in nodes}
        # Counted over every node of the workflow; Ctrl-C still means 130.
        not_reached = sum(1 for r in ordered.values() if r.error is not None and r.error.type == NOT_REACHED)
        summary = summarize((r.status for r in ordered.values()), not_reached=not_reached)
        message = summary.message
        if failed_libraries:
            names = ", ".join(repr(name) for name in failed_libraries)
            count = len(failed_libraries)
            message += f"; {count} {'library' if count == 1 else 'libraries'} failed to load: {names}"
        return RunFlowResult(
            succeeded=summary.succeeded,
            status=summary.status.value,
            nodes=ordered,
            message=message,
            library_errors=dict(failed_libraries),
        )
    return result

