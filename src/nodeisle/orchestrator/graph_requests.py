"""The requests answered from the graph: flows, nodes, parameters and connections.

Setting a value and executing are the orchestrator's (they run library code). Connections are
answered here and, when the target node's class overrides a connection hook (its schema's
``hooks``), its host runs that hook and the parameter list it leaves behind is kept; a hook that
fails fails the request and leaves the graph as it was. Creating a node asks the library registry
which library has the type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from nodeisle.flow.graph import Graph, NodeRecord, RequestFailed
from nodeisle.node.connections import ConnectionChange
from nodeisle.node.spec import ParameterSpec
from nodeisle.orchestrator.deadline import Deadline, timeout_problem
from nodeisle.orchestrator.hostapi import NodeHost
from nodeisle.orchestrator.libraries import LibraryRegistry
from nodeisle.requests import (
    AddParameterToNodeRequest,
    ConnectionInfo,
    CreateConnectionRequest,
    CreateFlowRequest,
    CreateFlowResult,
    CreateNodeRequest,
    CreateNodeResult,
    DeleteConnectionRequest,
    DeleteFlowRequest,
    DeleteNodeRequest,
    GetParameterDetailsRequest,
    GetParameterDetailsResult,
    GetParameterValueRequest,
    GetParameterValueResult,
    ListConnectionsForNodeRequest,
    ListConnectionsForNodeResult,
    ListConnectionsForParameterRequest,
    ListFlowsRequest,
    ListFlowsResult,
    ListNodesInFlowRequest,
    ListNodesInFlowResult,
    ListParametersOnNodeRequest,
    ListParametersOnNodeResult,
    RemoveParameterFromNodeRequest,
    Request,
    Result,
)


class GraphRequests:
    """The graph's requests over one :class:`~nodeisle.flow.graph.Graph`.

    ``host_of`` is where a node's library code runs (connection hooks), ``hook_deadline`` how long a
    hook may take; without ``host_of`` no hook runs.
    """

    def __init__(
        self,
        graph: Graph,
        registry: LibraryRegistry,
        host_of: Callable[[NodeRecord], Awaitable[NodeHost]] | None = None,
        hook_deadline: Callable[[], Deadline | None] = lambda: None,
    ) -> None:
        self.graph = graph
        self.registry = registry
        self.host_of = host_of
        self.hook_deadline = hook_deadline

    def sync_handlers(self) -> Mapping[type[Request], Callable[[Any], Result]]:
        return {
            CreateFlowRequest: self.create_flow,
            DeleteFlowRequest: self.delete_flow,
            ListFlowsRequest: self.list_flows,
            ListNodesInFlowRequest: self.list_nodes,
            ListParametersOnNodeRequest: self.list_parameters,
            AddParameterToNodeRequest: self.add_parameter,
            RemoveParameterFromNodeRequest: self.remove_parameter,
            GetParameterValueRequest: self.get_value,
            GetParameterDetailsRequest: self.get_details,
            ListConnectionsForNodeRequest: self.connections_for_node,
            ListConnectionsForParameterRequest: self.connections_for_parameter,
            CreateNodeRequest: self.create_node,
        }

    def async_handlers(self) -> Mapping[type[Request], Callable[[Any], Awaitable[Result]]]:
        return {
            CreateConnectionRequest: self.connect,
            DeleteConnectionRequest: self.disconnect,
            DeleteNodeRequest: self.delete_node,
        }

    # -- flows and nodes --------------------------------------------------------------------------
    def create_flow(self, request: CreateFlowRequest) -> CreateFlowResult:
        return CreateFlowResult(flow_name=self.graph.create_flow(request.flow_name).name)

    def delete_flow(self, request: DeleteFlowRequest) -> Result:
        self.graph.delete_flow(request.flow_name)
        return Result()

    def list_flows(self, _request: ListFlowsRequest) -> ListFlowsResult:
        return ListFlowsResult(flow_names=list(self.graph.flows))

    def create_node(self, request: CreateNodeRequest) -> CreateNodeResult:
        state, schema = self.registry.node_type(request.node_type, request.library_name)
        flow = self.graph.flow(request.flow_name) if request.flow_name else self.graph.default_flow()
        name = request.node_name or self.graph.unique_node_name(request.node_type)
        check_timeout(name, request.metadata, "CreateNodeRequest.metadata")
        metadata = {**{k: v for k, v in schema.metadata.items() if v is not None}, **(request.metadata or {})}
        self.graph.add_node(
            NodeRecord(name, flow.name, state.name, schema.class_name, metadata, list(schema.parameters))
        )
        return CreateNodeResult(node_name=name)

    async def delete_node(self, request: DeleteNodeRequest) -> Result:
        """Delete the node; each node it fed is told its connection was removed (as in Griptape). The
        node is deleted even when such a hook fails: the result's message then says which failed."""
        record = self.graph.node(request.node_name)
        outgoing = [c for c in self.graph.flows[record.flow].connections
                    if c.source_node_name == record.name and c.target_node_name != record.name]
        changes = [(c.target_node_name, self._change(c, added=False)) for c in outgoing]
        self.graph.delete_node(request.node_name)
        failed: list[str] = []
        for target_name, change in changes:
            target = self.graph.nodes.get(target_name)
            if change is None or target is None:
                continue
            try:
                await self._run_hook(target, change)
            except Exception as exc:  # the node is gone either way; say which hook failed
                failed.append(str(exc) if isinstance(exc, RequestFailed) else f"{type(exc).__name__}: {exc}")
        return Result(message="; ".join(failed))

    def list_nodes(self, request: ListNodesInFlowRequest) -> ListNodesInFlowResult:
        return ListNodesInFlowResult(node_names=list(self.graph.flow(request.flow_name).nodes))

    # -- parameters -------------------------------------------------------------------------------
    def list_parameters(self, request: ListParametersOnNodeRequest) -> ListParametersOnNodeResult:
        return ListParametersOnNodeResult(parameter_names=[s.name for s in self.graph.node(request.node_name).specs])

    def add_parameter(self, request: AddParameterToNodeRequest) -> Result:
        try:
            spec = ParameterSpec.from_dict(
                {
                    "name": request.parameter_name,
                    "type": request.type,
                    "default_value": request.default_value,
                    "tooltip": request.tooltip,
                    "allowed_modes": request.allowed_modes,
                }
            )
        except ValueError as exc:
            raise RequestFailed(f"AddParameterToNodeRequest for node {request.node_name!r}: {exc}") from None
        if not request.parameter_name.isidentifier():
            raise RequestFailed(f"parameter name {request.parameter_name!r} must be a Python identifier")
        self.graph.add_parameter(request.node_name, spec)
        return Result(message=f"added {request.node_name}.{request.parameter_name}")

    def remove_parameter(self, request: RemoveParameterFromNodeRequest) -> Result:
        self.graph.remove_parameter(request.node_name, request.parameter_name)
        return Result(message=f"removed {request.node_name}.{request.parameter_name}")

    def get_value(self, request: GetParameterValueRequest) -> GetParameterValueResult:
        return GetParameterValueResult(value=self.graph.node(request.node_name).value(request.parameter_name))

    def get_details(self, request: GetParameterDetailsRequest) -> GetParameterDetailsResult:
        spec = self.graph.node(request.node_name).spec(request.parameter_name)
        return GetParameterDetailsResult(
            type=spec.type,
            default_value=spec.default_value,
            tooltip=spec.tooltip,
            allowed_modes=[str(m) for m in spec.allowed_modes],
        )

    # -- connections ------------------------------------------------------------------------------
    @staticmethod
    def _connection(request: CreateConnectionRequest | DeleteConnectionRequest) -> ConnectionInfo:
        return ConnectionInfo(
            source_node_name=request.source_node_name,
            source_parameter_name=request.source_parameter_name,
            target_node_name=request.target_node_name,
            target_parameter_name=request.target_parameter_name,
        )

    async def connect(self, request: CreateConnectionRequest) -> Result:
        connection = self._connection(request)
        self.graph.connect(connection)
        flow = self.graph.flows[self.graph.node(connection.target_node_name).flow]
        try:
            await self._tell_target(connection, added=True)
        except BaseException:  # a failed (or cancelled) request leaves the graph as it was
            if connection in flow.connections:
                flow.connections.remove(connection)
            raise
        return Result()

    async def disconnect(self, request: DeleteConnectionRequest) -> Result:
        connection = self._connection(request)
        flow = self.graph.flows[self.graph.node(connection.source_node_name).flow]
        position = flow.connections.index(connection) if connection in flow.connections else len(flow.connections)
        self.graph.disconnect(connection)
        try:
            await self._tell_target(connection, added=False)
        except BaseException:
            if {connection.source_node_name, connection.target_node_name} <= set(flow.nodes):
                flow.connections.insert(position, connection)
            raise
        return Result()

    def _change(self, connection: ConnectionInfo, *, added: bool) -> ConnectionChange | None:
        """What the target's hook is told, or None when its class has no such hook (or nothing runs hooks)."""
        target = self.graph.node(connection.target_node_name)
        state = self.registry.states.get(target.library)
        schema = state.schemas.get(target.class_name) if state is not None else None
        hook = "after_incoming_connection" if added else "after_incoming_connection_removed"
        if self.host_of is None or schema is None or hook not in schema.hooks:
            return None
        source = self.graph.node(connection.source_node_name)
        return ConnectionChange(
            added, source.name, source.class_name, source.library, tuple(source.specs),
            connection.source_parameter_name, connection.target_parameter_name,
        )

    async def _tell_target(self, connection: ConnectionInfo, *, added: bool) -> None:
        change = self._change(connection, added=added)
        if change is not None:
            await self._run_hook(self.graph.node(connection.target_node_name), change)

    async def _run_hook(self, target: NodeRecord, change: ConnectionChange) -> None:
        """Run the target's connection hook and keep the parameter list it leaves."""
        assert self.host_of is not None
        for _attempt in range(3):
            version = target.version
            host = await self.host_of(target)  # waits while the library is loading
            specs, _violations = await host.apply_connection(target, change, self.hook_deadline())
            if self.graph.nodes.get(target.name) is not target:
                raise RequestFailed(f"node {target.name!r} was deleted while its {change.hook} ran")
            if target.version == version:  # nothing changed the node meanwhile: the hook's result stands
                if specs != target.specs:
                    self.graph.replace_specs(target, specs)
                return
        raise RequestFailed(f"node {target.name!r} kept changing while its {change.hook} ran; try again")

    def connections_for_node(self, request: ListConnectionsForNodeRequest) -> ListConnectionsForNodeResult:
        incoming, outgoing = self.graph.connections_of(request.node_name)
        return ListConnectionsForNodeResult(incoming=incoming, outgoing=outgoing)

    def connections_for_parameter(self, request: ListConnectionsForParameterRequest) -> ListConnectionsForNodeResult:
        incoming, outgoing = self.graph.connections_of(request.node_name, request.parameter_name)
        return ListConnectionsForNodeResult(incoming=incoming, outgoing=outgoing)


def check_timeout(node: str, metadata: Mapping[str, Any] | None, where: str) -> None:
    """Refuse a node ``timeout`` that is not a positive, finite number of seconds (NaN would disable the deadline)."""
    if metadata and metadata.get("timeout") is not None:
        problem = timeout_problem(metadata["timeout"])
        if problem is not None:
            raise RequestFailed(f"node {node!r}: {where}: {problem}")
