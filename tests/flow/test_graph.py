"""The graph's validation of control connections: control to control only, one target per control
output, many sources per control input, and no cycles through them."""

from __future__ import annotations

import pytest

from nodeisle.flow.graph import Graph, NodeRecord, RequestFailed, is_control
from nodeisle.node.spec import ParameterMode, ParameterSpec
from nodeisle.requests import ConnectionInfo

IN, OUT = (ParameterMode.INPUT,), (ParameterMode.OUTPUT,)


def control_node(name: str) -> NodeRecord:
    """Griptape's ControlNode as the orchestrator sees it: exec_in, exec_out, a data input and output."""
    specs = [
        ParameterSpec("exec_in", "parametercontroltype", allowed_modes=IN),
        ParameterSpec("exec_out", "parametercontroltype", allowed_modes=OUT),
        ParameterSpec("text", "str", allowed_modes=IN),
        ParameterSpec("anything", "any", allowed_modes=IN),
        ParameterSpec("result", "str", allowed_modes=OUT),
    ]
    return NodeRecord(name, "main", "lib", "Cls", {}, specs)


@pytest.fixture
def graph() -> Graph:
    graph = Graph()
    graph.create_flow("main")
    for name in "abcd":
        graph.add_node(control_node(name))
    return graph


def link(source: str, output: str, target: str, input_: str) -> ConnectionInfo:
    return ConnectionInfo(
        source_node_name=source, source_parameter_name=output, target_node_name=target, target_parameter_name=input_
    )


def test_control_parameters_are_known_by_type_not_by_name() -> None:
    assert is_control(ParameterSpec("go", "ParameterControlType")) and is_control(ParameterSpec("next", "control"))
    assert not is_control(ParameterSpec("exec_out", "str"))


def test_a_control_output_connects_to_a_control_input_and_the_graph_knows_it_is_control(graph: Graph) -> None:
    graph.connect(link("a", "exec_out", "b", "exec_in"))
    graph.connect(link("a", "result", "b", "text"))
    control, data = graph.flow("main").connections
    assert graph.is_control(control) and not graph.is_control(data)


@pytest.mark.parametrize(
    ("output", "input_", "source_kind", "target_kind"),
    [
        ("exec_out", "text", "a control output (type 'parametercontroltype')", "a data input (type 'str')"),
        ("exec_out", "anything", "a control output (type 'parametercontroltype')", "a data input (type 'any')"),
        ("result", "exec_in", "a data output (type 'str')", "a control input (type 'parametercontroltype')"),
    ],
)
def test_data_and_control_ends_do_not_mix_and_the_message_names_both_ends(
    graph: Graph, output: str, input_: str, source_kind: str, target_kind: str
) -> None:
    with pytest.raises(RequestFailed) as caught:
        graph.connect(link("a", output, "b", input_))
    assert str(caught.value) == (
        f"cannot connect a.{output} -> b.{input_}: a.{output} is {source_kind} but b.{input_} is {target_kind}; "
        "connect a control output (exec_out) to a control input (exec_in), and a data output to a data input"
    )
    assert graph.flow("main").connections == []


def test_a_control_output_leads_to_one_input_and_a_control_input_takes_many(graph: Graph) -> None:
    graph.connect(link("a", "exec_out", "c", "exec_in"))
    graph.connect(link("b", "exec_out", "c", "exec_in"))  # branches meet again
    with pytest.raises(RequestFailed, match=r"the control output a\.exec_out already leads to c\.exec_in; a control "
                       r"output connects to one control input"):
        graph.connect(link("a", "exec_out", "d", "exec_in"))


def test_a_cycle_through_control_connections_is_refused(graph: Graph) -> None:
    graph.connect(link("a", "exec_out", "b", "exec_in"))
    graph.connect(link("b", "exec_out", "c", "exec_in"))
    with pytest.raises(RequestFailed, match=r"it would close the cycle c -> a -> b -> c"):
        graph.connect(link("c", "exec_out", "a", "exec_in"))
    graph.connect(link("c", "result", "d", "text"))
    with pytest.raises(RequestFailed, match=r"it would close the cycle d -> a -> b -> c -> d"):
        graph.connect(link("d", "exec_out", "a", "exec_in"))  # mixed: data and control together


def test_exec_in_to_exec_out_is_backwards(graph: Graph) -> None:
    with pytest.raises(RequestFailed, match=r"a\.exec_in is not an OUTPUT parameter"):
        graph.connect(link("a", "exec_in", "b", "exec_out"))
