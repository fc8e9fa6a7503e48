"""Typed requests and results: the one way state changes, for the CLI, scripts and node code alike.

Every request class names its result class in ``result_type``. Results have ``succeeded`` and
``message``; on failure the answer attributes keep their defaults. The wire name of a request or
result is its class name; the registry below is built from the explicit tuples, never from import
side effects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from nodeisle.placement import LibraryMode as LibraryMode  # re-exported: requests carry it
from nodeisle.placement import as_mode
from nodeisle.request_values import ConnectionInfo as ConnectionInfo  # re-exported: results carry them
from nodeisle.request_values import NodeRunResult as NodeRunResult
from nodeisle.request_values import RemoteError as RemoteError


@dataclass(kw_only=True)
class Result:
    succeeded: bool = True
    message: str = ""

    @classmethod
    def failure(cls, message: str, **fields: Any) -> Self:
        return cls(succeeded=False, message=message, **fields)


@dataclass(kw_only=True)
class Request:
    result_type: ClassVar[type[Result]] = Result
    #: True when the request's state lives on the orchestrator (a worker forwards it).
    orchestrator_owned: ClassVar[bool] = True
    #: True when a worker answers the request from its own view of the state (config and secrets,
    #: refreshed by the orchestrator's broadcasts): no round trip, and not a reach-in.
    worker_view: ClassVar[bool] = False
    #: False for a service of the engine that is not flow state (saving a static file): forwarded from a
    #: worker, but not a ``worker-reach-into-orchestrator`` (its answer cannot go stale).
    flow_state: ClassVar[bool] = True


# -- shared value types ---------------------------------------------------------------------------
@dataclass(kw_only=True)
class LibraryInfo:
    name: str
    path: str
    compatibility: str
    suggested_mode: str | None
    effective_mode: str
    status: str  # loaded | failed | not-loaded
    worker_id: str | None = None
    worker_state: str | None = None
    problems: list[str] = field(default_factory=list)
    node_types: list[str] = field(default_factory=list)
    readable_secrets: list[str] | None = None
    dropped: list[dict[str, str]] = field(default_factory=list)  # class_name, reason, traceback
    python: str | None = None  # the interpreter its code runs on and why; None until it loaded
    python_setting: str | None = None  # its `nodeisle libraries python` value, if any
    containment: dict[str, Any] | None = None  # its limits, gpus and sandbox, and what enforces them here


# -- libraries ----------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class RegisterLibraryResult(Result):
    library_name: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class RegisterLibraryRequest(Request):
    """Load a library from a manifest path (or a folder holding one)."""

    result_type: ClassVar[type[Result]] = RegisterLibraryResult
    path: str
    mode: LibraryMode | None = None  # for this engine only; None: settings, else the manifest's suggestion

    def __post_init__(self) -> None:
        self.mode = None if self.mode in (None, "") else as_mode(self.mode)


@dataclass(kw_only=True)
class ListRegisteredLibrariesResult(Result):
    libraries: list[LibraryInfo] = field(default_factory=list)


@dataclass(kw_only=True)
class ListRegisteredLibrariesRequest(Request):
    result_type: ClassVar[type[Result]] = ListRegisteredLibrariesResult


@dataclass(kw_only=True)
class PlanResult(Result):
    """The dependency plan, as ``nodeisle plan --json`` prints it (docs/environments.md, "The plan")."""

    libraries: list[dict[str, Any]] = field(default_factory=list)  # name, mode, can_run_shared, recommended_mode...
    conflicts: list[dict[str, Any]] = field(default_factory=list)  # package, sides, message
    env_groups: list[list[str]] = field(default_factory=list)  # Isolated libraries resolving to one set
    notes: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class PlanRequest(Request):
    """The dependency plan of the registered libraries. ``modes`` asks what it would be if those libraries ran
    so (what the editor shows beside the Shared/Isolated choice before it is made)."""

    result_type: ClassVar[type[Result]] = PlanResult
    modes: dict[str, LibraryMode] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.modes = {name: as_mode(mode) for name, mode in self.modes.items()}


@dataclass(kw_only=True)
class ReloadLibraryRequest(Request):
    """Re-read a library's manifest and code; an isolated library gets a fresh worker."""

    library_name: str


@dataclass(kw_only=True)
class SetLibraryModeRequest(Request):
    library_name: str
    mode: LibraryMode

    def __post_init__(self) -> None:
        self.mode = as_mode(self.mode)


# -- flows --------------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class CreateFlowResult(Result):
    flow_name: str | None = None


@dataclass(kw_only=True)
class CreateFlowRequest(Request):
    result_type: ClassVar[type[Result]] = CreateFlowResult
    flow_name: str | None = None


@dataclass(kw_only=True)
class DeleteFlowRequest(Request):
    flow_name: str


@dataclass(kw_only=True)
class ListFlowsResult(Result):
    flow_names: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class ListFlowsRequest(Request):
    result_type: ClassVar[type[Result]] = ListFlowsResult


@dataclass(kw_only=True)
class RunFlowResult(Result):
    status: str = "failed"  # succeeded | failed | cancelled
    nodes: dict[str, NodeRunResult] = field(default_factory=dict)
    #: library name -> why it failed to load, once for the run; its nodes' errors name the library.
    library_errors: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class RunFlowRequest(Request):
    result_type: ClassVar[type[Result]] = RunFlowResult
    flow_name: str


# -- nodes --------------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class CreateNodeResult(Result):
    node_name: str | None = None


@dataclass(kw_only=True)
class CreateNodeRequest(Request):
    result_type: ClassVar[type[Result]] = CreateNodeResult
    node_type: str
    library_name: str | None = None  # None: the only library that has node_type
    node_name: str | None = None  # None: derived from node_type
    flow_name: str | None = None  # None: the only flow, created if there is none
    metadata: dict[str, Any] | None = None


@dataclass(kw_only=True)
class DeleteNodeRequest(Request):
    node_name: str


@dataclass(kw_only=True)
class ListNodesInFlowResult(Result):
    node_names: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class ListNodesInFlowRequest(Request):
    result_type: ClassVar[type[Result]] = ListNodesInFlowResult
    flow_name: str


@dataclass(kw_only=True)
class ExecuteNodeResult(Result):
    parameter_output_values: dict[str, Any] = field(default_factory=dict)
    error: RemoteError | None = None
    violations: list[dict[str, str]] = field(default_factory=list)


@dataclass(kw_only=True)
class ExecuteNodeRequest(Request):
    """Run one node with its stored values overlaid by ``parameter_values``; return its outputs."""

    result_type: ClassVar[type[Result]] = ExecuteNodeResult
    node_name: str
    parameter_values: dict[str, Any] = field(default_factory=dict)
    node_metadata: dict[str, Any] | None = None


# -- parameters ---------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class ListParametersOnNodeResult(Result):
    parameter_names: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class ListParametersOnNodeRequest(Request):
    result_type: ClassVar[type[Result]] = ListParametersOnNodeResult
    node_name: str


@dataclass(kw_only=True)
class AddParameterToNodeRequest(Request):
    node_name: str
    parameter_name: str
    type: str = "any"
    default_value: Any = None
    tooltip: str = ""
    allowed_modes: list[str] | None = None


@dataclass(kw_only=True)
class RemoveParameterFromNodeRequest(Request):
    node_name: str
    parameter_name: str


@dataclass(kw_only=True)
class SetParameterValueRequest(Request):
    node_name: str
    parameter_name: str
    value: Any = None


@dataclass(kw_only=True)
class GetParameterValueResult(Result):
    value: Any = None


@dataclass(kw_only=True)
class GetParameterValueRequest(Request):
    result_type: ClassVar[type[Result]] = GetParameterValueResult
    node_name: str
    parameter_name: str


@dataclass(kw_only=True)
class GetParameterDetailsResult(Result):
    type: str | None = None
    default_value: Any = None
    tooltip: str | None = None
    allowed_modes: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class GetParameterDetailsRequest(Request):
    result_type: ClassVar[type[Result]] = GetParameterDetailsResult
    node_name: str
    parameter_name: str


# -- connections --------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class CreateConnectionRequest(Request):
    source_node_name: str
    source_parameter_name: str
    target_node_name: str
    target_parameter_name: str


@dataclass(kw_only=True)
class DeleteConnectionRequest(Request):
    source_node_name: str
    source_parameter_name: str
    target_node_name: str
    target_parameter_name: str


@dataclass(kw_only=True)
class ListConnectionsForNodeResult(Result):
    incoming: list[ConnectionInfo] = field(default_factory=list)
    outgoing: list[ConnectionInfo] = field(default_factory=list)


@dataclass(kw_only=True)
class ListConnectionsForNodeRequest(Request):
    result_type: ClassVar[type[Result]] = ListConnectionsForNodeResult
    node_name: str


@dataclass(kw_only=True)
class ListConnectionsForParameterRequest(Request):
    result_type: ClassVar[type[Result]] = ListConnectionsForNodeResult
    node_name: str
    parameter_name: str


# -- broadcasts to workers ----------------------------------------------------------------------------
@dataclass(kw_only=True)
class ReloadConfigRequest(Request):
    """Sent by the orchestrator to every worker after a config change."""

    orchestrator_owned: ClassVar[bool] = False


@dataclass(kw_only=True)
class RefreshSecretsRequest(Request):
    """Sent by the orchestrator to every worker after a secrets change.

    ``values`` are secrets handed over the bus (nodeisle.config.views): a library that declares
    ``required_secrets`` gets exactly those keys' values; any other library gets the operator-set
    values, which re-reading ``.env`` must not replace. ``repr`` never shows them.
    """

    orchestrator_owned: ClassVar[bool] = False
    values: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"RefreshSecretsRequest(values={_masked_keys(self.values)})"


# -- config and secrets (docs/config.md, docs/secrets.md) ---------------------------------------------
def _masked_keys(values: dict[str, str] | None) -> str:
    return "None" if values is None else "{" + ", ".join(f"{k!r}: '***'" for k in sorted(values)) + "}"


@dataclass(kw_only=True)
class GetConfigValueResult(Result):
    value: Any = None


@dataclass(kw_only=True)
class GetConfigValueRequest(Request):
    """The effective value of a config key: a typed setting or ``libraries.<library>.<name>``."""

    result_type: ClassVar[type[Result]] = GetConfigValueResult
    worker_view: ClassVar[bool] = True
    key: str


@dataclass(kw_only=True)
class SetConfigValueRequest(Request):
    """Store a config value in ``config.json``; every worker reloads its config."""

    key: str
    value: Any = None


@dataclass(kw_only=True)
class ResetConfigRequest(Request):
    """Remove ``key`` (None: every key) from ``config.json``, back to its default."""

    key: str | None = None


@dataclass(kw_only=True)
class GetSecretValueResult(Result):
    value: str | None = None  # None: the key is unknown, or the library may not read it

    def __repr__(self) -> str:
        shown = "None" if self.value is None else "'***'"
        return f"GetSecretValueResult(succeeded={self.succeeded!r}, message={self.message!r}, value={shown})"


@dataclass(kw_only=True)
class GetSecretValueRequest(Request):
    """A secret's value. A worker whose library declares ``required_secrets`` reads only those keys."""

    result_type: ClassVar[type[Result]] = GetSecretValueResult
    worker_view: ClassVar[bool] = True
    key: str


@dataclass(kw_only=True)
class SetSecretValueRequest(Request):
    """Store a secret in ``.env``; overrides an operator-set variable (with a WARNING naming the key)."""

    key: str
    value: str

    def __repr__(self) -> str:
        return f"SetSecretValueRequest(key={self.key!r}, value='***')"


@dataclass(kw_only=True)
class DeleteSecretValueRequest(Request):
    """Remove a secret from ``.env``; an operator-set variable of the same name stays."""

    key: str


# -- static files (docs/griptape-compat.md#static-files) ---------------------------------------------
@dataclass(kw_only=True)
class SaveStaticFileResult(Result):
    path: str | None = None  # where the file went (absolute)
    url: str | None = None  # the same, as a file:// URL
    file_name: str | None = None  # its name in the library's folder: create_new may have numbered it
    failure_reason: str | None = None  # on failure: invalid_name | exists | too_large | io_error


@dataclass(kw_only=True)
class SaveStaticFileRequest(Request):
    """Write ``data`` atomically to ``<home>/static_files/<library folder>/<file_name>``; the orchestrator writes it
    (never a worker), into the folder of the sender's own library. ``existing_file_policy``: ``overwrite``,
    ``create_new`` (``name_1.ext`` ...) or ``fail``."""

    result_type: ClassVar[type[Result]] = SaveStaticFileResult
    flow_state: ClassVar[bool] = False
    library_name: str
    file_name: str
    data: bytes = b""
    existing_file_policy: str = "overwrite"

    def __repr__(self) -> str:
        return f"SaveStaticFileRequest({self.library_name!r}, {self.file_name!r}, <{len(self.data)} bytes>)"


REQUEST_TYPES: tuple[type[Request], ...] = (
    AddParameterToNodeRequest,
    CreateConnectionRequest,
    CreateFlowRequest,
    CreateNodeRequest,
    DeleteConnectionRequest,
    DeleteFlowRequest,
    DeleteNodeRequest,
    DeleteSecretValueRequest,
    ExecuteNodeRequest,
    GetConfigValueRequest,
    GetParameterDetailsRequest,
    GetParameterValueRequest,
    GetSecretValueRequest,
    ListConnectionsForNodeRequest,
    ListConnectionsForParameterRequest,
    ListFlowsRequest,
    ListNodesInFlowRequest,
    ListParametersOnNodeRequest,
    ListRegisteredLibrariesRequest,
    PlanRequest,
    RefreshSecretsRequest,
    RegisterLibraryRequest,
    ReloadConfigRequest,
    ReloadLibraryRequest,
    RemoveParameterFromNodeRequest,
    ResetConfigRequest,
    RunFlowRequest,
    SaveStaticFileRequest,
    SetConfigValueRequest,
    SetLibraryModeRequest,
    SetParameterValueRequest,
    SetSecretValueRequest,
)

#: Every dataclass that may cross the bus, by wire name.
WIRE_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        *REQUEST_TYPES,
        *{r.result_type for r in REQUEST_TYPES},
        ConnectionInfo,
        RemoteError,
        LibraryInfo,
        NodeRunResult,
    )
}


def fields_of(obj: Any) -> dict[str, Any]:
    """The init fields of a request or result, shallow (values are not converted)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init}
