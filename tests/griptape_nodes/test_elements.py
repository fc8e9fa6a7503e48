"""The layer's parameter types, traits, lists, messages and node members, without an engine."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import nodeisle
from griptape_nodes.exe_types.core_types import (
    NodeMessagePayload,
    NodeMessageResult,
    Parameter,
    ParameterGroup,
    ParameterList,
    ParameterMessage,
    ParameterMode,
)
from griptape_nodes.exe_types.node_types import DataNode, NodeValidationError, SuccessFailureNode
from griptape_nodes.exe_types.param_types.parameter_bool import ParameterBool
from griptape_nodes.exe_types.param_types.parameter_float import ParameterFloat
from griptape_nodes.exe_types.param_types.parameter_image import ParameterImage
from griptape_nodes.exe_types.param_types.parameter_int import ParameterInt
from griptape_nodes.exe_types.param_types.parameter_string import ParameterString
from griptape_nodes.traits.button import Button
from griptape_nodes.traits.clamp import Clamp
from griptape_nodes.traits.file_system_picker import FileSystemPicker
from griptape_nodes.traits.minmax import MinMax
from griptape_nodes.traits.multi_options import MultiOptions
from griptape_nodes.traits.options import Options
from griptape_nodes.traits.slider import Slider


def holder(*parameters: nodeisle.Parameter) -> DataNode:
    node = DataNode(name="n")
    for parameter in parameters:
        node.add_parameter(parameter)
    return node


def test_the_convenience_flags_give_the_modes_and_traits_given_as_classes_are_built() -> None:
    p = Parameter(name="p", type="str", tooltip="t", allow_output=False, traits={Button}, hide_label=True)
    assert p.allowed_modes == {ParameterMode.INPUT, ParameterMode.PROPERTY}
    assert isinstance(p.traits[0], Button) and p.ui_options["hide_label"] is True and p.ui_options["button"] is True
    p.allowed_modes = {ParameterMode.OUTPUT}
    p.add_mode(ParameterMode.INPUT)
    assert p.spec().allowed_modes == (ParameterMode.INPUT, ParameterMode.OUTPUT)
    rebuilt = Parameter.from_spec(p.spec())
    assert isinstance(rebuilt, Parameter) and rebuilt.spec() == p.spec()
    assert Parameter(name="q", ui_options={"hide": False}, hide=True).hide is False  # ui_options wins


def test_parameter_string_and_bool_accept_any_input_by_default() -> None:
    text = ParameterString(name="text", multiline=True, placeholder_text="here")
    flag = ParameterBool(name="flag", on_label="On")
    node = holder(text, flag)
    assert (text.input_types, text.type, text.multiline, text.placeholder_text) == (["any"], "str", True, "here")
    assert [node.set_parameter_value("text", v) for v in (None, 3, {"a": 1}, ["x"])] == ["", "3", '{"a": 1}', '["x"]']
    assert [node.set_parameter_value("flag", v) for v in ("Yes", " off ", "maybe", 0, None)] == [
        True, False, True, False, False,
    ]
    assert flag.on_label == "On" and ParameterString(name="s", accept_any=False).input_types == ["str"]
    text.multiline = False
    assert "multiline" not in text.ui_options


def test_numbers_convert_then_clamp_refuse_or_slide_as_their_keywords_say() -> None:
    count = ParameterInt(name="count", min_val=0, max_val=10)
    share = ParameterFloat(name="share", slider=True, min_val=0.0, max_val=1.0)
    strict = ParameterInt(name="strict", validate_min_max=True, min_val=1, max_val=3)
    stepped = ParameterInt(name="stepped", step=5)
    node = holder(count, share, strict, stepped)
    assert [type(t) for p in (count, share, strict) for t in p.traits] == [Clamp, Slider, MinMax]
    assert [node.set_parameter_value("count", v) for v in ("7.9", 99, -4, None, True)] == [7, 10, 0, 0, 1]
    assert node.set_parameter_value("share", "0.25") == 0.25 and share.ui_options["slider"] == {"min_val": 0.0, "max_val": 1.0}
    with pytest.raises(ValueError, match="Value out of range"):
        node.set_parameter_value("share", 2)
    with pytest.raises(ValueError, match="Value out of range"):
        node.set_parameter_value("strict", 4)
    with pytest.raises(ValueError, match="not a multiple of step 5"):
        node.set_parameter_value("stepped", 7)
    with pytest.raises(ValueError, match="Cannot convert 'seven' to integer"):
        node.set_parameter_value("count", "seven")
    with pytest.raises(ValueError, match="both min_val and max_val must be provided"):
        ParameterFloat(name="bad", slider=True, min_val=0.0)


def test_parameter_image_is_an_image_url_artifact_stored_as_given() -> None:
    image = ParameterImage(name="image", webcam_capture_image=True)
    out = ParameterImage(name="out", allow_input=False, allow_property=False)
    node = holder(image, out)
    assert (image.type, image.input_types, image.webcam_capture_image, image.clickable_file_browser) == (
        "ImageUrlArtifact", ["any"], True, True,
    )
    assert not out.clickable_file_browser and out.allowed_modes == {ParameterMode.OUTPUT}
    assert node.set_parameter_value("image", {"value": "https://x/y.png"}) == {"value": "https://x/y.png"}


def test_options_turns_an_unknown_choice_into_the_first_and_follows_new_choices() -> None:
    style = Parameter(name="style", type="str", default_value="a", traits={Options(choices=["a", "b"])})
    node = holder(style)
    (options,) = style.find_elements_by_type(Options)
    assert isinstance(options, nodeisle.Options) and style.ui_options["simple_dropdown"] == ["a", "b"]
    assert node.set_parameter_value("style", "zzz") == "a" and node.set_parameter_value("style", "b") == "b"
    node._update_option_choices("style", ["x", "y"], "y")
    assert (style.ui_options["simple_dropdown"], style.default_value, node.get_parameter_value("style")) == (
        ["x", "y"], "y", "y",
    )
    with pytest.raises(ValueError, match="Default model 'q' is not in the provided choices"):
        node._update_option_choices("style", ["x"], "q")
    node._remove_options_trait("style")
    assert style.traits == () and "simple_dropdown" not in style.ui_options
    assert node.set_parameter_value("style", "free") == "free"


def test_multi_options_keeps_the_valid_choices_and_the_picker_checks_its_configuration() -> None:
    tags = Parameter(name="tags", type="list", traits={MultiOptions(choices=["red", "green"])})
    folder = Parameter(name="folder", type="any", traits={FileSystemPicker(allow_files=True, multiple=True)})
    bad = Parameter(name="bad", type="str", traits={FileSystemPicker(file_types=["py"])})
    node = holder(tags, folder, bad)
    assert node.set_parameter_value("tags", ["red", "blue", "green"]) == ["red", "green"]
    assert node.set_parameter_value("tags", "green") == ["green"]
    assert node.set_parameter_value("folder", "/tmp/a") == ["/tmp/a"]
    assert folder.ui_options["fileSystemPicker"]["allowFiles"] is True
    with pytest.raises(ValueError, match="File type 'py' must start with a dot"):
        node.set_parameter_value("bad", "x.py")


def test_a_button_runs_its_handler_or_opens_its_link() -> None:
    clicked: list[str] = []

    def on_click(button: Button, details: Any) -> NodeMessageResult:
        clicked.append(details.label)
        return NodeMessageResult(success=True, details="done")

    assert Button(label="Go", on_click=on_click).click().details == "done" and clicked == ["Go"]
    link = Button(label="Docs", button_link="https://example.org").click()
    assert link.success and link.response is not None and link.response.href == "https://example.org"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="Cannot specify both 'button_link' and 'on_click'"):
        Button(button_link="https://example.org", on_click=on_click)

    class Reply(NodeMessagePayload):
        answer: int

    assert Reply(answer=3).answer == 3


def test_messages_are_node_elements_found_shown_hidden_and_removed_by_name() -> None:
    node = DataNode(name="n")
    with ParameterGroup(name="Help") as group:
        ParameterMessage(name="tip", variant="tip", value="Try it", button_link="https://example.org")
        Parameter(name="x", type="int", tooltip="x")
    node.add_node_element(group)
    node.add_node_element(ParameterMessage(name="warn", variant="warning", value="Careful", hide=True))
    tip = node.get_message_by_name_or_element_id("tip")
    assert tip is not None and node.get_message_by_name_or_element_id(tip.element_id) is tip
    assert tip.to_dict()["ui_options"]["title"] == "Tip"
    node.show_message_by_name("warn")
    node.hide_message_by_name(["tip"])
    warn = node.get_message_by_name_or_element_id("warn")
    assert warn is not None and (warn.hide, tip.hide) == (False, True)
    node.remove_parameter_element_by_name("Help")
    assert node.get_message_by_name_or_element_id("tip") is None and node.get_parameter_by_name("x") is None
    with pytest.raises(ValueError, match="variant 'loud' is not one of"):
        ParameterMessage(name="m", variant="loud", value="?")


def test_a_parameter_list_collects_its_childrens_values_and_goes_with_them() -> None:
    items = ParameterList(name="items", input_types=["int"], tooltip="items", max_items=2)
    early = items.add_child_parameter()  # before the list is on a node: it joins with the list
    node = holder(items)
    late = items.append_child_parameter(display_name="Second")
    assert node.get_parameter_by_name(early.name) is early and late.display_name == "Second"
    assert (items.type, early.type, len(items)) == ("list[int]", "int", 2)
    assert node.get_parameter_value("items") == []
    node.set_parameter_value(late.name, 5)
    assert node.get_parameter_value("items") == [5] and node.parameter_values["items"] == [5]
    with pytest.raises(ValueError, match="Maximum 2 items allowed"):
        items.add_child_parameter()
    node.remove_parameter_element("items")
    assert node.parameters == []
    alone = holder(ParameterList(name="solo", input_types=["str"], tooltip="solo"))
    alone.set_parameter_value("solo", ["a", ["b", ""]])
    assert alone.get_parameter_value("solo") == ["a", ["b", ""]] and alone.get_parameter_list_value("solo") == ["a", "b"]


def test_set_parameter_value_converts_and_validates_before_the_hook_and_initial_setup_skips_hooks() -> None:
    calls: list[tuple[str, Any]] = []

    class Hooked(DataNode):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.add_parameter(ParameterInt(name="n", tooltip="n", default_value=1))

        def before_value_set(self, parameter: nodeisle.Parameter, value: Any) -> Any:
            calls.append(("before", value))
            return value

        def after_value_set(self, parameter: nodeisle.Parameter, value: Any) -> None:
            calls.append(("after", value))

    node = Hooked(name="h")
    node.set_parameter_value("n", "4")
    node.set_parameter_value("n", "5", initial_setup=True)
    assert calls == [("before", 4), ("after", 4)] and node.parameter_values == {"n": 5}
    node.remove_parameter_value("n")
    assert node.parameter_values == {"n": 1}
    with pytest.raises(KeyError, match="no value was set"):
        Hooked(name="fresh").remove_parameter_value("n")


def test_outputs_published_and_appended_and_empty_parameters_named() -> None:
    node = holder(Parameter(name="log", type="str", tooltip="log"), Parameter(name="rows", type="list", tooltip="rows"))
    node.append_value_to_parameter("log", "a")
    node.append_value_to_parameter("log", "b")
    node.parameter_output_values["rows"] = (1,)
    node.append_value_to_parameter("rows", (2,))
    node.publish_update_to_parameter("rows", [9])
    node.append_value_to_parameter("rows", [10])
    assert node.parameter_output_values == {"log": "ab", "rows": [9, 10]}
    with pytest.raises(RuntimeError, match="Parameter 'nope' doesn't exist on n"):
        node.publish_update_to_parameter("nope", 1)
    empty = node.validate_empty_parameter("log", "Connect a log.")
    assert isinstance(empty, ValueError) and str(empty) == "Parameter 'log' was left empty. Connect a log."


def test_a_success_failure_node_has_its_outputs_and_status_group() -> None:
    class Job(SuccessFailureNode):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._create_status_parameters(result_details_placeholder="soon", parameter_group_initially_collapsed=False)

        def process(self) -> None:
            self._clear_execution_status()
            self._set_status_results(was_successful=False, result_details="it broke")

    job = Job(name="job")
    assert [p.name for p in job.parameters] == ["exec_in", "exec_out", "failure", "was_successful", "result_details"]
    assert job.control_parameter_out.display_name == "Succeeded" and job.failure_output.display_name == "Failed"
    status = job.get_group_by_name_or_element_id("Status")
    assert status is not None and status.ui_options == {"collapsed": False}
    assert job.get_next_control_output() is None
    asyncio.run(job.aprocess())
    assert job.parameter_output_values == {
        "was_successful": False, "result_details": "it broke", "exec_out": False, "failure": True,
    }
    assert job.get_next_control_output() is job.failure_output and status.ui_options["display_name"] == "⚠️ Status"


def test_validation_problems_stop_process_and_name_every_problem() -> None:
    class Picky(DataNode):
        def validate_before_node_run(self) -> list[Exception] | None:
            return [ValueError("no input"), KeyError("model")]

        def process(self) -> None:
            raise AssertionError("process must not run")

    with pytest.raises(NodeValidationError) as caught:
        asyncio.run(Picky(name="p").aprocess())
    assert str(caught.value) == "Node 'p' encountered problems: ValueError: no input; KeyError: 'model'"


def test_parameter_dict_and_json_read_any_input_as_griptape_does() -> None:
    from griptape_nodes.exe_types.param_types.parameter_dict import ParameterDict
    from griptape_nodes.exe_types.param_types.parameter_json import ParameterJson

    node = holder(ParameterDict(name="d"), ParameterJson(name="j"))
    read = [node.set_parameter_value("d", v) for v in (None, '{"a": 1}', "{'b': 2}", "x: 1\ny=2", "[1]", "hi")]
    assert read == [{}, {"a": 1}, {"b": 2}, {"x": "1", "y": "2"}, {"value": [1]}, {"value": "hi"}]
    assert node.set_parameter_value("d", [("k", "v"), 5]) == {"k": "v", "item2": 5}
    assert [node.set_parameter_value("j", v) for v in ('{"a": [1]}', [2], None, 3)] == [{"a": [1]}, [2], None, 3]
    with pytest.raises(ValueError, match="ParameterJson 'j': the value is not JSON"):
        node.set_parameter_value("j", "{oops")


def test_the_types_own_conversion_is_not_reported_as_a_behaviour_the_schema_drops() -> None:
    assert ParameterString(name="s").behaviors() == [] and ParameterInt(name="i").behaviors() == []
    assert ParameterBool(name="b").behaviors() == [] and ParameterFloat(name="f").behaviors() == []
    assert ParameterInt(name="c", min_val=0).behaviors() == ["trait Clamp(min_val=0, max_val=None)"]
    assert Parameter(name="o", traits={Options(choices=["a"])}).behaviors() == ["trait Options(choices=['a'])"]


def test_a_griptape_nodes_connection_hook_sees_griptape_parameters_on_the_stand_in() -> None:
    from nodeisle.node.connections import ConnectionChange, apply_connection
    from nodeisle.node.hosting import Host, NodeInvocation
    from nodeisle.node.spec import ParameterSpec
    from nodeisle.strict.rules import Context
    from tests.conftest import run

    seen: list[Any] = []

    class Watcher(DataNode):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.add_parameter(ParameterString(name="prompt", tooltip="p"))

        def after_incoming_connection(self, source_node: Any, source_parameter: Any, target_parameter: Any) -> None:
            seen.append((source_parameter, target_parameter))
            self.add_parameter(ParameterInt(name="tokens", tooltip="t", allow_input=False))

    prompt = ParameterString(name="prompt", tooltip="p").spec()
    invocation = NodeInvocation("Watcher", "w", None, (prompt,), {})
    change = ConnectionChange(True, "up", "Up", "lib", (ParameterSpec("out", "int"),), "out", "prompt")
    specs, _ = run(apply_connection(Watcher, invocation, change, Host(Context.WORKER, "lib", None)))
    ((source_parameter, target_parameter),) = seen
    assert isinstance(source_parameter, Parameter) and source_parameter.output_type == "int"
    assert isinstance(target_parameter, ParameterString)
    assert [(s.name, s.input_types, s.allowed_modes) for s in specs] == [
        ("prompt", ("any",), tuple(ParameterMode)), ("tokens", ("any",), (ParameterMode.OUTPUT, ParameterMode.PROPERTY)),
    ]


def test_a_parameter_naming_its_group_joins_it_when_added() -> None:
    node = DataNode(name="n")
    node.add_node_element(ParameterGroup(name="Advanced"))
    node.add_parameter(Parameter(name="depth", type="int", tooltip="d", parent_element_name="Advanced"))
    group = node.get_group_by_name_or_element_id("Advanced")
    assert group is not None and [p.name for p in group.parameters()] == ["depth"]
    node.remove_parameter_element_by_name("Advanced")
    assert node.parameters == []


def test_a_parameter_button_is_a_property_with_its_button_trait() -> None:
    from griptape_nodes.exe_types.param_types.parameter_button import ParameterButton

    clicks: list[str] = []
    button = ParameterButton(name="go", label="Go", on_click=lambda b, d: clicks.append(d.label) or None)
    assert (button.type, button.allowed_modes, button.ui_options["button_label"]) == ("button", {ParameterMode.PROPERTY}, "Go")
    assert button.button.click().success and clicks == ["Go"]
    link = ParameterButton(name="docs", label="Docs", href="https://example.org").button.click()
    assert link.response is not None and link.response.href == "https://example.org"  # type: ignore[attr-defined]


def test_a_control_node_may_name_its_control_parameters() -> None:
    from griptape_nodes.exe_types.node_types import ControlNode

    class Gate(ControlNode):
        def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
            super().__init__(name, metadata, input_control_name="Open", output_control_name="Passed")

    gate = Gate(name="g")
    assert (gate.control_parameter_in.display_name, gate.control_parameter_out.display_name) == ("Open", "Passed")
    assert ControlNode(name="c").control_parameter_out.display_name == "Flow Out"
