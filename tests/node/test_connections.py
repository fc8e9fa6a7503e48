"""Connection hooks on a transient node: the stand-in for the source, the parameter list the hook
leaves behind, and the error that names the node, its class, the library and the hook."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from nodeisle import BaseNode, Parameter, ParameterMode
from nodeisle.node.connections import ConnectedNode, ConnectionChange, ConnectionHookError, apply_connection
from nodeisle.node.hosting import Host, NodeInvocation, NodeTypeSchema
from nodeisle.node.model import overridden_connection_hooks
from nodeisle.node.spec import ParameterSpec
from nodeisle.strict.rules import Context
from tests.conftest import run


class Plain(BaseNode):
    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, metadata)
        self.add_parameter(Parameter("a", type="any", allowed_modes={ParameterMode.INPUT}))


class Widening(Plain):
    """Adds one input per connection made into ``a``, named after the source's parameter."""

    seen: ClassVar[list[tuple[Any, Parameter, Parameter]]] = []

    def after_incoming_connection(self, source_node: Any, source_parameter: Parameter, target_parameter: Parameter) -> None:
        Widening.seen.append((source_node, source_parameter, target_parameter))
        self.add_parameter(Parameter(f"more_{source_parameter.name}", type=source_parameter.type))


class Broken(Plain):
    def after_incoming_connection_removed(self, source_node: Any, source_parameter: Parameter, target_parameter: Parameter) -> None:
        raise LookupError("nothing to remove")


HOST = Host(Context.WORKER, "lib", None)
SOURCE_SPECS = (ParameterSpec("x", "int", 0, "", (ParameterMode.OUTPUT,)), ParameterSpec("y", "str"))


def change(*, added: bool) -> ConnectionChange:
    return ConnectionChange(added, "up", "Upstream", "other lib", SOURCE_SPECS, "x", "a")


def invocation(cls: type[BaseNode]) -> NodeInvocation:
    return NodeInvocation(cls.__name__, "down", None, (ParameterSpec("a", "any", None, "", (ParameterMode.INPUT,)),), {})


def test_the_hook_gets_a_read_only_stand_in_and_the_parameter_list_it_leaves_is_returned() -> None:
    Widening.seen.clear()
    specs, violations = run(apply_connection(Widening, invocation(Widening), change(added=True), HOST))
    assert [s.name for s in specs] == ["a", "more_x"] and specs[1].type == "int" and violations == []
    ((source, source_parameter, target_parameter),) = Widening.seen
    assert isinstance(source, ConnectedNode) and (source.name, source.class_name, source.library) == (
        "up", "Upstream", "other lib"
    )
    assert [p.name for p in source.parameters] == ["x", "y"] and source.get_parameter_by_name("x") is source_parameter
    assert source_parameter.allowed_modes == (ParameterMode.OUTPUT,) and target_parameter.name == "a"
    with pytest.raises(AttributeError):
        source.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        source.name = "renamed"  # type: ignore[misc]
    with pytest.raises(AttributeError, match=r"'get_parameter_value': .* read-only stand-in for node 'up' \(Upstream"):
        source.get_parameter_value("x")  # type: ignore[attr-defined]


def test_a_node_without_the_hook_leaves_the_list_as_it_was() -> None:
    specs, _ = run(apply_connection(Plain, invocation(Plain), change(added=False), HOST))
    assert [s.name for s in specs] == ["a"]


def test_a_failing_hook_names_node_class_library_and_hook() -> None:
    with pytest.raises(ConnectionHookError) as caught:
        run(apply_connection(Broken, invocation(Broken), change(added=False), HOST))
    assert str(caught.value) == (
        "node 'down' (Broken of library 'lib'): after_incoming_connection_removed raised LookupError: "
        "nothing to remove"
    )


def test_only_overridden_hooks_are_listed_and_the_schema_carries_them() -> None:
    assert overridden_connection_hooks(Plain) == ()
    assert overridden_connection_hooks(Widening) == ("after_incoming_connection",)
    assert overridden_connection_hooks(Broken) == ("after_incoming_connection_removed",)
    schema = NodeTypeSchema("Widening", (), {}, {}, ("after_incoming_connection",))
    assert NodeTypeSchema.from_dict(schema.to_dict()) == schema
    assert NodeTypeSchema.from_dict({"class_name": "Old", "parameters": []}).hooks == ()
