"""The orchestrator's authoritative graph: flows, nodes, parameters, values and connections.

Pure state with validation, no I/O and no library code: every method either changes the graph
and returns, or raises :class:`RequestFailed` with a message naming what was wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nodeisle.node.spec import ParameterMode, ParameterSpec, is_control_type
from nodeisle.requests import ConnectionInfo


class RequestFailed(Exception):
    """A request cannot be carried out; the message is shown to the user as is."""


@dataclass
class NodeRecord:
    name: str
    flow: str
    library: str
    class_name: str
    metadata: dict[str, Any]
    specs: list[ParameterSpec]
    values: dict[str, Any] = field(default_factory=dict)  # values set by users / requests, as given
    outputs: dict[str, Any] = field(default_factory=dict)  # from the last execution
    version: int = 0  # bumped by every change of the parameter list or the values

    def spec(self, parameter: str) -> ParameterSpec:
        for spec in self.specs:
            if spec.name == parameter:
                return spec
        known = ", ".join(s.name for s in self.specs) or "(none)"
        raise RequestFailed(f"node {self.name!r} has no parameter {parameter!r}; its parameters are: {known}")

    def value(self, parameter: str) -> Any:
        spec = self.spec(parameter)
        if spec.has_mode(ParameterMode.OUTPUT) and parameter in self.outputs:
            return self.outputs[parameter]
        return self.values.get(parameter, spec.default_value)


@dataclass
class Flow:
    name: str
    nodes: list[str] = field(default_factory=list)
    connections: list[ConnectionInfo] = field(default_factory=list)


def types_compatible(source: str, target: str) -> bool:
    return source == target or "any" in (source, target)


def is_control(spec: ParameterSpec) -> bool:
    """True for a control parameter (``exec_in``, ``exec_out``): one of a control type, whatever its name."""
    return is_control_type(spec.type)


def _kind(spec: ParameterSpec, end: str) -> str:
    return f"a control {end} (type {spec.type!r})" if is_control(spec) else f"a data {end} (type {spec.type!r})"


class Graph:
    def __init__(self) -> None:
        self.flows: dict[str, Flow] = {}
        self.nodes: dict[str, NodeRecord] = {}

    # -- flows ------------------------------------------------------------------------------------
    def create_flow(self, name: str | None) -> Flow:
        if name is None:
            name = _unique("flow", self.flows)
        if not name:
            raise RequestFailed("a flow name must not be empty")
        if name in self.flows:
            raise RequestFailed(f"a flow named {name!r} already exists")
        flow = self.flows[name] = Flow(name)
        return flow

    def flow(self, name: str) -> Flow:
        try:
            return self.flows[name]
        except KeyError:
            known = ", ".join(self.flows) or "(none)"
            raise RequestFailed(f"no flow named {name!r}; flows: {known}") from None

    def delete_flow(self, name: str) -> None:
        flow = self.flow(name)
        for node in list(flow.nodes):
            self.delete_node(node)
        del self.flows[name]

    def default_flow(self) -> Flow:
        if not self.flows:
            return self.create_flow("flow")
        if len(self.flows) == 1:
            return next(iter(self.flows.values()))
        raise RequestFailed(f"there are {len(self.flows)} flows; name one with flow_name")

    # -- nodes ------------------------------------------------------------------------------------
    def add_node(self, record: NodeRecord) -> None:
        if not record.name:
            raise RequestFailed("a node name must not be empty")
        if record.name in self.nodes:
            raise RequestFailed(
                f"a node named {record.name!r} already exists (in flow {self.nodes[record.name].flow!r})"
            )
        self.flow(record.flow).nodes.append(record.name)
        self.nodes[record.name] = record

    def unique_node_name(self, base: str) -> str:
        return _unique(base, self.nodes)

    def node(self, name: str) -> NodeRecord:
        try:
            return self.nodes[name]
        except KeyError:
            raise RequestFailed(f"no node named {name!r}") from None

    def delete_node(self, name: str) -> None:
        record = self.node(name)
        flow = self.flows[record.flow]
        flow.connections = [c for c in flow.connections if name not in (c.source_node_name, c.target_node_name)]
        flow.nodes.remove(name)
        del self.nodes[name]

    # -- parameters -------------------------------------------------------------------------------
    def add_parameter(self, node: str, spec: ParameterSpec) -> None:
        record = self.node(node)
        if any(s.name == spec.name for s in record.specs):
            raise RequestFailed(f"node {node!r} already has a parameter named {spec.name!r}")
        record.specs.append(spec)
        record.version += 1

    def remove_parameter(self, node: str, parameter: str) -> None:
        record = self.node(node)
        record.spec(parameter)
        self.replace_specs(record, [s for s in record.specs if s.name != parameter])

    def replace_specs(self, record: NodeRecord, specs: Iterable[ParameterSpec]) -> None:
        """Install a new parameter list; values and connections of vanished parameters go with them."""
        record.specs = list(specs)
        record.version += 1
        names = {s.name for s in record.specs}
        record.values = {k: v for k, v in record.values.items() if k in names}
        record.outputs = {k: v for k, v in record.outputs.items() if k in names}
        flow = self.flows[record.flow]
        flow.connections = [
            c
            for c in flow.connections
            if not (c.source_node_name == record.name and c.source_parameter_name not in names)
            and not (c.target_node_name == record.name and c.target_parameter_name not in names)
        ]

    # -- connections ------------------------------------------------------------------------------
    def connect(self, connection: ConnectionInfo) -> None:
        source = self.node(connection.source_node_name)
        target = self.node(connection.target_node_name)
        source_spec = source.spec(connection.source_parameter_name)
        target_spec = target.spec(connection.target_parameter_name)
        if source.flow != target.flow:
            raise RequestFailed(
                f"cannot connect {connection}: the nodes are in different flows ({source.flow!r}, {target.flow!r})"
            )
        if not source_spec.has_mode(ParameterMode.OUTPUT):
            raise RequestFailed(
                f"cannot connect {connection}: {source.name}.{source_spec.name} is not an OUTPUT parameter"
            )
        if not target_spec.has_mode(ParameterMode.INPUT):
            raise RequestFailed(
                f"cannot connect {connection}: {target.name}.{target_spec.name} is not an INPUT parameter"
            )
        control = is_control(source_spec)
        if control != is_control(target_spec):
            raise RequestFailed(
                f"cannot connect {connection}: {source.name}.{source_spec.name} is {_kind(source_spec, 'output')} "
                f"but {target.name}.{target_spec.name} is {_kind(target_spec, 'input')}; connect a control output "
                "(exec_out) to a control input (exec_in), and a data output to a data input"
            )
        accepted = target_spec.accepted_types()
        if not control and not any(types_compatible(source_spec.type, t) for t in accepted):
            shown = repr(target_spec.type) if accepted == (target_spec.type,) else f"any of {list(accepted)!r}"
            raise RequestFailed(
                f"cannot connect {connection}: type {source_spec.type!r} does not match {shown} "
                "(a connection needs equal types or an 'any' end)"
            )
        flow = self.flows[source.flow]
        self._check_fan(flow, connection, control=control)
        cycle = self._path(flow, target.name, source.name)
        if cycle is not None:
            raise RequestFailed(
                f"cannot connect {connection}: it would close the cycle {' -> '.join([source.name, *cycle])}"
            )
        flow.connections.append(connection)

    @staticmethod
    def _check_fan(flow: Flow, connection: ConnectionInfo, *, control: bool) -> None:
        """Griptape's rule: a data input takes one connection, and so does a control output; a data
        output and a control input (where branches meet again) take many."""
        if control:
            end = (connection.source_node_name, connection.source_parameter_name)
            taken = [c for c in flow.connections if (c.source_node_name, c.source_parameter_name) == end]
            if taken:
                raise RequestFailed(
                    f"cannot connect {connection}: the control output {end[0]}.{end[1]} already leads to "
                    f"{taken[0].target_node_name}.{taken[0].target_parameter_name}; a control output connects to one "
                    "control input (delete that connection first, or chain the nodes one after another)"
                )
            return
        end = (connection.target_node_name, connection.target_parameter_name)
        for existing in flow.connections:
            if (existing.target_node_name, existing.target_parameter_name) == end:
                raise RequestFailed(f"cannot connect {connection}: {end[0]}.{end[1]} is already fed by {existing}")

    def is_control(self, connection: ConnectionInfo) -> bool:
        """True for a control connection (its source is a control output): it orders, carries no value."""
        return is_control(self.node(connection.source_node_name).spec(connection.source_parameter_name))

    def disconnect(self, connection: ConnectionInfo) -> None:
        flow = self.flows[self.node(connection.source_node_name).flow]
        if connection not in flow.connections:
            raise RequestFailed(f"no connection {connection}")
        flow.connections.remove(connection)

    def connections_of(
        self, node: str, parameter: str | None = None
    ) -> tuple[list[ConnectionInfo], list[ConnectionInfo]]:
        record = self.node(node)
        if parameter is not None:
            record.spec(parameter)
        flow = self.flows[record.flow]
        incoming = [
            c for c in flow.connections if c.target_node_name == node and parameter in (None, c.target_parameter_name)
        ]
        outgoing = [
            c for c in flow.connections if c.source_node_name == node and parameter in (None, c.source_parameter_name)
        ]
        return incoming, outgoing

    @staticmethod
    def _path(flow: Flow, start: str, goal: str) -> list[str] | None:
        """A path of node names from ``start`` to ``goal`` along connections, if there is one."""
        stack: list[list[str]] = [[start]]
        seen: set[str] = set()
        while stack:
            path = stack.pop()
            if path[-1] == goal:
                return path
            if path[-1] in seen:
                continue
            seen.add(path[-1])
            stack.extend([*path, c.target_node_name] for c in flow.connections if c.source_node_name == path[-1])
        return None


def _unique(base: str, taken: Iterable[str]) -> str:
    names = set(taken)
    if base not in names:
        return base
    n = 2
    while f"{base}_{n}" in names:
        n += 1
    return f"{base}_{n}"
