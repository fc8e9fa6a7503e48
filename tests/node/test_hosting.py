"""Transient nodes: materialize reconciles a fresh instance with the authoritative parameter list."""

from __future__ import annotations

from typing import Any

from nodeisle import BaseNode, Parameter, ParameterMode
from nodeisle.node.hosting import Host, NodeInvocation, execute, materialize
from nodeisle.node.scope import NodeScope, Phase
from nodeisle.node.spec import ParameterSpec
from nodeisle.strict.rules import Context
from tests.conftest import run


class Dynamic(BaseNode):
    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, metadata)
        self.add_parameter(Parameter("n", type="int", default_value=1, allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("static", type="str", default_value="s"))

    def after_value_set(self, parameter: Parameter, value: Any) -> None:
        if parameter.name == "n":
            for i in range(value):
                if self.get_parameter_by_name(f"d{i}") is None:
                    self.add_parameter(Parameter(f"d{i}", type="str", default_value=f"default{i}"))

    def process(self) -> None:
        self.parameter_output_values["seen"] = dict(self.parameter_values)


def scope() -> NodeScope:
    return NodeScope(Context.ORCHESTRATOR, "lib", "node", Phase.CONSTRUCTION, None)


def test_values_for_dynamic_parameters_are_set_after_the_hook_creates_them() -> None:
    specs = [
        ParameterSpec("n", "int", 1),
        ParameterSpec("static", "str", "s"),
        ParameterSpec("d0", "str", "default0"),
        ParameterSpec("d1", "str", "default1"),
    ]
    node = materialize(Dynamic, NodeInvocation(Dynamic.__name__, "node", None, tuple(specs), {"d1": "given", "n": 2}), scope())
    assert [p.name for p in node.parameters] == ["n", "static", "d0", "d1"]
    assert node.parameter_values == {"n": 2, "static": "s", "d0": "default0", "d1": "given"}


def test_parameters_added_by_request_appear_and_removed_ones_disappear() -> None:
    specs = [ParameterSpec("n", "int", 1), ParameterSpec("extra", "float", 0.5, "added later")]
    node = materialize(Dynamic, NodeInvocation(Dynamic.__name__, "node", None, tuple(specs), {"extra": 2.5}), scope())
    assert [p.name for p in node.parameters] == ["n", "extra"]
    assert node.parameter_values == {"n": 1, "extra": 2.5}


def test_hydration_mutations_do_not_trip_the_mutation_rule_but_process_mutations_do() -> None:
    class Mutates(Dynamic):
        def process(self) -> None:
            self.add_parameter(Parameter("late"))

    specs = [ParameterSpec("n", "int", 1), ParameterSpec("static", "str", "s"), ParameterSpec("d0", "str", "default0")]
    outcome = run(execute(Dynamic, NodeInvocation(Dynamic.__name__, "node", None, tuple(specs), {"n": 1}), Host(Context.WORKER, "lib", None)))
    assert outcome.error is None and outcome.violations == []
    outcome = run(execute(Mutates, NodeInvocation(Mutates.__name__, "node", None, tuple(specs), {"n": 1}), Host(Context.WORKER, "lib", None)))
    assert [v.rule_id for v in outcome.violations] == ["parameter-mutation-during-aprocess"]
    assert outcome.error is not None and outcome.error.type == "StrictModeViolation"


def test_a_failing_converter_names_the_parameter_in_the_error() -> None:
    class Strict(BaseNode):
        def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
            super().__init__(name, metadata)
            self.add_parameter(Parameter("count", type="int", converters=[int]))

        def process(self) -> None:
            pass

    outcome = run(
        execute(
            Strict,
            NodeInvocation("Strict", "node", None, (ParameterSpec("count", "int"),), {"count": "many"}),
            Host(Context.ORCHESTRATOR, "lib", None),
        )
    )
    assert outcome.error is not None and outcome.error.type == "ValueError"
    assert "while setting parameter 'count'" in outcome.error.message
