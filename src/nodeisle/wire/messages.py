"""The orchestrator⇄worker messages, one frozen dataclass each, and the registry of everything that crosses.

Each message's wire name is its class name; its answer is ``answer_type``. Requests that node code
forwards (nodeisle.requests) travel on the same bus and are in the same registry, :data:`BUS_TYPES`,
which both ends pass to the codec: a message is encoded exactly once, by the peer that sends it, and
decoded into these classes on the other side, so neither end handles string-keyed dicts.

    orchestrator -> worker   Execute -> Executed, ApplyValue -> ValueApplied,
                             ApplyConnection -> ConnectionApplied, Ping -> Pong,
                             AwaitStop -> Stopped, ReloadConfigRequest, RefreshSecretsRequest -> Result
    worker -> orchestrator   Ready -> None (once, after the schema probe), forwarded requests -> results
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from nodeisle.node.audit import IOEvent
from nodeisle.node.connections import ConnectionChange
from nodeisle.node.hosting import DroppedClass, NodeInvocation, NodeTypeSchema
from nodeisle.node.spec import ParameterSpec
from nodeisle.requests import WIRE_TYPES, RemoteError
from nodeisle.strict.rules import Violation


@dataclass(frozen=True)
class Executed:
    """What an execution gave: outputs, the violations it caused, its error, and what its inputs' hooks
    did to the parameter list (``specs``, None when unchanged); ``strays`` are outputs written to a
    name the node had no parameter of."""

    outputs: dict[str, Any] = field(default_factory=dict)
    violations: tuple[Violation, ...] = ()
    error: RemoteError | None = None
    specs: tuple[ParameterSpec, ...] | None = None
    strays: tuple[str, ...] = ()


@dataclass(frozen=True)
class Execute:
    """Run one node in the worker; ``exec_id`` names it for a later :class:`AwaitStop`."""

    answer_type: ClassVar[type[Any]] = Executed
    invocation: NodeInvocation
    exec_id: str


@dataclass(frozen=True)
class ValueApplied:
    specs: tuple[ParameterSpec, ...]
    violations: tuple[Violation, ...] = ()


@dataclass(frozen=True)
class ApplyValue:
    """Set one value on a transient node the way a user does (its hooks run in the worker)."""

    answer_type: ClassVar[type[Any]] = ValueApplied
    invocation: NodeInvocation
    parameter: str
    value: Any = None


@dataclass(frozen=True)
class ConnectionApplied:
    """The parameter list the connection hook left behind, and the violations it caused."""

    specs: tuple[ParameterSpec, ...]
    violations: tuple[Violation, ...] = ()


@dataclass(frozen=True)
class ApplyConnection:
    """Tell a transient node that a connection into it was made or removed (its hook runs in the worker)."""

    answer_type: ClassVar[type[Any]] = ConnectionApplied
    invocation: NodeInvocation
    change: ConnectionChange


@dataclass(frozen=True)
class Ready:
    """The worker's first message: it loaded its library and probed its node classes."""

    answer_type: ClassVar[type[Any]] = type(None)
    pid: int
    python: str
    schemas: tuple[NodeTypeSchema, ...] = ()
    dropped: tuple[DroppedClass, ...] = ()
    violations: tuple[Violation, ...] = ()
    io_events: tuple[IOEvent, ...] = ()  # I/O seen in __init__ during the probe, when it was audited
    # Non-empty: the library failed to load as a whole (its advanced library, a load hook, an engine
    # conflict), and why; the worker serves nothing and the orchestrator stops it.
    failure: str = ""


@dataclass(frozen=True)
class Pong:
    pass


@dataclass(frozen=True)
class Ping:
    """A heartbeat: a worker whose loop runs answers at once. ``payload`` is carried and dropped (the
    benchmark's bus rows measure the bus alone with it)."""

    answer_type: ClassVar[type[Any]] = Pong
    payload: Any = None


@dataclass(frozen=True)
class Stopped:
    stopped: bool


@dataclass(frozen=True)
class AwaitStop:
    """After a cancelled execution: has its library code stopped within ``grace`` seconds?"""

    answer_type: ClassVar[type[Any]] = Stopped
    exec_id: str
    grace: float


MESSAGE_TYPES: tuple[type[Any], ...] = (
    ApplyConnection, ApplyValue, AwaitStop, ConnectionApplied, Execute, Executed, Ping, Pong, Ready, Stopped,
    ValueApplied,
)

#: Every dataclass that may cross the bus between the orchestrator and a worker, by wire name.
BUS_TYPES: dict[str, type[Any]] = {
    **WIRE_TYPES,
    **{cls.__name__: cls for cls in MESSAGE_TYPES},
    **{
        cls.__name__: cls
        for cls in (NodeInvocation, ParameterSpec, Violation, NodeTypeSchema, DroppedClass, IOEvent, ConnectionChange)
    },
}
