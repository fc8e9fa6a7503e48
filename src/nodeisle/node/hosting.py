"""Running library code: import, schema probe, hydration and execution of transient nodes.

The same functions serve the orchestrator (Shared libraries) and the worker runtime (Isolated
libraries); only the :class:`~nodeisle.node.scope.NodeScope` they are given differs (its context and
the handler that answers requests). Standard library only: this module runs inside workers.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nodeisle.config.defaults import PROBE_TIMEOUT
from nodeisle.node import audit as _audit

# Importing a library lives in nodeisle.node.loading; these names stay importable from here.
from nodeisle.node.loading import DroppedClass as DroppedClass
from nodeisle.node.loading import LibraryCode as LibraryCode
from nodeisle.node.loading import import_library as import_library
from nodeisle.node.loading import unload_library as unload_library
from nodeisle.node.model import BaseNode, Parameter, overridden_connection_hooks
from nodeisle.node.scope import NodeScope, Phase, RequestHandler, node_scope, phase
from nodeisle.node.spec import ParameterSpec
from nodeisle.requests import RemoteError
from nodeisle.strict import rules as _strict
from nodeisle.strict.rules import Context, Severity, Violation

DEFAULT_PROBE_TIMEOUT = PROBE_TIMEOUT  # written once, in nodeisle.config.defaults
T = TypeVar("T")


@dataclass(frozen=True)
class NodeTypeSchema:
    """What the orchestrator knows of a node class: its parameter layout and manifest metadata."""

    class_name: str
    parameters: tuple[ParameterSpec, ...]
    metadata: Mapping[str, Any]
    behaviors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    hooks: tuple[str, ...] = ()  # the connection hooks the class overrides (model.CONNECTION_HOOKS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "class_name": self.class_name,
            "parameters": [p.to_dict() for p in self.parameters],
            "metadata": dict(self.metadata),
            "behaviors": {k: list(v) for k, v in self.behaviors.items()},
            "hooks": list(self.hooks),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeTypeSchema:
        return cls(
            class_name=str(data["class_name"]),
            parameters=tuple(ParameterSpec.from_dict(p) for p in data["parameters"]),
            metadata=dict(data.get("metadata") or {}),
            behaviors={str(k): tuple(v) for k, v in (data.get("behaviors") or {}).items()},
            hooks=tuple(str(h) for h in data.get("hooks") or ()),
        )


@dataclass
class ProbeReport:
    schemas: dict[str, NodeTypeSchema]
    dropped: list[DroppedClass]
    violations: list[Violation]
    io_events: list[_audit.IOEvent] = field(default_factory=list)  # only when the probe audits I/O


@dataclass
class ExecutionOutcome:
    outputs: dict[str, Any]
    violations: list[Violation]
    error: RemoteError | None = None
    # The parameter list after the inputs were set, when their hooks changed it (None: unchanged).
    specs: list[ParameterSpec] | None = None
    # Outputs written to a name the node had no parameter of when process() ended.
    strays: list[str] = field(default_factory=list)
    # The worker's peak memory in bytes during this execution, when a cgroup measures it (containment).
    peak_memory: int | None = None


def probe_library(
    code: LibraryCode, context: Context, timeout: float = DEFAULT_PROBE_TIMEOUT, *, audit_io: bool | None = None
) -> ProbeReport:
    """Instantiate each class once to read its parameters (the schema probe).

    With ``audit_io`` (default: whether the caller's context asked, see ``_audit.auditing_construction``)
    the file, network and process I/O each ``__init__`` does is recorded in ``report.io_events``.
    """
    report = ProbeReport({}, list(code.dropped), [])
    audit = _audit.construction_audited() if audit_io is None else audit_io
    for entry in code.manifest.nodes:
        cls = code.classes.get(entry.class_name)
        if cls is None or entry.class_name in report.schemas:
            continue
        scope = NodeScope(context, code.manifest.name, entry.class_name, Phase.CONSTRUCTION, handler=None)
        recorder = _audit.recorder(entry.class_name, code.manifest.directory) if audit else None
        node, failure = _construct_with_timeout(cls, scope, timeout, recorder)
        report.violations.extend(scope.violations)
        report.io_events.extend(list(recorder.events) if recorder else [])  # a snapshot: a timed-out __init__ runs on
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
            entry.class_name, tuple(p.spec() for p in node.parameters), metadata, behaviors,
            overridden_connection_hooks(cls),
        )
    return report


def _construct_with_timeout(
    cls: type[BaseNode], scope: NodeScope, timeout: float, recorder: _audit.IORecorder | None = None
) -> tuple[BaseNode | None, DroppedClass | None]:
    result: list[BaseNode | DroppedClass] = []

    def construct() -> None:
        with node_scope(scope):
            try:
                with _audit.recording(recorder):  # only __init__ itself, not the traceback formatting below
                    node = cls(f"probe-{cls.__name__}", None)
                result.append(node)
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


class ThreadTracker:
    """Counts the threads running one execution's library code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._idle = threading.Event()
        self._idle.set()

    def wrap(self, fn: Callable[..., T]) -> Callable[..., T]:
        def tracked(*args: Any, **kwargs: Any) -> T:
            with self._lock:
                self._running += 1
                self._idle.clear()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self._running -= 1
                    if not self._running:
                        self._idle.set()

        return tracked

    def wait_idle(self, timeout: float) -> bool:
        """True once no thread of this execution runs library code (waits up to ``timeout``)."""
        return self._idle.wait(timeout)


class HydrationError(Exception):
    """Setting a value on a transient node failed (a converter, validator or hook raised)."""

    def __init__(self, parameter: str, exc: BaseException) -> None:
        self.parameter = parameter
        self.cause = exc
        super().__init__(f"setting parameter {parameter!r} failed: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class NodeInvocation:
    """One node to build and run (or to set a value on): what travels to wherever its library runs.

    ``values`` are the node's stored values; ``inputs`` arrive for this one execution (over a
    connection, or with the request) and are set like a user's value.
    """

    class_name: str
    node_name: str
    metadata: Mapping[str, Any] | None
    specs: tuple[ParameterSpec, ...]
    values: Mapping[str, Any]
    inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Host:
    """Where library code runs: its strict-mode context, its library, and what answers its requests."""

    context: Context
    library: str
    handler: RequestHandler | None

    def scope(self, node_name: str, phase_: Phase) -> NodeScope:
        return NodeScope(self.context, self.library, node_name, phase_, self.handler)


def materialize(cls: type[BaseNode], invocation: NodeInvocation, scope: NodeScope) -> BaseNode:
    """Build a transient node that matches the authoritative parameter list and values.

    Runs ``__init__``, then sets each stored value through the framework path (before_value_set,
    converters, validators, after_value_set), letting hooks add parameters as they do for a user;
    parameters the authoritative list has and the class did not create are added from their spec,
    and parameters the authoritative list lacks are removed. Then each of the invocation's
    ``inputs`` is set the same way a user sets a value, and what its hooks add or remove stays.
    Call from a worker thread, not the loop.
    """
    metadata, specs, values, inputs = invocation.metadata, invocation.specs, invocation.values, invocation.inputs
    with phase(scope, Phase.CONSTRUCTION):
        try:
            node = cls(invocation.node_name, dict(metadata) if metadata else None)
        except (SystemExit, KeyboardInterrupt) as exc:  # library code must not end the engine
            raise RuntimeError(f"{cls.__name__}.__init__ raised {type(exc).__name__}({exc})") from exc
    wanted = {spec.name: spec for spec in specs}
    with phase(scope, Phase.HYDRATION):
        pending = [name for name in wanted if name in values and name not in inputs]
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
        for name, value in inputs.items():
            _set(node, name, value)
    return node


def changed_specs(node: BaseNode, sent: Sequence[ParameterSpec]) -> list[ParameterSpec] | None:
    """The node's parameter list if it differs from ``sent`` (hooks added or removed some), else None."""
    now = [p.spec() for p in node.parameters]
    return None if now == list(sent) else now


def _set(node: BaseNode, name: str, value: Any) -> None:
    try:
        node.set_parameter_value(name, value)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # library code must not end the engine
        raise HydrationError(name, exc) from exc


async def apply_value(
    cls: type[BaseNode], invocation: NodeInvocation, parameter_name: str, value: Any, host: Host
) -> tuple[list[ParameterSpec], list[Violation]]:
    """Set one value the way a user does, in a thread (hooks may block or issue requests).

    Returns the parameter list the hooks leave behind and the strict-mode violations they caused.
    """
    scope = host.scope(invocation.node_name, Phase.HYDRATION)
    resulting = await asyncio.to_thread(_apply_value, cls, invocation, parameter_name, value, scope)
    return resulting, scope.violations


def _apply_value(
    cls: type[BaseNode], invocation: NodeInvocation, parameter_name: str, value: Any, scope: NodeScope
) -> list[ParameterSpec]:
    with node_scope(scope):
        node = materialize(cls, invocation, scope)
        with phase(scope, Phase.HYDRATION):
            if node.get_parameter_by_name(parameter_name) is None:
                raise KeyError(f"node {invocation.node_name!r} has no parameter named {parameter_name!r}")
            _set(node, parameter_name, value)
        return [p.spec() for p in node.parameters]


async def execute(
    cls: type[BaseNode], invocation: NodeInvocation, host: Host, tracker: ThreadTracker | None = None
) -> ExecutionOutcome:
    """Build a fresh node, hydrate it, run ``aprocess`` and return its outputs; the node is discarded.

    The parameters the inputs' hooks add are reported back in ``ExecutionOutcome.specs``.
    ``tracker`` counts the threads this execution runs library code in, so a caller that cancelled
    the execution can tell whether the code has really stopped (a thread cannot be interrupted).
    """
    tracker = tracker or ThreadTracker()
    scope = host.scope(invocation.node_name, Phase.CONSTRUCTION)
    with node_scope(scope):
        try:
            if cls.aprocess is BaseNode.aprocess and not inspect.iscoroutinefunction(cls.process):
                # The common case, a plain process(): build, hydrate and run it in one thread hop.
                node, pending, hydrated = await asyncio.to_thread(
                    tracker.wrap(_materialize_and_process), cls, invocation, scope
                )
                if inspect.isawaitable(pending):
                    with phase(scope, Phase.APROCESS):
                        await pending
            else:
                node = await asyncio.to_thread(tracker.wrap(materialize), cls, invocation, scope)
                hydrated = changed_specs(node, invocation.specs)
                if not inspect.iscoroutinefunction(node.process):
                    node.process = tracker.wrap(node.process)  # type: ignore[method-assign]
                with phase(scope, Phase.APROCESS):
                    await node.aprocess()
        except HydrationError as exc:
            return ExecutionOutcome(
                {}, scope.violations, _remote_error(exc.cause, f"while setting parameter {exc.parameter!r}: ")
            )
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # SystemExit from library code fails the node, not the engine
            return ExecutionOutcome({}, scope.violations, _remote_error(exc))
    errors = [v for v in scope.violations if v.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        error = RemoteError(type="StrictModeViolation", message=f"{first.rule_id}: {first.message} {first.remediation}")
        return ExecutionOutcome(dict(node.parameter_output_values), scope.violations, error, hydrated)
    strays = [name for name in node.parameter_output_values if node.get_parameter_by_name(name) is None]
    return ExecutionOutcome(dict(node.parameter_output_values), scope.violations, specs=hydrated, strays=strays)


def _materialize_and_process(
    cls: type[BaseNode], invocation: NodeInvocation, scope: NodeScope
) -> tuple[BaseNode, Any, list[ParameterSpec] | None]:
    """In a worker thread: build and hydrate the node, then run its plain ``process``."""
    node = materialize(cls, invocation, scope)
    hydrated = changed_specs(node, invocation.specs)  # before process(): what it does to the list does not propagate
    with phase(scope, Phase.APROCESS):
        return node, node.process(), hydrated


def _remote_error(exc: BaseException, prefix: str = "") -> RemoteError:
    return RemoteError(
        type=type(exc).__name__,
        message=prefix + str(exc),
        traceback="".join(traceback.format_exception(exc)),
    )
