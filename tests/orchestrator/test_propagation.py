"""Config and secrets end to end: real uv virtualenvs, real worker processes, real broadcasts."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets as secrets_module
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import nodeisle.orchestrator.workers as workers_module
from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.orchestrator.hosts import WorkerHost
from nodeisle.orchestrator.workers import INHERITED_ENV
from nodeisle.requests import (
    CreateNodeRequest,
    DeleteSecretValueRequest,
    ExecuteNodeRequest,
    GetSecretValueRequest,
    RegisterLibraryRequest,
    Result,
    SetConfigValueRequest,
    SetSecretValueRequest,
)
from tests.conftest import run, write_library

NODES = """
import gc, hashlib, json, os, sys, time
import nodeisle
from nodeisle import BaseNode, Parameter, ParameterMode
from nodeisle.requests import GetConfigValueRequest, GetSecretValueRequest, SetSecretValueRequest
IN, OUT = {ParameterMode.INPUT}, {ParameterMode.OUTPUT}

class ReadSecret(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("key", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("via_request", type="any", allowed_modes=OUT))
        self.add_parameter(Parameter("via_environ", type="any", allowed_modes=OUT))
        self.add_parameter(Parameter("message", type="str", allowed_modes=OUT))
    def process(self):
        key = self.parameter_values["key"]
        try:
            result = nodeisle.handle_request(GetSecretValueRequest(key=key))
            value, message = result.value, result.message
        except nodeisle.RequestRefused as exc:  # the library may not read it
            value, message = None, str(exc)
        self.parameter_output_values["via_request"] = value
        self.parameter_output_values["via_environ"] = os.environ.get(key)
        self.parameter_output_values["message"] = message

class DigestSecret(BaseNode):
    # Outputs a digest, never the value: what a well-behaved library shows.
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("key", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("sha256", type="str", allowed_modes=OUT))
        self.add_parameter(Parameter("environ_sha256", type="str", allowed_modes=OUT))
    def process(self):
        key = self.parameter_values["key"]
        value = nodeisle.handle_request(GetSecretValueRequest(key=key)).value or ""
        self.parameter_output_values["sha256"] = hashlib.sha256(value.encode()).hexdigest()
        self.parameter_output_values["environ_sha256"] = hashlib.sha256(os.environ.get(key, "").encode()).hexdigest()

class WriteSecret(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("key", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("succeeded", type="bool", allowed_modes=OUT))
        self.add_parameter(Parameter("message", type="str", allowed_modes=OUT))
    def process(self):
        try:
            result = nodeisle.handle_request(SetSecretValueRequest(key=self.parameter_values["key"], value="written"))
            succeeded, message = result.succeeded, result.message
        except nodeisle.RequestRefused as exc:
            succeeded, message = False, str(exc)
        self.parameter_output_values["succeeded"] = succeeded
        self.parameter_output_values["message"] = message

class ReadConfig(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("key", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("value", type="any", allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["value"] = nodeisle.handle_request(
            GetConfigValueRequest(key=self.parameter_values["key"])).value

class WhatWasIToldOf(BaseNode):
    # Everything this worker was told: its environment, argv and its launch config.
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("needle", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("found", type="bool", allowed_modes=OUT))
        self.add_parameter(Parameter("environ_keys", type="any", allowed_modes=OUT))
        self.add_parameter(Parameter("launch_seen", type="bool", allowed_modes=OUT))
    def process(self):
        launches = [o for o in gc.get_objects() if type(o).__name__ == "LaunchConfig"]
        told = [json.dumps(dict(os.environ)), json.dumps(sys.argv)]
        told += [json.dumps(l.views.to_dict()) for l in launches]
        self.parameter_output_values["found"] = any(self.parameter_values["needle"] in t for t in told)
        self.parameter_output_values["environ_keys"] = sorted(os.environ)
        self.parameter_output_values["launch_seen"] = bool(launches)

class Hold(BaseNode):
    # Blocks its worker's event loop: a stuck worker.
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("seconds", type="float", default_value=1.0, allowed_modes=IN))
        self.add_parameter(Parameter("done", type="bool", allowed_modes=OUT))
    async def aprocess(self):
        time.sleep(self.parameter_values["seconds"])
        self.parameter_output_values["done"] = True

class Wait(BaseNode):
    # Runs (in a thread) until a file appears: a long execution that leaves the loop free.
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("flag", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("done", type="bool", allowed_modes=OUT))
    def process(self):
        deadline = time.monotonic() + 30
        while not os.path.exists(self.parameter_values["flag"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.parameter_output_values["done"] = True
"""
CLASSES = ["ReadSecret", "DigestSecret", "WriteSecret", "ReadConfig", "WhatWasIToldOf", "Hold", "Wait"]
OPEN = "Open Secrets"  # declares nothing: the seed's behaviour
NARROW = "Narrow Secrets"  # declares required_secrets: least privilege


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


def open_library(root: Path) -> Path:
    return write_library(root, OPEN, NODES, CLASSES)


def narrow_library(root: Path, keys: list[str]) -> Path:
    return write_library(root, NARROW, NODES, CLASSES, declarations=[{"type": "required_secrets", "keys": keys}])


async def start(o: Orchestrator, path: Path, library: str, *node_types: str) -> None:
    ok(await o.handle_async(RegisterLibraryRequest(path=str(path), mode="isolated")))
    for node_type in node_types:
        ok(await o.handle_async(CreateNodeRequest(node_type=node_type, library_name=library, node_name=node_type)))


async def outputs(o: Orchestrator, node: str, **values: Any) -> dict[str, Any]:
    result = ok(await o.handle_async(ExecuteNodeRequest(node_name=node, parameter_values=values)))
    return dict(result.parameter_output_values)


def worker_of(o: Orchestrator, library: str) -> Any:
    host = o.libraries[library].host
    assert isinstance(host, WorkerHost) and host.worker is not None
    return host.worker


# -- propagation ----------------------------------------------------------------------------------
def test_reading_a_secret_in_a_worker_is_answered_from_its_view_without_a_reach_in(
    tmp_path: Path, offline_home: Path
) -> None:
    library = open_library(tmp_path)

    async def body() -> None:
        async with build_orchestrator() as o:
            await start(o, library, OPEN, "ReadSecret", "ReadConfig")
            ok(await o.handle_async(SetSecretValueRequest(key="VIEW_TOKEN", value="from-view")))
            result = ok(await o.handle_async(ExecuteNodeRequest(node_name="ReadSecret",
                                                                parameter_values={"key": "VIEW_TOKEN"})))
            assert result.parameter_output_values["via_request"] == "from-view"
            assert result.violations == [], "a read of the worker's own view is not a reach into the orchestrator"
            result = ok(await o.handle_async(ExecuteNodeRequest(node_name="ReadConfig",
                                                                parameter_values={"key": "execution_timeout"})))
            assert result.violations == [] and result.parameter_output_values["value"] == 600.0

    run(body(), timeout=120)


def test_a_secret_set_while_the_worker_runs_is_seen_by_its_next_execute(tmp_path: Path, offline_home: Path) -> None:
    library = open_library(tmp_path)

    async def body() -> None:
        async with build_orchestrator() as o:
            await start(o, library, OPEN, "ReadSecret")
            before = await outputs(o, "ReadSecret", key="LIVE_TOKEN")
            assert before["via_request"] is None and before["via_environ"] is None
            changed = ok(await o.handle_async(SetSecretValueRequest(key="LIVE_TOKEN", value="v-1")))
            assert "1 worker(s) acknowledged" in changed.message
            after = await outputs(o, "ReadSecret", key="LIVE_TOKEN")
            assert (after["via_request"], after["via_environ"]) == ("v-1", "v-1")
            ok(await o.handle_async(DeleteSecretValueRequest(key="LIVE_TOKEN")))
            gone = await outputs(o, "ReadSecret", key="LIVE_TOKEN")
            assert (gone["via_request"], gone["via_environ"]) == (None, None)

    run(body(), timeout=120)


def test_a_config_change_while_the_worker_runs_is_seen_by_its_next_execute(tmp_path: Path, offline_home: Path) -> None:
    library = open_library(tmp_path)
    key = f"libraries.{OPEN}.greeting"

    async def body() -> None:
        async with build_orchestrator() as o:
            await start(o, library, OPEN, "ReadConfig")
            assert (await outputs(o, "ReadConfig", key=key))["value"] is None
            changed = ok(await o.handle_async(SetConfigValueRequest(key=key, value="hello")))
            assert "1 worker(s) acknowledged" in changed.message
            assert (await outputs(o, "ReadConfig", key=key))["value"] == "hello"
            assert worker_of(o, OPEN).alive

    run(body(), timeout=120)


def test_a_worker_that_was_down_during_a_change_reads_current_values_when_it_starts(
    tmp_path: Path, offline_home: Path
) -> None:
    library = open_library(tmp_path)

    async def body() -> None:
        async with build_orchestrator() as o:
            await start(o, library, OPEN, "ReadSecret")
            await worker_of(o, OPEN).stop()
            changed = ok(await o.handle_async(SetSecretValueRequest(key="LATE_TOKEN", value="late")))
            assert "no workers running" in changed.message
            after = await outputs(o, "ReadSecret", key="LATE_TOKEN")  # starts a fresh worker
            assert (after["via_request"], after["via_environ"]) == ("late", "late")

    run(body(), timeout=120)


def test_a_broadcast_is_acknowledged_while_an_execution_is_still_running(tmp_path: Path, offline_home: Path) -> None:
    library = open_library(tmp_path)
    flag = tmp_path / "release"

    async def body() -> None:
        async with build_orchestrator() as o:
            await start(o, library, OPEN, "Wait", "ReadSecret")
            running = asyncio.create_task(outputs(o, "Wait", flag=str(flag)))
            await asyncio.sleep(0.5)
            changed = ok(await asyncio.wait_for(o.handle_async(SetSecretValueRequest(key="K1", value="v")), 10))
            assert "1 worker(s) acknowledged" in changed.message and not running.done()
            flag.touch()
            assert (await running)["done"] is True

    run(body(), timeout=120)


def test_a_stuck_worker_does_not_block_a_change(tmp_path: Path, offline_home: Path) -> None:
    library = open_library(tmp_path)

    async def body() -> None:
        async with build_orchestrator() as o:
            await start(o, library, OPEN, "Hold", "ReadSecret")
            ok(await o.handle_async(SetConfigValueRequest(key="broadcast_timeout", value=0.5)))
            holding = asyncio.create_task(outputs(o, "Hold", seconds=4.0))
            await asyncio.sleep(0.5)
            started = asyncio.get_running_loop().time()
            changed = ok(await o.handle_async(SetSecretValueRequest(key="K2", value="v2")))
            assert asyncio.get_running_loop().time() - started < 3
            assert "did not acknowledge within 0.5 s" in changed.message
            await holding
            assert (await outputs(o, "ReadSecret", key="K2"))["via_request"] == "v2"

    run(body(), timeout=120)


# -- the operator's environment -----------------------------------------------------------------
def test_an_operator_set_variable_survives_refresh_and_delete(
    tmp_path: Path, offline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPERATOR_TOKEN", "from-operator")
    (offline_home / ".env").write_text("OPERATOR_TOKEN=from-file\nOTHER_TOKEN=other\n")
    library = open_library(tmp_path)

    async def body() -> None:
        async with build_orchestrator() as o:
            await start(o, library, OPEN, "ReadSecret")
            seen = await outputs(o, "ReadSecret", key="OPERATOR_TOKEN")
            assert (seen["via_request"], seen["via_environ"]) == ("from-operator", "from-operator")
            ok(await o.handle_async(SetSecretValueRequest(key="OTHER_TOKEN", value="refresh")))
            seen = await outputs(o, "ReadSecret", key="OPERATOR_TOKEN")
            assert (seen["via_request"], seen["via_environ"]) == ("from-operator", "from-operator")
            ok(await o.handle_async(DeleteSecretValueRequest(key="OPERATOR_TOKEN")))
            seen = await outputs(o, "ReadSecret", key="OPERATOR_TOKEN")
            assert (seen["via_request"], seen["via_environ"]) == ("from-operator", "from-operator")

    run(body(), timeout=120)


def test_setting_an_operator_set_variable_through_the_api_overrides_it_and_warns_without_the_value(
    tmp_path: Path, offline_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPERATOR_TOKEN", "from-operator")
    library = open_library(tmp_path)

    async def body() -> None:
        async with build_orchestrator() as o:
            await start(o, library, OPEN, "ReadSecret")
            ok(await o.handle_async(SetSecretValueRequest(key="OPERATOR_TOKEN", value="api-override-7f3a")))
            seen = await outputs(o, "ReadSecret", key="OPERATOR_TOKEN")
            assert (seen["via_request"], seen["via_environ"]) == ("api-override-7f3a", "api-override-7f3a")
            ok(await o.handle_async(DeleteSecretValueRequest(key="OPERATOR_TOKEN")))  # the override ends
            seen = await outputs(o, "ReadSecret", key="OPERATOR_TOKEN")
            assert (seen["via_request"], seen["via_environ"]) == ("from-operator", "from-operator")

    run(body(), timeout=120)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "OPERATOR_TOKEN" in r.getMessage()]
    assert warnings and all("overrides" in w for w in warnings)
    assert not [r for r in caplog.records if "api-override-7f3a" in r.getMessage()]


# -- least privilege ------------------------------------------------------------------------------
def test_a_library_declaring_required_secrets_cannot_read_another_key_by_request_or_environment(
    tmp_path: Path, offline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPERATOR_ONLY", "operator-value")
    (offline_home / ".env").write_text("ALLOWED_KEY=allowed\nOTHER_KEY=other\n")
    library = narrow_library(tmp_path, ["ALLOWED_KEY"])

    async def body() -> None:
        async with build_orchestrator() as o:
            await start(o, library, NARROW, "ReadSecret", "WriteSecret")
            allowed = await outputs(o, "ReadSecret", key="ALLOWED_KEY")
            assert (allowed["via_request"], allowed["via_environ"]) == ("allowed", "allowed")
            for other in ("OTHER_KEY", "OPERATOR_ONLY"):
                refused = await outputs(o, "ReadSecret", key=other)
                assert (refused["via_request"], refused["via_environ"]) == (None, None)
                assert f"GetSecretValueRequest refused for library {NARROW!r} (rule declared-secrets)" in refused["message"]
                assert "not in the library's required_secrets" in refused["message"]
            written = await outputs(o, "WriteSecret", key="OTHER_KEY")
            assert written["succeeded"] is False and "not in the library's required_secrets" in written["message"]
            # its allowed key still follows changes, delivered over the bus
            ok(await o.handle_async(SetSecretValueRequest(key="ALLOWED_KEY", value="allowed-2")))
            ok(await o.handle_async(SetSecretValueRequest(key="OTHER_KEY", value="other-2")))
            allowed = await outputs(o, "ReadSecret", key="ALLOWED_KEY")
            assert (allowed["via_request"], allowed["via_environ"]) == ("allowed-2", "allowed-2")
            assert (await outputs(o, "ReadSecret", key="OTHER_KEY"))["via_environ"] is None

    run(body(), timeout=120)


def test_a_library_declaring_required_secrets_is_not_told_where_the_secrets_file_is(
    tmp_path: Path, offline_home: Path
) -> None:
    (offline_home / ".env").write_text("ALLOWED_KEY=allowed\n")
    narrow, wide = narrow_library(tmp_path, ["ALLOWED_KEY"]), open_library(tmp_path)
    secrets_file = str(offline_home / ".env")

    async def body() -> None:
        async with build_orchestrator() as o:
            await start(o, narrow, NARROW, "WhatWasIToldOf")
            await start(o, wide, OPEN, "ReadSecret")
            ok(await o.handle_async(CreateNodeRequest(node_type="WhatWasIToldOf", library_name=OPEN, node_name="wide")))
            narrow_told = await outputs(o, "WhatWasIToldOf", needle=secrets_file)
            assert narrow_told["launch_seen"] is True and narrow_told["found"] is False
            assert "ALLOWED_KEY" in narrow_told["environ_keys"]
            assert (await outputs(o, "wide", needle=secrets_file))["found"] is True  # the seed's behaviour

    run(body(), timeout=120)


def test_a_worker_environment_holds_the_base_variables_and_exactly_the_secrets_its_library_may_see(
    tmp_path: Path, offline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNRELATED_OPERATOR_VAR", "x")
    monkeypatch.setenv("DECLARED_ONLY", "from-operator")  # not in .env, but a library declares it
    (offline_home / ".env").write_text("FILE_KEY=1\nALLOWED_KEY=2\n")
    narrow, wide = narrow_library(tmp_path, ["ALLOWED_KEY", "DECLARED_ONLY", "UNSET_KEY"]), open_library(tmp_path)
    base = {k for k in INHERITED_ENV if k in os.environ} | {
        "PATH",
        "VIRTUAL_ENV",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "LC_CTYPE",  # Python sets it when it coerces the C locale (PEP 538)
    }

    async def body() -> None:
        async with build_orchestrator() as o:
            await start(o, narrow, NARROW, "WhatWasIToldOf")
            await start(o, wide, OPEN, "ReadSecret")
            ok(await o.handle_async(CreateNodeRequest(node_type="WhatWasIToldOf", library_name=OPEN, node_name="wide")))
            narrow_keys = set((await outputs(o, "WhatWasIToldOf", needle="-"))["environ_keys"])
            wide_keys = set((await outputs(o, "wide", needle="-"))["environ_keys"])
            assert narrow_keys - base == {"ALLOWED_KEY", "DECLARED_ONLY"}
            assert wide_keys - base == {"FILE_KEY", "ALLOWED_KEY", "DECLARED_ONLY"}

    run(body(), timeout=120)


# -- nothing leaks --------------------------------------------------------------------------------
def nodeisle_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line as a user runs it, with verbose (DEBUG) logging, worker lines included."""
    return subprocess.run(
        [sys.executable, "-m", "nodeisle.cli", "-v", *args], capture_output=True, text=True, timeout=180
    )


def test_no_secret_value_appears_in_any_log_line_or_json_output(
    tmp_path: Path, offline_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    value = "zq-distinctive-secret-91c2"
    operator_value = "zq-operator-secret-55d0"
    monkeypatch.setenv("OPERATOR_TOKEN", operator_value)
    library = open_library(tmp_path)
    narrow = narrow_library(tmp_path, ["LEAK_TEST_KEY"])
    workflow = tmp_path / "flow.json"
    workflow.write_text(
        json.dumps(
            {
                "libraries": [str(library), str(narrow)],
                "library_modes": {OPEN: "isolated", NARROW: "isolated"},
                "nodes": [
                    {"name": "digest", "library": OPEN, "type": "DigestSecret", "values": {"key": "LEAK_TEST_KEY"}},
                    {"name": "narrow", "library": NARROW, "type": "DigestSecret", "values": {"key": "LEAK_TEST_KEY"}},
                    {"name": "refused", "library": NARROW, "type": "ReadSecret", "values": {"key": "OPERATOR_TOKEN"}},
                ],
            }
        )
    )
    runs = [
        nodeisle_cli("secrets", "set", "LEAK_TEST_KEY", value),
        nodeisle_cli("secrets", "list"),
        nodeisle_cli("run", "--json", str(workflow)),
        nodeisle_cli("libraries", "list"),
    ]
    assert all(r.returncode == 0 for r in runs), [r.stderr[-2000:] for r in runs]
    caplog.set_level(logging.DEBUG)
    credentials: list[str] = []  # every worker credential issued in this process
    issue = secrets_module.token_urlsafe

    def recorded(nbytes: int | None = None) -> str:
        credentials.append(issue(nbytes))
        return credentials[-1]

    monkeypatch.setattr(workers_module.secrets, "token_urlsafe", recorded)

    async def body() -> None:  # API changes while workers run: broadcasts, the override warning
        async with build_orchestrator() as o:
            await start(o, library, OPEN, "ReadSecret")
            ok(await o.handle_async(SetSecretValueRequest(key="LEAK_TEST_KEY", value=value + "-2")))
            ok(await o.handle_async(SetSecretValueRequest(key="OPERATOR_TOKEN", value=value + "-3")))
            result = await o.handle_async(GetSecretValueRequest(key="LEAK_TEST_KEY"))
            logging.getLogger("nodeisle.test").info("answer: %r", result)

    run(body(), timeout=120)
    report = json.loads(runs[2].stdout)
    digest = hashlib.sha256(value.encode()).hexdigest()
    assert report["nodes"]["digest"]["outputs"] == {"sha256": digest, "environ_sha256": digest}
    assert report["nodes"]["narrow"]["outputs"] == {"sha256": digest, "environ_sha256": digest}
    assert report["nodes"]["refused"]["outputs"]["via_request"] is None
    lines = [r.getMessage() for r in caplog.records]
    for completed in runs:
        lines += completed.stdout.splitlines() + completed.stderr.splitlines()
    assert any("Worker-" in line for line in lines)  # worker output was captured too
    assert [line for line in lines if "LEAK_TEST_KEY" in line]  # ... and the key is named
    assert not [line for line in lines if value in line or operator_value in line]
    # Regression: `nodeisle -v` showed the websockets handshake, with the worker's credential header.
    assert credentials and not [line for line in lines if any(c in line for c in credentials)]
    assert not [line for line in lines if "X-Nodeisle-Token" in line]
