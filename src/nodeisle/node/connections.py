"""Telling a node that a connection into it was made or removed: its connection hooks.

When the orchestrator creates or deletes a connection, the target node's host builds a transient
node (as for setting a value) and calls ``after_incoming_connection`` or
``after_incoming_connection_removed`` on it; what the hook does to the parameter list is sent back
and kept, like ``before_value_set`` / ``after_value_set`` changes are.

The source node is described, never passed: nodes are transient, and the source may run in
another process (another library's worker). The hook gets a :class:`ConnectedNode`, a read-only
stand-in holding the source's name, class, library and parameters. Standard library only: this
module runs inside workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from nodeisle.node.hosting import Host, NodeInvocation, materialize
from nodeisle.node.model import BaseNode, Parameter
from nodeisle.node.scope import NodeScope, Phase, node_scope, phase
from nodeisle.node.spec import ParameterSpec
from nodeisle.strict.rules import Violation

__all__ = ["ConnectedNode", "ConnectionChange", "ConnectionHookError", "apply_connection"]


@dataclass(frozen=True)
class ConnectionChange:
    """One connection into a node made (``added``) or removed, and what its source is (wire data)."""

    added: bool
    source_node: str
    source_class: str
    source_library: str
    source_parameters: tuple[ParameterSpec, ...]
    source_parameter: str
    target_parameter: str

    @property
    def hook(self) -> str:
        return "after_incoming_connection" if self.added else "after_incoming_connection_removed"


class ConnectedNode:
    """The source of a connection, as a hook sees it: a read-only stand-in, not the live node.

    ``name``, ``class_name``, ``library`` and ``parameters`` (built from the source's parameter list;
    ``get_parameter_by_name`` finds one). Changing it changes nothing: nodeisle keeps no live node
    objects, and the source may run in another process.
    """

    __slots__ = ("_class_name", "_library", "_name", "_parameters")

    def __init__(self, name: str, class_name: str, library: str, parameters: Sequence[Parameter]) -> None:
        self._name = name
        self._class_name = class_name
        self._library = library
        self._parameters = {p.name: p for p in parameters}

    @property
    def name(self) -> str:
        return self._name

    @property
    def class_name(self) -> str:
        return self._class_name

    @property
    def library(self) -> str:
        return self._library

    @property
    def parameters(self) -> list[Parameter]:
        return list(self._parameters.values())

    def get_parameter_by_name(self, name: str) -> Parameter | None:
        return self._parameters.get(name)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"{name!r}: the source_node a connection hook gets is a read-only stand-in for node {self._name!r} "
            f"({self._class_name} of library {self._library!r}) with name, class_name, library, parameters and "
            "get_parameter_by_name only; nodeisle keeps no live node objects (the source may run in another "
            "process). Read the value it sends in process(), where it arrives through the connection"
        )

    def __repr__(self) -> str:
        return f"<ConnectedNode {self.name!r} ({self.class_name} of library {self.library!r})>"


class ConnectionHookError(Exception):
    """A connection hook raised; the message names the node, its class, the library and the hook."""

    def __init__(self, node: str, class_name: str, library: str, hook: str, cause: BaseException) -> None:
        super().__init__(
            f"node {node!r} ({class_name} of library {library!r}): {hook} raised {type(cause).__name__}: {cause}"
        )


async def apply_connection(
    cls: type[BaseNode], invocation: NodeInvocation, change: ConnectionChange, host: Host
) -> tuple[list[ParameterSpec], list[Violation]]:
    """Run the connection hook ``change`` calls for, in a thread (it may block or issue requests).

    Returns the parameter list the hook leaves behind and the strict-mode violations it caused;
    raises :class:`ConnectionHookError` when building the node or the hook fails.
    """
    scope = host.scope(invocation.node_name, Phase.HYDRATION)
    resulting = await asyncio.to_thread(_apply, cls, invocation, change, scope)
    return resulting, scope.violations


def _apply(
    cls: type[BaseNode], invocation: NodeInvocation, change: ConnectionChange, scope: NodeScope
) -> list[ParameterSpec]:
    with node_scope(scope):
        try:
            node = materialize(cls, invocation, scope)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # __init__ and the values' hooks are library code
            raise ConnectionHookError(invocation.node_name, cls.__name__, scope.library, change.hook, exc) from None
        target = node.get_parameter_by_name(change.target_parameter)
        if target is None:
            raise KeyError(f"node {invocation.node_name!r} has no parameter named {change.target_parameter!r}")
        build = cls.stand_in_parameter_class.from_spec
        source = ConnectedNode(
            change.source_node, change.source_class, change.source_library,
            [build(spec) for spec in change.source_parameters],
        )
        source_parameter = source.get_parameter_by_name(change.source_parameter) or build(
            ParameterSpec(change.source_parameter)
        )
        with phase(scope, Phase.HYDRATION):
            try:
                getattr(node, change.hook)(source, source_parameter, target)
            except (Exception, SystemExit, KeyboardInterrupt) as exc:  # library code must not end the engine
                raise ConnectionHookError(invocation.node_name, cls.__name__, scope.library, change.hook, exc) from exc
        return [p.spec() for p in node.parameters]
