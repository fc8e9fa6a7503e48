"""The node API library code imports: BaseNode, Parameter, ParameterMode, Options, and the public surface."""

from __future__ import annotations

import asyncio
import inspect
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import nodeisle
from nodeisle import BaseNode, Options, Parameter, ParameterMode
from tests.conftest import run, write_library


def test_public_surface_is_exactly_the_contract() -> None:
    assert nodeisle.__all__ == sorted(nodeisle.__all__, key=str.lower) or nodeisle.__all__ == sorted(nodeisle.__all__)
    assert set(nodeisle.__all__) == {
        "BaseNode",
        "NodeisleError",
        "Options",
        "Parameter",
        "ParameterMode",
        "RequestRefused",
        "Trait",
        "__version__",
        "ahandle_request",
        "handle_request",
    }


def test_importing_nodeisle_pulls_in_only_the_standard_library() -> None:
    import subprocess
    import sys

    # Third-party code lives in site-packages; the standard library and nodeisle itself do not.
    listing = (
        "import sys; print('\\n'.join(sorted({m.split('.')[0] for m, mod in list(sys.modules.items()) "
        "if 'site-packages' in (getattr(mod, '__file__', None) or '')})))"
    )
    code = f"import nodeisle, nodeisle.worker.runtime, nodeisle.bus.peer, nodeisle.node.hosting; {listing}"
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True).stdout.split()
    # Whatever the interpreter's own site hooks import (e.g. a distro .pth) is not ours.
    baseline = subprocess.run(
        [sys.executable, "-I", "-c", listing], capture_output=True, text=True, check=True
    ).stdout.split()
    third_party = [m for m in out if m not in baseline and m != "nodeisle"]
    assert third_party == [], f"the worker runtime must import only the stdlib (and websockets lazily): {third_party}"


class Sample(BaseNode):
    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, metadata)
        self.add_parameter(
            Parameter("text", type="str", default_value="x", tooltip="t", allowed_modes={ParameterMode.INPUT})
        )
        self.add_parameter(Parameter("out", type="str", allowed_modes={ParameterMode.OUTPUT}))
        self.events: list[str] = []

    def before_value_set(self, parameter: Parameter, value: Any) -> Any:
        self.events.append(f"before {parameter.name}={value}")
        return value.strip() if isinstance(value, str) else value

    def after_value_set(self, parameter: Parameter, value: Any) -> None:
        self.events.append(f"after {parameter.name}={value}")

    def process(self) -> None:
        self.parameter_output_values["out"] = self.parameter_values["text"] + "!"


def test_unset_parameters_hold_their_default_and_outputs_start_empty() -> None:
    node = Sample("s")
    assert node.parameter_values == {"text": "x"}
    assert node.parameter_output_values == {}
    assert node.get_parameter_by_name("nope") is None
    assert [p.name for p in node.parameters] == ["text", "out"]


def test_set_runs_before_hook_converters_validators_then_after_hook() -> None:
    calls: list[str] = []

    def conv(v: Any) -> Any:
        calls.append("convert")
        return v.upper()

    def check(p: Parameter, v: Any) -> None:
        calls.append("validate")
        if v == "BAD":
            raise ValueError("bad value")

    node = Sample("s")
    node.add_parameter(Parameter("word", type="str", converters=[conv], validators=[check]))
    assert node.set_parameter_value("word", "  hi ") == "HI"
    assert node.events == ["before word=  hi ", "after word=HI"] and calls == ["convert", "validate"]
    with pytest.raises(ValueError, match="bad value"):
        node.set_parameter_value("word", "bad")


class ForgetsToReturn(BaseNode):
    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="x"))

    def before_value_set(self, parameter: Parameter, value: Any) -> Any:
        self.seen = value  # and no `return value`


def test_before_value_set_that_returns_none_is_an_error_naming_node_parameter_and_fix() -> None:
    node = ForgetsToReturn("forgetful")
    with pytest.raises(TypeError) as raised:
        node.set_parameter_value("text", "hello")
    message = str(raised.value)
    assert "'forgetful'" in message and "'text'" in message and "ForgetsToReturn.before_value_set" in message
    assert "before_value_set must return the value to set" in message
    assert node.parameter_values["text"] == "x", "nothing is stored"
    assert node.set_parameter_value("text", None) is None, "setting None itself stays possible"


def test_before_value_set_that_returns_none_fails_the_request_with_the_message(tmp_path: Path, home: Path) -> None:
    from nodeisle.orchestrator.engine import build_orchestrator
    from nodeisle.requests import CreateNodeRequest, RegisterLibraryRequest, SetParameterValueRequest

    source = textwrap.dedent(inspect.getsource(ForgetsToReturn))
    lib = write_library(tmp_path, "Forgetful", "from typing import Any\nfrom nodeisle import BaseNode, Parameter\n"
                        + source, ["ForgetsToReturn"])

    async def body() -> None:
        async with build_orchestrator() as o:
            assert (await o.handle_async(RegisterLibraryRequest(path=str(lib), mode="shared"))).succeeded
            assert (await o.handle_async(CreateNodeRequest(node_type="ForgetsToReturn", node_name="f"))).succeeded
            result = await o.handle_async(SetParameterValueRequest(node_name="f", parameter_name="text", value="hi"))
            assert not result.succeeded
            assert "before_value_set must return the value to set" in result.message and "'text'" in result.message
            assert "Traceback" not in result.message

    run(body())


def test_options_trait_restricts_values_and_offers_ui_choices() -> None:
    p = Parameter("style", traits=[Options(choices=["a", "b"])])
    node = Sample("s")
    node.add_parameter(p)
    node.set_parameter_value("style", "a")
    with pytest.raises(ValueError, match="not one of the choices"):
        node.set_parameter_value("style", "c")
    assert p.ui_options() == {"choices": ["a", "b"]}
    with pytest.raises(ValueError):
        Options(choices=[])


def test_allowed_modes_default_to_all_three_and_reject_unknown_names() -> None:
    assert set(Parameter("p").allowed_modes) == set(ParameterMode)
    assert Parameter("p", allowed_modes=["output", "INPUT"]).allowed_modes == (
        ParameterMode.INPUT,
        ParameterMode.OUTPUT,
    )
    with pytest.raises(ValueError, match="unknown parameter mode"):
        Parameter("p", allowed_modes=["SIDEWAYS"])
    with pytest.raises(ValueError, match="identifier"):
        Parameter("not a name")


def test_duplicate_and_unknown_parameters_are_clear_errors() -> None:
    node = Sample("s")
    with pytest.raises(ValueError, match="already has a parameter named 'text'"):
        node.add_parameter(Parameter("text"))
    with pytest.raises(KeyError, match="no parameter named 'ghost'"):
        node.remove_parameter_element("ghost")
    node.remove_parameter_element(node.get_parameter_by_name("text"))  # type: ignore[arg-type]
    assert "text" not in node.parameter_values


def test_plain_process_runs_off_the_event_loop_and_async_process_is_awaited() -> None:
    seen: dict[str, Any] = {}

    class Plain(BaseNode):
        def process(self) -> None:
            seen["thread"] = threading.current_thread() is threading.main_thread()

    class Async(BaseNode):
        async def process(self) -> None:
            await asyncio.sleep(0)
            seen["async"] = True

    async def body() -> None:
        await Plain("p").aprocess()
        await Async("a").aprocess()

    run(body(), timeout=10)
    assert seen == {"thread": False, "async": True}


def test_handle_request_outside_any_engine_fails_at_once_with_guidance() -> None:
    from nodeisle.requests import ListFlowsRequest

    with pytest.raises(nodeisle.NodeisleError, match="no engine is running this code"):
        nodeisle.handle_request(ListFlowsRequest())
    with pytest.raises(TypeError, match="expects a nodeisle request"):
        nodeisle.handle_request("ListFlowsRequest")  # type: ignore[arg-type]


def test_a_spec_s_input_types_say_what_connections_may_carry_and_survive_a_rebuild() -> None:
    from nodeisle.node.spec import ParameterSpec

    spec = ParameterSpec("prompt", "str", None, "", (ParameterMode.INPUT,), ("any",))
    assert spec.accepted_types() == ("any",) and ParameterSpec("n", "int").accepted_types() == ("int",)
    assert ParameterSpec.from_dict(spec.to_dict()) == spec and "input_types" not in ParameterSpec("n").to_dict()
    assert Parameter.from_spec(spec).spec() == spec
