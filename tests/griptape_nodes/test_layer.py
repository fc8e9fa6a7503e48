"""The compatibility layer's own semantics, without an engine: parameters, groups, values, errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Parameter, ParameterGroup, ParameterMode
from griptape_nodes.exe_types.node_types import BaseNode, ControlNode, DataNode
from griptape_nodes.retained_mode.events.parameter_events import AddParameterToNodeRequest
from griptape_nodes.retained_mode.griptape_nodes import GriptapeNodes


class Keywords(DataNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with ParameterGroup(name="Settings", collapsed=True) as group:
            Parameter(name="a", type="INT", default_value=1, tooltip="a")
            with ParameterGroup(name="Inner"):
                Parameter(name="b", input_types=["float", "int"], tooltip="b")
        self.add_node_element(group)
        self.add_parameter(Parameter(name="c", output_type="str", tooltip="c", display_name="See", hide=True))

    def process(self) -> None:
        self.parameter_output_values["c"] = "done"


def test_nodes_are_nodeisle_nodes_built_with_keywords_as_griptape_does() -> None:
    node = Keywords("n", {"k": 1})  # nodeisle builds nodes positionally
    assert isinstance(node, nodeisle.BaseNode) and (node.name, node.metadata) == ("n", {"k": 1})
    assert [p.name for p in node.parameters] == ["a", "b", "c"]
    with pytest.raises(TypeError, match="multiple values for argument 'name'"):
        Keywords("n", name="m")


def test_parameter_types_follow_griptapes_rule_and_ui_fields_live_in_ui_options() -> None:
    node = Keywords(name="n")
    a, b, c = (node.get_parameter_by_name(x) for x in "abc")
    assert isinstance(a, Parameter) and isinstance(b, Parameter) and isinstance(c, Parameter)
    assert (a.type, a.input_types, a.output_type) == ("int", ["int"], "int")
    assert (b.type, b.input_types, b.output_type) == ("float", ["float", "int"], "float")
    assert (c.type, c.output_type, c.display_name, c.hide) == ("str", "str", "See", True)
    assert c.ui_options == {"display_name": "See", "hide": True}
    assert a.spec().type == "int" and a.allowed_modes == set(ParameterMode)  # a set, as in Griptape
    assert a.spec().allowed_modes == tuple(ParameterMode)
    node.show_parameter_by_name(["c"])
    node.hide_parameter_by_name("a")
    assert (a.hide, c.hide) == (True, False)
    with pytest.raises(KeyError, match="no parameter, message or group named 'zz'"):
        node.hide_parameter_by_name("zz")


def test_parameter_values_hold_what_was_set_and_non_none_defaults_appear_just_before_process() -> None:
    node = Keywords(name="n")
    assert node.parameter_values == {}
    assert (node.get_parameter_value("a"), node.get_parameter_value("b"), node.get_parameter_value("zz")) == (
        1,
        None,
        None,
    )
    node.set_parameter_value("b", 2.5, initial_setup=True)
    assert node.parameter_values == {"b": 2.5}
    asyncio.run(node.aprocess())
    assert node.parameter_values == {"a": 1, "b": 2.5} and node.parameter_output_values == {"c": "done"}


def test_removing_a_group_by_name_removes_its_parameters_and_a_missing_name_is_ignored() -> None:
    node = Keywords(name="n")
    node.remove_parameter_element_by_name("nothing")
    node.remove_parameter_element_by_name("Settings")
    assert [p.name for p in node.parameters] == ["c"] and node.get_group_by_name_or_element_id("Settings") is None


def test_a_parameter_created_in_the_block_of_a_group_already_on_the_node_is_adopted_at_once() -> None:
    node = DataNode(name="n")
    group = ParameterGroup(name="Later")
    node.add_node_element(group)
    with group:
        Parameter(name="late", type="str", tooltip="late")
    assert node.get_parameter_by_name("late") is group.children[0]


def test_a_subclass_aprocess_sees_materialized_defaults_too() -> None:
    class Own(BaseNode):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.add_parameter(Parameter(name="x", type="int", default_value=3, tooltip="x"))
            self.add_parameter(Parameter(name="y", type="any", tooltip="y", allowed_modes={ParameterMode.OUTPUT}))

        async def aprocess(self) -> None:
            self.parameter_output_values["y"] = dict(self.parameter_values)

    node = Own(name="o")
    asyncio.run(node.aprocess())
    assert node.parameter_output_values == {"y": {"x": 3}}


def test_a_control_node_gets_exec_in_and_exec_out() -> None:
    node = ControlNode(name="c")
    assert [(p.name, p.type, p.allowed_modes) for p in node.parameters] == [
        ("exec_in", "parametercontroltype", {ParameterMode.INPUT}),
        ("exec_out", "parametercontroltype", {ParameterMode.OUTPUT}),
    ]
    assert node.control_parameter_in.display_name == "Flow In"


def test_a_generator_process_must_yield_callables() -> None:
    class Bad(DataNode):
        def process(self) -> Any:
            yield 42

    with pytest.raises(TypeError, match="must yield callables, it yielded int"):
        asyncio.run(Bad(name="b").aprocess())


def test_add_parameter_request_create_maps_griptape_keywords_onto_nodeisles_request() -> None:
    request = AddParameterToNodeRequest.create(
        node_name="n", name="p", input_types=["int"], tooltip="t", allowed_modes={ParameterMode.OUTPUT}, unknown=1
    )
    mapped = request.to_nodeisle()
    assert mapped == nodeisle.requests.AddParameterToNodeRequest(
        node_name="n", parameter_name="p", type="int", default_value=None, tooltip="t", allowed_modes=["OUTPUT"]
    )


def test_a_request_without_node_name_outside_a_node_names_the_fix() -> None:
    with pytest.raises(ValueError, match=r"pass node_name=self\.name"):
        AddParameterToNodeRequest(parameter_name="p").to_nodeisle()


def test_griptape_nodes_handle_request_refuses_a_nodeisle_request_and_names_missing_facade_members() -> None:
    with pytest.raises(TypeError, match=r"a nodeisle request goes to nodeisle\.handle_request"):
        GriptapeNodes.handle_request(nodeisle.requests.ListFlowsRequest())  # type: ignore[arg-type]
    with pytest.raises(AttributeError, match=r"GriptapeNodes\.FlowManager: nodeisle's griptape_nodes compatibility"):
        GriptapeNodes.FlowManager  # noqa: B018


def test_a_missing_name_fails_naming_it_the_layer_and_the_file_that_asked(tmp_path: Path) -> None:
    library_file = tmp_path / "needs_more.py"
    library_file.write_text("from griptape_nodes.exe_types.node_types import StartNode\n")
    code = compile(library_file.read_text(), str(library_file), "exec")
    with pytest.raises(ImportError) as caught:
        exec(code, {})
    message = str(caught.value)
    assert isinstance(caught.value, _compat.CompatImportError) and caught.value.missing == "StartNode"
    assert "node_types.StartNode" in message and "compatibility layer" in message
    assert f"{library_file}:1" in message


def test_a_missing_module_fails_naming_it_and_attribute_probes_stay_attribute_errors(tmp_path: Path) -> None:
    import griptape_nodes.exe_types.core_types as core_types

    library_file = tmp_path / "traits_user.py"
    library_file.write_text("from griptape_nodes.traits.color_picker import ColorPicker\n")
    with pytest.raises(ModuleNotFoundError, match=r"griptape_nodes\.traits\.color_picker.*compatibility layer") as caught:
        exec(compile(library_file.read_text(), str(library_file), "exec"), {})
    assert str(library_file) in str(caught.value)
    assert not hasattr(core_types, "ParameterDictionary")
    assert getattr(core_types, "ParameterDictionary", None) is None
    with pytest.raises(AttributeError, match=r"core_types\.ParameterDictionary: nodeisle provides"):
        core_types.ParameterDictionary  # noqa: B018
