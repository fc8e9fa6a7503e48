"""Running library code: import, schema probe, hydration and execution of transient nodes.

The same functions serve the orchestrator (Shared libraries) and the worker runtime (Isolated
libraries); only the :class:`~nodeisle._scope.NodeScope` they are given differs (its context and
the handler that answers requests). Standard library only: this module runs inside workers.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib.util
import re
import sys
import threading
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from nodeisle import _strict
from nodeisle._node import BaseNode, Parameter, ParameterSpec
from nodeisle._scope import NodeScope, Phase, RequestHandler, node_scope, phase
from nodeisle._strict import Context, Severity, Violation
from nodeisle.manifest import LibraryManifest
from nodeisle.requests import RemoteError

DEFAULT_PROBE_TIMEOUT = 10.0


@dataclass(frozen=True)
class DroppedClass:
    """A node class that is not part of the library's schema, and why."""

    class_name: str
    reason: str
    traceback: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"class_name": self.class_name, "reason": self.reason, "traceback": self.traceback}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DroppedClass:
        return cls(str(data["class_name"]), str(data["reason"]), str(data.get("traceback", "")))


@dataclass(frozen=True)
class NodeTypeSchema:
    """What the orchestrator knows of a node class: its parameter layout and manifest metadata."""

    class_name: str
    parameters: tuple[ParameterSpec, ...]
    metadata: Mapping[str, Any]
    behaviors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "class_name": self.class_name,
            "parameters": [p.to_dict() for p in self.parameters],
            "metadata": dict(self.metadata),
            "behaviors": {k: list(v) for k, v in self.behaviors.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeTypeSchema:
        return cls(
            class_name=str(data["class_name"]),
            parameters=tuple(ParameterSpec.from_dict(p) for p in data["parameters"]),
            metadata=dict(data.get("metadata") or {}),
            behaviors={str(k): tuple(v) for k, v in (data.get("behaviors") or {}).items()},
        )


@dataclass
class LibraryCode:
    """A library's imported node classes."""

    manifest: LibraryManifest
    classes: dict[str, type[BaseNode]]
    dropped: list[DroppedClass]


@dataclass
class ProbeReport:
    schemas: dict[str, NodeTypeSchema]
    dropped: list[DroppedClass]
    violations: list[Violation]


@dataclass
class ExecutionOutcome:
    outputs: dict[str, Any]
    violations: list[Violation]
    error: RemoteError | None = None


def _slug(text: str) -> str:
    return re.sub(r"\W+", "_", text).strip("_").lower() or "library"


def import_library(manifest: LibraryManifest) -> LibraryCode:
    """Import every node class the manifest lists. A class that cannot be imported is dropped, with why."""
    directory = str(manifest.directory)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    modules: dict[Path, ModuleType | DroppedClass] = {}
    classes: dict[str, type[BaseNode]] = {}
    dropped: list[DroppedClass] = []
    for entry in manifest.nodes:
        loaded = modules.get(entry.path)
        if loaded is None:
            loaded = modules[entry.path] = _import_file(manifest, entry.path)
        if isinstance(loaded, DroppedClass):
            dropped.append(DroppedClass(entry.class_name, loaded.reason, loaded.traceback))
            continue
        cls = getattr(loaded, entry.class_name, None)
        if cls is None:
            dropped.append(DroppedClass(entry.class_name, f"{entry.path} defines no class {entry.class_name!r}"))
        elif not (isinstance(cls, type) and issubclass(cls, BaseNode)):
            dropped.append(
                DroppedClass(
                    entry.class_name, f"{entry.class_name} in {entry.path} is not a nodeisle.BaseNode subclass"
                )
            )
        else:
            classes[entry.class_name] = cls
    return LibraryCode(manifest, classes, dropped)


def _import_file(manifest: LibraryManifest, path: Path) -> ModuleType | DroppedClass:
    if not path.is_file():
        return DroppedClass("", f"node file {path} does not exist (nodes[].file_path in {manifest.path})")
    inside = path.is_relative_to(manifest.directory)
    relative = str(path.relative_to(manifest.directory)) if inside else path.stem
    name = f"_nodeisle_lib_{_slug(manifest.name)}_{_slug(relative)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return DroppedClass("", f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # library code may raise anything, SystemExit included
        sys.modules.pop(name, None)
        return DroppedClass(
            "", f"importing {path} raised {type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc))
        )
    return module


def probe_library(code: LibraryCode, context: Context, timeout: float = DEFAULT_PROBE_TIMEOUT) -> ProbeReport:
    """Instantiate each class once to read its parameters (the schema probe)."""
    report = ProbeReport({}, list(code.dropped), [])
    for entry in code.manifest.nodes:
        cls = code.classes.get(entry.class_name)
        if cls is None or entry.class_name in report.schemas:
            continue
        scope = NodeScope(context, code.manifest.name, entry.class_name, Phase.CONSTRUCTION, handler=None)
        node, failure = _construct_with_timeout(cls, scope, timeout)
        report.violations.extend(scope.violations)
        if failure is not None:
            report.dropped.append(failure)
            continue
        assert node is not None
        errors = [v for v in scope.violations if v.severity is Severity.ERROR]
        if errors:
            report.dropped.append(DroppedClass(entry.class_name, f"{errors[0].rule_id}: {errors[0].message}"))
            continue
        behaviors: dict[str, tuple[str, ...]] = {}
        for parameter in node.parameters:
            found = parameter.behaviors()
            if found:
                behaviors[parameter.name] = tuple(found)
                scope.subject = entry.class_name
                violation = scope.violate(
                    _strict.PARAMETER_BEHAVIORS_DROPPED,
                    f"parameter {parameter.name!r} carries {', '.join(found)}, which the worker schema cannot carry.",
                )
                if violation is not None:
                    report.violations.append(violation)
        metadata = {
            "category": entry.category,
            "description": entry.description,
            "display_name": entry.display_name,
        }
        report.schemas[entry.class_name] = NodeTypeSchema(
            entry.class_name, tuple(p.spec() for p in node.parameters), metadata, behaviors
        )
    return report


def _construct_with_timeout(
    cls: type[BaseNode], scope: NodeScope, timeout: float
) -> tuple[BaseNode | None, DroppedClass | None]:
    result: list[BaseNode | DroppedClass] = []

    def construct() -> None:
        with node_scope(scope):
            try:
                result.append(cls(f"probe-{cls.__name__}", None))
            except BaseException as exc:
                result.append(
                    DroppedClass(
                        cls.__name__,
                        f"__init__ raised {type(exc).__name__}: {exc}",
                        "".join(traceback.format_exception(exc)),
                    )
                )

    thread = threading.Thread(
        target=contextvars.copy_context().run, args=(construct,), name=f"probe-{cls.__name__}", daemon=True
    )
    thread.start()
    thread.join(timeout)
    if thread.is_alive() or not result:
        return None, DroppedClass(
            cls.__name__,
            f"__init__ did not finish within the probe timeout of {timeout:g} s; "
            "move I/O out of __init__ into process()",
        )
    outcome = result[0]
    return (None, outcome) if isinstance(outcome, DroppedClass) else (outcome, None)


class HydrationError(Exception):
    """Setting a value on a transient node failed (a converter, validator or hook raised)."""

    def __init__(self, parameter: str, exc: BaseException) -> None:
        self.parameter = parameter
        self.cause = exc
        super().__init__(f"setting parameter {parameter!r} failed: {type(exc).__name__}: {exc}")


def materialize(
    cls: type[BaseNode],
    node_name: str,
    metadata: Mapping[str, Any] | None,
    specs: Sequence[ParameterSpec],
    values: Mapping[str, Any],
    scope: NodeScope,
) -> BaseNode:
    """Build a transient node that matches the authoritative parameter list and values.

    Runs ``__init__``, then sets each value through the framework path (before_value_set,
    converters, validators, after_value_set), letting hooks add parameters as they do for a user;
    parameters the authoritative list has and the class did not create are added from their spec,
    and parameters the authoritative list lacks are removed. Call from a worker thread, not the loop.
    """
    with phase(scope, Phase.CONSTRUCTION):
        node = cls(node_name, dict(metadata) if metadata else None)
    wanted = {spec.name: spec for spec in specs}
    with phase(scope, Phase.HYDRATION):
        pending = [name for name in wanted if name in values]
        progress = True
        while pending and progress:
            progress = False
            for name in list(pending):
                if node.get_parameter_by_name(name) is not None:
                    _set(node, name, values[name])
                    pending.remove(name)
                    progress = True
        for spec in specs:
            if node.get_parameter_by_name(spec.name) is None:
                node.add_parameter(Parameter.from_spec(spec))
        for name in pending:
            _set(node, name, values[name])
        for parameter in node.parameters:
            if parameter.name not in wanted:
                node.remove_parameter_element(parameter.name)
    return node


def _set(node: BaseNode, name: str, value: Any) -> None:
    try:
        node.set_parameter_value(name, value)
    except Exception as exc:
        raise HydrationError(name, exc) from exc


def apply_value(
    cls: type[BaseNode],
    node_name: str,
    metadata: Mapping[str, Any] | None,
    specs: Sequence[ParameterSpec],
    values: Mapping[str, Any],
    parameter_name: str,
    value: Any,
    scope: NodeScope,
) -> list[ParameterSpec]:
    """Set one value the way a user does; return the parameter list the hooks leave behind."""
    with node_scope(scope):
        node = materialize(cls, node_name, metadata, specs, values, scope)
        with phase(scope, Phase.HYDRATION):
            if node.get_parameter_by_name(parameter_name) is None:
                raise KeyError(f"node {node_name!r} has no parameter named {parameter_name!r}")
            _set(node, parameter_name, value)
        return [p.spec() for p in node.parameters]


async def execute(
    cls: type[BaseNode],
    node_name: str,
    metadata: Mapping[str, Any] | None,
    specs: Sequence[ParameterSpec],
    values: Mapping[str, Any],
    context: Context,
    library: str,
    handler: RequestHandler | None,
) -> ExecutionOutcome:
    """Build a fresh node, hydrate it, run ``aprocess`` and return its outputs; the node is discarded."""
    scope = NodeScope(context, library, node_name, Phase.CONSTRUCTION, handler)
    with node_scope(scope):
        try:
            node = await asyncio.to_thread(materialize, cls, node_name, metadata, specs, values, scope)
            with phase(scope, Phase.APROCESS):
                await node.aprocess()
        except HydrationError as exc:
            return ExecutionOutcome(
                {}, scope.violations, _remote_error(exc.cause, f"while setting parameter {exc.parameter!r}: ")
            )
        except Exception as exc:
            return ExecutionOutcome({}, scope.violations, _remote_error(exc))
    errors = [v for v in scope.violations if v.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        error = RemoteError(type="StrictModeViolation", message=f"{first.rule_id}: {first.message} {first.remediation}")
        return ExecutionOutcome(dict(node.parameter_output_values), scope.violations, error)
    return ExecutionOutcome(dict(node.parameter_output_values), scope.violations)


def _remote_error(exc: BaseException, prefix: str = "") -> RemoteError:
    return RemoteError(
        type=type(exc).__name__,
        message=prefix + str(exc),
        traceback="".join(traceback.format_exception(exc)),
    )
