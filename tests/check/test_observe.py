"""``nodeisle check``: each checklist item judged from the manifest, the source, the probe and one run.

The first tests judge manifests and source with nothing loaded. The end-to-end tests check the two
example libraries for real: in a worker on an offline-built virtualenv, and in this process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from nodeisle.check.checklist import CheckItem, Observed, Status, judge
from nodeisle.check.observe import check_library
from nodeisle.check.source_scan import scan_library
from nodeisle.config.settings import LibraryMode
from nodeisle.manifest import load_manifest
from tests.conftest import EXAMPLES, run, write_library

BROKEN = EXAMPLES / "libraries" / "broken_isolation"
CLEAN = EXAMPLES / "libraries" / "clean_isolation"
PLAIN = "from nodeisle import BaseNode\nclass Plain(BaseNode):\n    def process(self):\n        pass\n"


def items(folder: Path) -> dict[str, CheckItem]:
    """The checklist judged from the manifest and the source alone (as when the library fails to load)."""
    manifest = load_manifest(folder)
    judged = judge(manifest, scan_library(manifest), Observed(LibraryMode.ISOLATED, load_error="not loaded"))
    return {item.id: item for item in judged}


def manifest_line(folder: Path, needle: str) -> int:
    """The line of the manifest where the JSON string ``needle`` is written."""
    text = (folder / "griptape-nodes-library.json").read_text().splitlines()
    return next(i for i, line in enumerate(text, 1) if json.dumps(needle) in line)


def lines_of(stdout: str) -> list[str]:
    """The item lines of a readable report (between the header and the summary)."""
    return [line for line in stdout.splitlines() if line.split(" ", 1)[0] in ("PASS", "WARN", "FAIL", "SKIP")]


# -- manifest items ---------------------------------------------------------------------------------------
def test_absent_declarations_pass_as_compatible_and_shared_by_default(tmp_path: Path) -> None:
    item = items(write_library(tmp_path, "No Decl", PLAIN, ["Plain"]))["declarations"]
    assert item.line() == (
        "PASS declarations: worker_mode_compatibility / suggested_worker_mode declared and consistent -- "
        "no worker_mode_compatibility declaration: treated as COMPATIBLE; no suggested_worker_mode: launches "
        "ORCHESTRATOR (Shared) until a user picks Isolated")


def test_incompatible_declaration_fails_with_its_manifest_line(tmp_path: Path) -> None:
    folder = write_library(tmp_path, "Incompatible", PLAIN, ["Plain"],
                           declarations=[{"type": "worker_mode_compatibility", "compatibility": "INCOMPATIBLE"}])
    item = items(folder)["declarations"]
    assert item.status is Status.FAIL
    assert item.evidence[0].render().startswith("worker_mode_compatibility INCOMPATIBLE: it only runs Shared")
    assert item.evidence[0].file == "griptape-nodes-library.json" and item.evidence[0].line > 0


def test_unknown_declaration_type_warns(tmp_path: Path) -> None:
    folder = write_library(tmp_path, "Odd Decl", PLAIN, ["Plain"], declarations=[{"type": "worker_flavour"}])
    item = items(folder)["declarations"]
    assert item.status is Status.WARN and "unknown declaration type 'worker_flavour'" in item.line()


def test_contradictory_declarations_fail_the_check_without_loading(tmp_path: Path) -> None:
    folder = write_library(tmp_path, "Contradiction", PLAIN, ["Plain"], declarations=[
        {"type": "worker_mode_compatibility", "compatibility": "INCOMPATIBLE"},
        {"type": "suggested_worker_mode", "mode": "WORKER"}])
    report = run(check_library(folder), timeout=10)
    [item] = report.items
    assert (item.id, item.status, report.exit_code) == ("declarations", Status.FAIL, 1)
    assert "INCOMPATIBLE" in item.line() and "suggested_worker_mode WORKER" in item.line()
    assert report.lines()[0].startswith("nodeisle check: Contradiction ("), report.lines()[0]
    assert report.to_dict()["library"] == "Contradiction"


def test_unpinned_requirements_fail_each_with_its_manifest_line(tmp_path: Path) -> None:
    folder = write_library(tmp_path, "Loose", PLAIN, ["Plain"], pins=["torch==2.4.1", "numpy>=1.24", "requests"])
    item = items(folder)["pins"]
    assert item.status is Status.FAIL
    assert [(e.file, e.line) for e in item.evidence] == [
        ("griptape-nodes-library.json", manifest_line(folder, "numpy>=1.24")),
        ("griptape-nodes-library.json", manifest_line(folder, "requests"))]
    assert "'numpy>=1.24' allows a range of versions" in item.evidence[0].text
    assert "'requests' has no version at all" in item.evidence[1].text


def test_pinned_requirements_pass(tmp_path: Path) -> None:
    folder = write_library(tmp_path, "Tight", PLAIN, ["Plain"], pins=["tinyver==1.0"])
    assert items(folder)["pins"].line() == ("PASS pins: pip_dependencies pinned to specific versions -- pinned: "
                                            f"tinyver==1.0 (griptape-nodes-library.json:{manifest_line(folder, 'tinyver==1.0')})")


def test_local_version_without_an_index_warns(tmp_path: Path) -> None:
    folder = write_library(tmp_path, "Cuda", PLAIN, ["Plain"], pins=["torch==2.4.1+cu121"])
    item = items(folder)["install-flags"]
    assert item.status is Status.WARN
    assert item.evidence[0].render() == (
        "torch==2.4.1+cu121 names the local version +cu121, which PyPI does not serve, and pip_install_flags "
        f"names no index (griptape-nodes-library.json:{manifest_line(folder, 'torch==2.4.1+cu121')})")


def test_local_version_with_an_extra_index_passes(tmp_path: Path) -> None:
    folder = write_library(tmp_path, "Cuda Index", PLAIN, ["Plain"], pins=["torch==2.4.1+cu121"],
                           flags=["--extra-index-url", "https://download.pytorch.org/whl/cu121"])
    item = items(folder)["install-flags"]
    assert item.status is Status.PASS and "--extra-index-url https://download.pytorch.org/whl/cu121" in item.line()


# -- source items -------------------------------------------------------------------------------------------
SOURCE = '''
import nodeisle
from nodeisle import BaseNode, Parameter
from nodeisle.requests import (GetParameterValueRequest, ListConnectionsForNodeRequest, ListFlowsRequest,
    SetParameterValueRequest)

class Helper(BaseNode):
    def grow(self):
        self.add_parameter(Parameter("grown"))

class Mutates(Helper):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("x", converters=[int]))
        if False:
            nodeisle.handle_request(ListFlowsRequest())
    def after_value_set(self, parameter, value):
        self.add_parameter(Parameter("fine_here"))
        nodeisle.handle_request(GetParameterValueRequest(node_name="upstream", parameter_name="x"))
    def process(self):
        self.grow()
        own = nodeisle.handle_request(GetParameterValueRequest(node_name=self.name, parameter_name="x"))
        nodeisle.handle_request(SetParameterValueRequest(node_name=self.name, parameter_name="x", value=1))
        nodeisle.handle_request(ListConnectionsForNodeRequest(node_name=self.name))
'''


@pytest.fixture
def source_items(tmp_path: Path) -> dict[str, CheckItem]:
    return items(write_library(tmp_path, "Source", textwrap.dedent(SOURCE), ["Mutates"]))


def test_source_read_finds_add_parameter_in_a_helper_called_from_process(source_items: dict[str, CheckItem]) -> None:
    item = source_items["process-mutation"]
    assert item.status is Status.FAIL
    assert [e.render() for e in item.evidence] == ["Mutates.grow: calls self.add_parameter(...) (nodes.py:9)"]


def test_source_read_finds_a_request_in_init_even_in_a_branch_not_taken(source_items: dict[str, CheckItem]) -> None:
    item = source_items["init-bus"]
    assert item.status is Status.FAIL
    assert [e.render() for e in item.evidence] == [
        "Mutates.__init__: calls nodeisle.handle_request(ListFlowsRequest) (nodes.py:16)"]


def test_source_read_warns_on_flow_reads_not_on_own_values_or_writes(source_items: dict[str, CheckItem]) -> None:
    item = source_items["reach-in"]
    assert item.status is Status.WARN
    assert [e.render() for e in item.evidence] == [
        "Mutates.after_value_set: reads GetParameterValueRequest(node_name='upstream') (nodes.py:19)",
        "Mutates.process: reads ListConnectionsForNodeRequest(node_name=self.name) (nodes.py:24)",
    ]


def test_source_read_places_parameter_behaviours_when_the_library_did_not_load(
        source_items: dict[str, CheckItem]) -> None:
    item = source_items["parameter-behaviors"]
    assert item.status is Status.WARN
    assert [e.render() for e in item.evidence] == [
        "Mutates.x: declared with converters / validators / traits (nodes.py:14)"]


def test_items_that_need_a_load_say_they_were_not_observed(source_items: dict[str, CheckItem]) -> None:
    assert source_items["schema-probe"].line() == (
        "FAIL schema-probe: every node class loads into the schema -- Source: not loaded")
    assert source_items["init-io"].line() == (
        "SKIP init-io: __init__ does no I/O -- not observed: the library did not load")
    assert source_items["node-runs"].line() == (
        "SKIP node-runs: every node runs once with its default values -- not run: the library did not load")
    assert source_items["node-runs"].reason == "the library did not load"


# -- the examples, end to end -----------------------------------------------------------------------------
BROKEN_ISOLATED = [
    "PASS declarations: worker_mode_compatibility / suggested_worker_mode declared and consistent -- "
    "worker_mode_compatibility COMPATIBLE (griptape-nodes-library.json:11); suggested_worker_mode WORKER "
    "(griptape-nodes-library.json:12)",
    "FAIL init-io: __init__ does no I/O -- GreetingFromFile.__init__: open greetings.json (broken_nodes.py:37); "
    "ToolVersion.__init__: subprocess.Popen {python} --version (broken_nodes.py:51)",
    "FAIL init-bus: __init__ issues no event-bus requests -- FlowAwareInit.__init__: ListFlowsRequest issued "
    "from __init__ (class dropped) (broken_nodes.py:25)",
    "FAIL process-mutation: no add_parameter / remove_parameter_element inside process -- "
    "SplitInProcess.process: ERROR in the worker: add_parameter('part_1'), add_parameter('part_2') called "
    "during process() (broken_nodes.py:88)",
    "WARN reach-in: cross-node / flow state passed in via parameters, not fetched inside process -- "
    "NeighbourCount.process: WARNING: ListConnectionsForNodeRequest forwarded to the orchestrator during aprocess "
    "(broken_nodes.py:102); NeighbourCount.process: WARNING: GetParameterValueRequest forwarded to the "
    "orchestrator during aprocess (broken_nodes.py:105)",
    "WARN parameter-behaviors: converters / validators / traits re-run inside process or accepted as "
    "orchestrator-only UI sugar -- Slugify.text: converter str.strip, validator _not_blank (broken_nodes.py:68); "
    "Slugify.separator: trait Options(choices=['-', '_']) (broken_nodes.py:70)",
    "FAIL pins: pip_dependencies pinned to specific versions -- requirement 'numpy' has no version at all; pin "
    "it to exactly one version with '==' (e.g. 'numpy==<version>', like 'torch==2.4.1') "
    "(griptape-nodes-library.json:16)",
    "PASS install-flags: pip_install_flags set where the pins need another index -- no pin needs another index",
    "FAIL schema-probe: every node class loads into the schema -- FlowAwareInit: __init__ raised "
    "NotConnectedError: ListFlowsRequest was issued from __init__ of 'FlowAwareInit': requests are not "
    "answered during construction (the schema probe runs before the worker is connected) (broken_nodes.py:25)",
    "FAIL node-runs: every node runs once with its default values -- 4 of 5 nodes succeeded; SplitInProcess: "
    "failed by strict mode: parameter-mutation-during-aprocess: add_parameter('part_1') called during process()",
]

CLEAN_LINES = [
    "PASS declarations: worker_mode_compatibility / suggested_worker_mode declared and consistent -- "
    "worker_mode_compatibility COMPATIBLE (griptape-nodes-library.json:11); suggested_worker_mode WORKER "
    "(griptape-nodes-library.json:12)",
    "PASS init-io: __init__ does no I/O -- no file, network or subprocess I/O while constructing 4 classes",
    "PASS init-bus: __init__ issues no event-bus requests -- no requests issued from __init__ in the probe or in "
    "the source",
    "PASS process-mutation: no add_parameter / remove_parameter_element inside process -- no parameter list "
    "changes inside process in the runs or in the source",
    "PASS reach-in: cross-node / flow state passed in via parameters, not fetched inside process -- no reads of "
    "other nodes, connections or flows in the runs or in the source",
    "PASS parameter-behaviors: converters / validators / traits re-run inside process or accepted as "
    "orchestrator-only UI sugar -- no parameter carries converters, validators or traits",
    "PASS pins: pip_dependencies pinned to specific versions -- no pip_dependencies",
    "PASS install-flags: pip_install_flags set where the pins need another index -- no pin needs another index",
    "PASS schema-probe: every node class loads into the schema -- 4 of 4 classes in the schema",
    "PASS node-runs: every node runs once with its default values -- 4 of 4 nodes succeeded",
]


def nodeisle_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nodeisle.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=240, check=False)


def test_broken_example_fails_isolated_with_every_item_explained(offline_home: Path) -> None:
    done = nodeisle_cli("check", str(BROKEN))
    assert done.returncode == 1, done.stderr
    assert lines_of(done.stdout) == [line.format(python="python") for line in BROKEN_ISOLATED], done.stdout
    assert done.stdout.splitlines()[0].startswith("nodeisle check: Broken Isolation (")
    assert "10 items: 2 PASS, 2 WARN, 6 FAIL: not isolation-ready" in done.stdout
    assert "fix pins: Guideline: pip_dependencies pinned to specific versions." in done.stdout


def test_broken_example_trips_all_four_rules_in_a_worker(offline_home: Path) -> None:
    done = nodeisle_cli("check", str(BROKEN), "--json")
    report: dict[str, Any] = json.loads(done.stdout)
    assert (done.returncode, report["status"], report["mode"]) == (1, "FAIL", "isolated")
    fired = {(v["rule_id"], v["severity"], v["context"]) for v in report["violations"]}
    assert fired == {
        ("reentrant-bus-in-init", "ERROR", "worker"),
        ("parameter-behaviors-dropped-in-schema", "WARNING", "worker"),
        ("parameter-mutation-during-aprocess", "ERROR", "worker"),
        ("worker-reach-into-orchestrator", "WARNING", "worker"),
    }
    statuses = {item["id"]: item["status"] for item in report["items"]}
    assert statuses == {"declarations": "PASS", "init-io": "FAIL", "init-bus": "FAIL", "process-mutation": "FAIL",
                        "reach-in": "WARN", "parameter-behaviors": "WARN", "pins": "FAIL", "install-flags": "PASS",
                        "schema-probe": "FAIL", "node-runs": "FAIL"}
    io = {(e["class_name"], e["event"]) for e in report["io_events"]}
    assert io == {("GreetingFromFile", "open"), ("ToolVersion", "subprocess.Popen")}


def test_broken_example_checked_shared_reports_the_orchestrator_severities(offline_home: Path) -> None:
    report = run(check_library(BROKEN, shared=True), timeout=120)
    lines = {item.id: item.line() for item in report.items}
    python = Path(sys.executable).name
    assert lines["init-io"] == BROKEN_ISOLATED[1].format(python=python)
    assert lines["process-mutation"] == (
        "FAIL process-mutation: no add_parameter / remove_parameter_element inside process -- "
        "SplitInProcess.process: WARNING in the orchestrator: add_parameter('part_1'), add_parameter('part_2') "
        "called during process() (broken_nodes.py:88)")
    assert lines["reach-in"] == (
        "WARN reach-in: cross-node / flow state passed in via parameters, not fetched inside process -- "
        "NeighbourCount.process: reads ListConnectionsForNodeRequest(node_name=self.name) (broken_nodes.py:102); "
        "NeighbourCount.process: reads GetParameterValueRequest(node_name=self.parameter_values['source']) "
        "(broken_nodes.py:105); the runtime rule was not exercised: it fires only in a worker")
    assert lines["node-runs"] == ("SKIP node-runs: every node runs once with its default values -- "
                                  "5 of 5 nodes succeeded; FlowAwareInit: not run: dropped from the schema (see "
                                  "schema-probe)")
    assert report.observed.mode is LibraryMode.SHARED and report.exit_code == 1


def test_clean_example_passes_every_item_and_runs_isolated_without_strict_mode_lines(
        offline_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nodeisle")
    report = run(check_library(CLEAN), timeout=120)
    assert [item.line() for item in report.items] == CLEAN_LINES
    assert (report.status, report.exit_code, report.observed.mode) == (Status.PASS, 0, LibraryMode.ISOLATED)
    assert report.observed.worker_id and report.observed.violations == []
    strict = [r.getMessage() for r in caplog.records if "strict_mode" in r.getMessage() or r.name.endswith("strict_mode")]
    assert strict == [], strict
    worker_lines = [r.getMessage() for r in caplog.records if r.name == "nodeisle.worker"
                    and r.levelno >= logging.WARNING]
    assert worker_lines == []


def test_clean_example_json_report_matches_the_readable_one(offline_home: Path) -> None:
    done = nodeisle_cli("check", str(CLEAN), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["status"], report["exit_code"], report["violations"]) == ("PASS", 0, [])
    assert [f"{i['status']} {i['id']}: {i['title']}" for i in report["items"]] == [
        line.split(" -- ")[0] for line in CLEAN_LINES]


def test_clean_example_checked_shared_passes_too(offline_home: Path) -> None:
    done = nodeisle_cli("check", str(CLEAN), "--shared")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "loaded Shared in this process" in done.stdout.splitlines()[0]
    assert all(line.startswith("PASS ") for line in lines_of(done.stdout))
    assert "strict_mode" not in done.stderr and "[WARNING]" not in done.stderr


def test_unreadable_manifest_is_bad_input(tmp_path: Path, home: Path) -> None:
    (tmp_path / "griptape-nodes-library.json").write_text("{not json")
    done = nodeisle_cli("check", str(tmp_path))
    assert done.returncode == 2 and done.stderr.startswith("error: ")


def test_a_library_that_cannot_be_installed_fails_the_probe_item_with_the_reason(
        tmp_path: Path, offline_home: Path) -> None:
    folder = write_library(tmp_path, "No Such Pin", PLAIN, ["Plain"], pins=["tinyver==9.9"])
    report = run(check_library(folder), timeout=120)
    judged = {item.id: item for item in report.items}
    assert judged["schema-probe"].status is Status.FAIL
    assert "tinyver" in judged["schema-probe"].line() and report.observed.load_error
    assert judged["pins"].status is Status.PASS
    assert (judged["init-io"].status, judged["node-runs"].status) == (Status.SKIP, Status.SKIP)
    assert report.lines()[0].endswith("did not load (isolated)")


NEEDS_INPUT = '''
from nodeisle import BaseNode, Parameter
class NeedsInput(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("path", type="str", default_value=""))
    def process(self):
        if not self.parameter_values["path"]:
            raise ValueError("path is required")
'''


def test_a_node_that_cannot_run_with_its_defaults_is_a_warning_not_a_failure(tmp_path: Path, home: Path) -> None:
    folder = write_library(tmp_path, "Needs Input", NEEDS_INPUT, ["NeedsInput"])
    report = run(check_library(folder, shared=True), timeout=60)
    [runs] = [item for item in report.items if item.id == "node-runs"]
    assert runs.line() == ("WARN node-runs: every node runs once with its default values -- 0 of 1 nodes succeeded; "
                           "NeedsInput: could not run with default values: ValueError: path is required")
    assert report.exit_code == 0 and report.status is Status.WARN


# -- what could not be checked: SKIP, with why ---------------------------------------------------------------
TWO = """
from nodeisle import BaseNode, Parameter


class Plain(BaseNode):
    def process(self):
        pass


class Raises(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(
            Parameter("x", type="int",
                      default_value=int("not a number")))
"""


def test_items_that_could_not_be_checked_at_all_say_skip_with_the_reason(tmp_path: Path, home: Path) -> None:
    folder = write_library(tmp_path, "No Source", PLAIN, ["Plain"])
    (folder / "nodes.py").unlink()
    report = run(check_library(folder, shared=True), timeout=60)
    statuses = {item.id: item.status for item in report.items}
    skipped = ["init-io", "init-bus", "process-mutation", "reach-in", "parameter-behaviors", "node-runs"]
    assert [i for i, s in statuses.items() if s is Status.SKIP] == skipped
    assert statuses["schema-probe"] is Status.FAIL
    lines = report.lines()
    init_bus = next(line for line in lines if line.startswith("SKIP init-bus"))
    assert init_bus == ("SKIP init-bus: __init__ issues no event-bus requests -- Plain: not checked: nodes.py does "
                        "not exist, and the class was not loaded (dropped from the schema)")
    assert "10 items: 3 PASS, 0 WARN, 1 FAIL, 6 SKIP: not isolation-ready" in lines
    assert "fix node-runs: " in "\n".join(lines)
    document = json.loads(report.to_json())
    [node_runs] = [item for item in document["items"] if item["id"] == "node-runs"]
    assert node_runs["status"] == "SKIP" and "Plain: not run: dropped from the schema" in node_runs["reason"]
    assert all(item["reason"] == "" for item in document["items"] if item["status"] != "SKIP")


def test_a_class_that_does_not_load_skips_the_run_item_and_its_failure_points_at_the_raising_call(
        tmp_path: Path, home: Path) -> None:
    folder = write_library(tmp_path, "Half", TWO, ["Plain", "Raises"])
    report = run(check_library(folder, shared=True), timeout=60)
    judged = {item.id: item for item in report.items}
    probe = judged["schema-probe"]
    assert probe.status is Status.FAIL
    [evidence] = probe.evidence
    assert (evidence.subject, evidence.file, evidence.line) == ("Raises", "nodes.py", 15), evidence
    assert judged["node-runs"].line() == (
        "SKIP node-runs: every node runs once with its default values -- 1 of 1 nodes succeeded; Raises: not run: "
        "dropped from the schema (see schema-probe)")
    assert judged["init-io"].status is Status.PASS and "constructing 2 classes" in judged["init-io"].line()
    assert judged["process-mutation"].status is judged["parameter-behaviors"].status is Status.PASS  # read
    assert report.lines()[0].startswith("nodeisle check: Half (")
