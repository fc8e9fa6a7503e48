"""A worker acts only for its own library: forwarded requests are judged by the library that sent them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nodeisle.orchestrator import authority
from nodeisle.orchestrator.engine import build_orchestrator
from nodeisle.requests import (
    CreateConnectionRequest,
    CreateNodeRequest,
    DeleteNodeRequest,
    DeleteSecretValueRequest,
    ExecuteNodeRequest,
    GetParameterValueRequest,
    GetSecretValueRequest,
    RegisterLibraryRequest,
    RemoveParameterFromNodeRequest,
    Request,
    ResetConfigRequest,
    Result,
    RunFlowRequest,
    SetConfigValueRequest,
    SetParameterValueRequest,
    SetSecretValueRequest,
)
from tests.conftest import run, write_library

MALLORY = "Mallory"
VICTIM = "Victim"

# A hostile library: every attempt is made, and what the orchestrator answered is reported.
ATTACK_NODES = '''
import json
import nodeisle
from nodeisle import BaseNode, Parameter, ParameterMode
from nodeisle.requests import (
    CreateConnectionRequest, CreateNodeRequest, DeleteNodeRequest, ExecuteNodeRequest, GetParameterValueRequest,
    ListRegisteredLibrariesRequest, ResetConfigRequest, RunFlowRequest, SetConfigValueRequest,
    SetParameterValueRequest, SetSecretValueRequest,
)

ATTEMPTS = {
    "find_links": SetConfigValueRequest(key="find_links", value=["/tmp/evil-wheels"]),
    "offline": SetConfigValueRequest(key="offline", value=False),
    "victim_setting": SetConfigValueRequest(key="libraries.Victim.endpoint", value="http://evil"),
    "own_setting": SetConfigValueRequest(key="libraries.Mallory.counter", value=7),
    "reset_all": ResetConfigRequest(),
    "proxy_secret": SetSecretValueRequest(key="HTTPS_PROXY", value="http://127.0.0.1:9"),
    "create_victim_node": CreateNodeRequest(node_type="Guarded", library_name="Victim", node_name="puppet"),
    "execute_victim": ExecuteNodeRequest(node_name="victim", parameter_values={"text": "forged"}),
    "set_victim_value": SetParameterValueRequest(node_name="victim", parameter_name="text", value="forged"),
    "connect_into_victim": CreateConnectionRequest(source_node_name="attack", source_parameter_name="report",
                                                   target_node_name="victim", target_parameter_name="text"),
    "run_victim_flow": RunFlowRequest(flow_name="flow"),
    "delete_victim": DeleteNodeRequest(node_name="victim"),
    "read_victim_value": GetParameterValueRequest(node_name="victim", parameter_name="text"),
    "set_own_value": SetParameterValueRequest(node_name="attack", parameter_name="note", value="kept"),
}

class Attack(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("note", type="str", default_value="", allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("report", type="str", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        outcomes = {}
        for label, request in ATTEMPTS.items():
            try:
                result = nodeisle.handle_request(request)
                outcomes[label] = ["answered", result.succeeded, result.message]
            except nodeisle.RequestRefused as exc:
                outcomes[label] = ["refused", False, str(exc)]
        libraries = nodeisle.handle_request(ListRegisteredLibrariesRequest()).libraries
        outcomes["worker_ids"] = {info.name: info.worker_id for info in libraries}
        self.parameter_output_values["report"] = json.dumps(outcomes)

class Blunt(BaseNode):
    # Does not catch the refusal: the node fails with it.
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("done", type="bool", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        nodeisle.handle_request(SetConfigValueRequest(key="crash_limit", value=1000))
        self.parameter_output_values["done"] = True
'''

VICTIM_NODES = '''
import nodeisle
from nodeisle import BaseNode, Parameter, ParameterMode
from nodeisle.requests import GetSecretValueRequest

class Guarded(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="genuine", allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("seen", type="str", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        key = nodeisle.handle_request(GetSecretValueRequest(key="VICTIM_KEY")).value or ""
        self.parameter_output_values["seen"] = f"{self.parameter_values['text']}:{len(key)}"
'''


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


def test_a_library_cannot_act_as_another_change_the_engine_or_steer_environments(
    tmp_path: Path, offline_home: Path
) -> None:
    """Regression: node code could set engine-wide config (find_links), and create and run other libraries' nodes."""
    mallory = write_library(tmp_path, MALLORY, ATTACK_NODES, ["Attack", "Blunt"])
    victim = write_library(tmp_path, VICTIM, VICTIM_NODES, ["Guarded"],
                           declarations=[{"type": "required_secrets", "keys": ["VICTIM_KEY"]}])
    (offline_home / ".env").write_text("VICTIM_KEY=victim-secret\n")
    config_before = (offline_home / "config.json").read_text() if (offline_home / "config.json").exists() else None

    async def body() -> tuple[dict[str, Any], Any, Any, Any]:
        async with build_orchestrator() as o:
            ok(await o.handle_async(RegisterLibraryRequest(path=str(mallory), mode="isolated")))
            ok(await o.handle_async(RegisterLibraryRequest(path=str(victim), mode="isolated")))
            ok(await o.handle_async(CreateNodeRequest(node_type="Guarded", library_name=VICTIM, node_name="victim")))
            ok(await o.handle_async(CreateNodeRequest(node_type="Attack", library_name=MALLORY, node_name="attack")))
            ok(await o.handle_async(CreateNodeRequest(node_type="Blunt", library_name=MALLORY, node_name="blunt")))
            result = ok(await o.handle_async(ExecuteNodeRequest(node_name="attack")))
            report = json.loads(result.parameter_output_values["report"])
            blunt = await o.handle_async(ExecuteNodeRequest(node_name="blunt"))
            victim_run = ok(await o.handle_async(ExecuteNodeRequest(node_name="victim")))
            own = o.graph.node("attack").values.get("note")
            return report, blunt, victim_run.parameter_output_values["seen"], (own, sorted(o.graph.nodes))

    report, blunt, seen, (own_note, nodes) = run(body(), timeout=120)
    refused = {k: v[2] for k, v in report.items() if k != "worker_ids" and v[0] == "refused"}
    assert set(refused) == {
        "find_links", "offline", "victim_setting", "reset_all", "proxy_secret", "create_victim_node",
        "execute_victim", "set_victim_value", "connect_into_victim", "run_victim_flow", "delete_victim",
    }, report
    assert "SetConfigValueRequest refused for library 'Mallory' (rule engine-config)" in refused["find_links"]
    assert "(rule declared-secrets)" in refused["proxy_secret"]
    assert "(rule own-nodes)" in refused["execute_victim"] and "belongs to library 'Victim'" in refused["execute_victim"]
    assert "flow 'flow' holds nodes of other libraries ('Victim')" in refused["run_victim_flow"]
    assert report["own_setting"][:2] == ["answered", True]
    assert report["read_victim_value"][:2] == ["answered", True]  # reads of flow state stay allowed
    assert report["set_own_value"][:2] == ["answered", True] and own_note == "kept"
    assert report["worker_ids"][VICTIM] is None and report["worker_ids"][MALLORY] is not None
    # the refusal is the node's error when its code does not catch it
    assert not blunt.succeeded and blunt.error.type == "RequestRefused"
    assert "(rule engine-config)" in blunt.error.message and "'crash_limit'" in blunt.error.message
    # nothing of the victim changed: its node, its value, its secret
    assert seen == f"genuine:{len('victim-secret')}" and "puppet" not in nodes and "victim" in nodes
    config = json.loads((offline_home / "config.json").read_text())
    assert config == {"libraries": {MALLORY: {"counter": 7}}}, config_before


# -- the rules, as pure logic ---------------------------------------------------------------------
FACTS = authority.GraphFacts(
    node_library={"mine": "A", "theirs": "B"}.get,
    type_library=lambda node_type, library: {"MyType": "A", "TheirType": "B"}.get(node_type),
    flow_libraries=lambda flow: {"own": ["A", "A"], "mixed": ["A", "B"]}.get(flow, []),
    declared_secrets={"A": None, "N": ("K1", "SHARED", "OPERATOR_KEY")}.get,
    fed_libraries=lambda node, parameter: {("mine", None): ["A", "B"], ("mine", "o"): ["B"], ("mine", "x"): ["A"]}.get(
        (node, parameter), []),
    declared_by=lambda key: {"K1": ["N"], "SHARED": ["N", "B"], "OPERATOR_KEY": ["N"]}.get(key, []),
    operator_set=lambda key: key == "OPERATOR_KEY",
    known_secret=lambda key: key in ("ANY", "K1", "SHARED", "OPERATOR_KEY"),
)


@pytest.mark.parametrize(
    ("library", "request_", "rule"),
    [
        ("A", SetConfigValueRequest(key="find_links", value=[]), "engine-config"),
        ("A", SetConfigValueRequest(key="libraries.B.x", value=1), "engine-config"),
        ("A", SetConfigValueRequest(key="libraries.A.", value=1), "engine-config"),
        ("A", SetConfigValueRequest(key="libraries.A.x", value=1), None),
        ("A", SetConfigValueRequest(key="libraries.A.x.y", value=1), "engine-config"),  # library "A.x"'s
        ("A", ResetConfigRequest(), "engine-config"),
        ("A", ResetConfigRequest(key="libraries.A.x"), None),
        ("A", GetSecretValueRequest(key="ANY"), None),
        ("A", SetSecretValueRequest(key="ANY", value="v"), "declared-secrets"),
        ("A", DeleteSecretValueRequest(key="ANY"), "declared-secrets"),
        ("N", GetSecretValueRequest(key="K1"), None),
        ("N", SetSecretValueRequest(key="K1", value="v"), None),
        ("N", GetSecretValueRequest(key="K2"), "declared-secrets"),
        ("A", RegisterLibraryRequest(path="/x"), "library-management"),
        ("A", CreateNodeRequest(node_type="MyType"), None),
        ("A", CreateNodeRequest(node_type="TheirType"), "own-nodes"),
        ("A", ExecuteNodeRequest(node_name="theirs"), "own-nodes"),
        ("A", ExecuteNodeRequest(node_name="mine"), None),
        ("A", SetParameterValueRequest(node_name="theirs", parameter_name="p"), "own-nodes"),
        ("A", GetParameterValueRequest(node_name="theirs", parameter_name="p"), None),
        ("A", CreateConnectionRequest(source_node_name="mine", source_parameter_name="o",
                                      target_node_name="theirs", target_parameter_name="i"), "own-nodes"),
        ("A", CreateConnectionRequest(source_node_name="theirs", source_parameter_name="o",
                                      target_node_name="mine", target_parameter_name="i"), None),
        ("A", RunFlowRequest(flow_name="mixed"), "own-nodes"),
        ("A", RunFlowRequest(flow_name="own"), None),
        # review: a declared key another library reads, or the operator set, is not node code's to change
        ("N", SetSecretValueRequest(key="SHARED", value="v"), "declared-secrets"),
        ("N", DeleteSecretValueRequest(key="OPERATOR_KEY"), "declared-secrets"),
        ("A", GetSecretValueRequest(key="SHELL_TOKEN"), "declared-secrets"),  # not a secret: an operator variable
        # review: deleting an own node or output removes the connections it feeds into other libraries
        ("A", DeleteNodeRequest(node_name="mine"), "own-nodes"),
        ("A", RemoveParameterFromNodeRequest(node_name="mine", parameter_name="o"), "own-nodes"),
        ("A", RemoveParameterFromNodeRequest(node_name="mine", parameter_name="x"), None),
    ],
)
def test_each_rule_refuses_exactly_what_it_says(library: str, request_: Request, rule: str | None) -> None:
    refusal = authority.judge(library, request_, FACTS)
    if rule is None:
        assert refusal is None
    else:
        assert refusal is not None and f"refused for library {library!r} (rule {rule})" in refusal
        assert refusal.startswith(type(request_).__name__)


def test_a_settings_category_belongs_to_its_first_declaring_library_and_never_to_another_librarys_name() -> None:
    owners = authority.category_owners([
        ("Farm", ["farm_library", "Farm"]), ("Evil", ["farm_library", "Farm", "Other", "evil_library"]),
        ("Other", ["other_library"]),
    ])
    assert owners == {"farm_library": "Farm", "Farm": "Farm", "evil_library": "Evil", "other_library": "Other"}
