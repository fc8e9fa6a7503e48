"""A Griptape manifest's ``settings``: config defaults by category and ``secrets_to_register``, in all three modes.

Real manifests (13 of the 53 in the corpus) declare their library settings this way, e.g.
``{"category": "diffusers_library", "contents": {"temp_folder_name": "intermediates"}}``, and name the
API keys they use in ``contents.secrets_to_register``. Node code reads them as Griptape's does:
``ConfigManager().get_config_value("diffusers_library.temp_folder_name")`` and
``SecretsManager().get_secret("AWS_ACCESS_KEY_ID")``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.requests import (
    CreateFlowRequest,
    CreateNodeRequest,
    ExecuteNodeRequest,
    ExecuteNodeResult,
    GetConfigValueRequest,
    RegisterLibraryRequest,
    Result,
)
from nodeisle.testing.inprocess import build_in_process_orchestrator
from tests.conftest import run, write_library

NODES = '''
import json
from typing import Any

from griptape_nodes.exe_types.core_types import Parameter, ParameterMode
from griptape_nodes.exe_types.node_types import DataNode
from griptape_nodes.retained_mode.griptape_nodes import GriptapeNodes

SETTINGS = "render_farm_library"


class SubmitJob(DataNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="report", type="str", tooltip="out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        config = GriptapeNodes.ConfigManager()
        secrets = GriptapeNodes.SecretsManager()
        report = {
            "farm_id": config.get_config_value(f"{SETTINGS}.farm_id"),
            "region": config.get_config_value(f"{SETTINGS}.region_name"),
            "attachments": config.get_config_value(f"{SETTINGS}.enable_attachments"),
            "token": secrets.get_secret("FARM_TOKEN"),
            "own_category_written": config.set_config_value(f"{SETTINGS}.last_job", "job-1"),
        }
        self.parameter_output_values["report"] = json.dumps(report)


class Intruder(DataNode):
    """Reads an operator variable that no library registers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="report", type="str", tooltip="out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        self.parameter_output_values["report"] = GriptapeNodes.SecretsManager().get_secret("OPERATOR_ONLY")
'''

OTHER_NODES = '''
from typing import Any

from griptape_nodes.exe_types.core_types import Parameter, ParameterMode
from griptape_nodes.exe_types.node_types import DataNode
from griptape_nodes.retained_mode.griptape_nodes import GriptapeNodes


class Tamper(DataNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="written", type="bool", tooltip="out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        written = GriptapeNodes.ConfigManager().set_config_value("render_farm_library.farm_id", "hijacked")
        self.parameter_output_values["written"] = written
'''

SETTINGS = [
    {"description": "Render farm settings", "category": "render_farm_library",
     "contents": {"farm_id": "farm-default", "region_name": "us-east-1", "enable_attachments": False}},
    {"description": "Keys the nodes use", "category": "app_events.on_app_initialization_complete",
     "contents": {"secrets_to_register": {"FARM_TOKEN": ""}}},
]


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


def with_settings(folder: Path, settings: list[dict[str, Any]]) -> Path:
    manifest_file = folder / "griptape-nodes-library.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["settings"] = settings
    manifest_file.write_text(json.dumps(manifest))
    return folder


@pytest.fixture(params=["shared", "isolated", "isolated-subprocess"])
def mode(request: pytest.FixtureRequest, offline_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    # the operator's environment: the registered key, and a variable no library registers
    monkeypatch.setenv("FARM_TOKEN", "farm-secret")
    monkeypatch.setenv("OPERATOR_ONLY", "not-for-libraries")
    (offline_home / "config.json").write_text(json.dumps({"libraries": {"render_farm_library": {"region_name": "eu"}}}))
    return str(request.param)


async def start(mode: str, *libraries: Path) -> Orchestrator:
    o = build_in_process_orchestrator() if mode == "isolated" else build_orchestrator()
    await o.__aenter__()
    for library in libraries:
        ok(await o.handle_async(RegisterLibraryRequest(path=str(library), mode=mode.removesuffix("-subprocess"))))
    ok(await o.handle_async(CreateFlowRequest(flow_name="main")))
    return o


async def execute(o: Orchestrator, node_type: str) -> ExecuteNodeResult:
    ok(await o.handle_async(CreateNodeRequest(node_type=node_type, node_name=node_type.lower(), flow_name="main")))
    result = await o.handle_async(ExecuteNodeRequest(node_name=node_type.lower()))
    assert isinstance(result, ExecuteNodeResult)
    return result


def test_settings_defaults_and_registered_secrets_reach_node_code_in_every_mode(
    tmp_path: Path, offline_home: Path, mode: str
) -> None:
    farm = with_settings(write_library(tmp_path, "Render Farm", NODES, ["SubmitJob", "Intruder"]), SETTINGS)
    other = write_library(tmp_path, "Other Library", OTHER_NODES, ["Tamper"])

    async def body() -> None:
        o = await start(mode, farm, other)
        try:
            result = await execute(o, "SubmitJob")
            assert result.succeeded, result.message
            got = json.loads(result.parameter_output_values["report"])
            # the manifest's defaults; config.json wins over them; the registered key is read from the operator's env
            assert got == {"farm_id": "farm-default", "region": "eu", "attachments": False, "token": "farm-secret",
                           "own_category_written": True}
            value = ok(await o.handle_async(GetConfigValueRequest(key="libraries.render_farm_library.farm_id")))
            assert value.value == "farm-default"
            tamper, intruder = await execute(o, "Tamper"), await execute(o, "Intruder")
        finally:
            await o.close()
        stored = json.loads((offline_home / "config.json").read_text())["libraries"]["render_farm_library"]
        if mode == "shared":  # Shared code runs in the orchestrator: the authority rules judge workers only
            assert tamper.succeeded and intruder.succeeded
            assert stored == {"region_name": "eu", "last_job": "job-1", "farm_id": "hijacked"}
            return
        assert stored == {"region_name": "eu", "last_job": "job-1"}  # the defaults are not written to the file
        assert tamper.error is not None and "(rule engine-config)" in tamper.error.message
        assert intruder.error is not None and intruder.error.type == "RequestRefused"
        assert "OPERATOR_ONLY" in intruder.error.message

    run(body(), timeout=180)


def test_a_settings_secret_named_like_a_process_control_is_not_used_and_says_why(
    tmp_path: Path, offline_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = [{"category": "x", "contents": {"secrets_to_register": ["PYTHONPATH", "GOOD_KEY"]}}]
    farm = with_settings(write_library(tmp_path, "Render Farm", NODES, ["SubmitJob"]), bad)

    async def body() -> frozenset[str]:
        o = await start("shared", farm)
        try:
            return o.shared_state.secret_names()
        finally:
            await o.close()

    names = run(body())
    assert "GOOD_KEY" in names and "PYTHONPATH" not in names
    (line,) = [r.getMessage() for r in caplog.records if "PYTHONPATH" in r.getMessage()]
    assert line.startswith("library 'Render Farm': its settings register secret 'PYTHONPATH', which is not used:")
