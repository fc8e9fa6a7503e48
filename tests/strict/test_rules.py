"""Strict mode without subprocesses: each rule fires in its scope, once, with its context's severity.

The catalog tests at the top prove that every rule in ``_strict.RULES`` has a detector in ``src/``,
a test here that exercises it (marked with :func:`exercises`) and a page in ``docs/strict-mode/``.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

import nodeisle
from nodeisle.manifest import load_manifest
from nodeisle.node import hosting as _hosting
from nodeisle.node.scope import NodeScope, Phase, node_scope
from nodeisle.requests import GetParameterValueRequest, Request, Result, SetParameterValueRequest
from nodeisle.strict import rules as _strict
from nodeisle.strict.rules import Context, Severity
from tests.conftest import REPO, run, write_library

SRC = REPO / "src" / "nodeisle"
DOCS = REPO / "docs" / "strict-mode"
F = TypeVar("F", bound=Callable[..., Any])


def exercises(rule: _strict.Rule) -> Callable[[F], F]:
    """Mark a test as exercising ``rule``; the catalog test requires one per rule."""

    def mark(test: F) -> F:
        test.__strict_rule__ = rule.id  # type: ignore[attr-defined]
        return test

    return mark


def _constant_name(rule: _strict.Rule) -> str:
    return next(name for name, value in vars(_strict).items() if value is rule)


# -- the catalog ------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", _strict.RULES, ids=lambda r: r.id)
def test_every_rule_has_a_detector_that_reports_it(rule: _strict.Rule) -> None:
    constant = _constant_name(rule)
    pattern = re.compile(rf"\.violate\(\s*_strict\.{constant}\b")
    detectors = [p.relative_to(SRC) for p in SRC.rglob("*.py") if p.name != "_strict.py" and pattern.search(p.read_text())]
    assert detectors, f"no `.violate(_strict.{constant}, ...)` call under src/nodeisle: rule {rule.id!r} has no detector"


@pytest.mark.parametrize("rule", _strict.RULES, ids=lambda r: r.id)
def test_every_rule_has_a_test_that_exercises_it(rule: _strict.Rule) -> None:
    tests = [name for name, value in globals().items() if getattr(value, "__strict_rule__", None) == rule.id]
    assert tests, f"no test in {__name__} is marked @exercises({_constant_name(rule)})"


@pytest.mark.parametrize("rule", _strict.RULES, ids=lambda r: r.id)
def test_every_rule_has_a_docs_page_with_its_severities_and_examples(rule: _strict.Rule) -> None:
    page = DOCS / f"{rule.id}.md"
    assert page.is_file(), f"missing {page.relative_to(REPO)}"
    text = page.read_text()
    assert text.startswith(f"# `{rule.id}`")
    for heading in ("## What it means", "## Why", "## How to fix", "## Example", "### Triggers it", "### Fixed"):
        assert f"\n{heading}\n" in text, f"{page.name} lacks the section {heading!r}"
    orchestrator, worker = (str(s) if s else "n/a" for s in (rule.orchestrator, rule.worker))
    assert f"| {orchestrator} | {worker} |" in text, f"{page.name}: the severity table disagrees with the catalog"
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 2, f"{page.name}: needs a triggering and a fixed example"
    for block in blocks:
        ast.parse(block)  # the examples are valid Python


def test_catalog_severities_are_the_ones_the_issue_specifies() -> None:
    table = {r.id: (r.orchestrator, r.worker) for r in _strict.RULES}
    assert table == {
        "reentrant-bus-in-init": (Severity.ERROR, Severity.ERROR),
        "parameter-behaviors-dropped-in-schema": (Severity.WARNING, Severity.WARNING),
        "parameter-mutation-during-aprocess": (Severity.WARNING, Severity.ERROR),
        "worker-reach-into-orchestrator": (None, Severity.WARNING),
    }


# -- helpers --------------------------------------------------------------------------------------------
NODES = '''
import nodeisle
from nodeisle import BaseNode, Options, Parameter, ParameterMode
from nodeisle.requests import GetParameterValueRequest, ListFlowsRequest, SetParameterValueRequest

IN, OUT = {ParameterMode.INPUT, ParameterMode.PROPERTY}, {ParameterMode.OUTPUT}

class BusInInit(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        nodeisle.handle_request(ListFlowsRequest())

class Behaviours(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("count", type="int", default_value=1, converters=[int]))
        self.add_parameter(Parameter("mode", type="str", default_value="a", traits=[Options(["a", "b"])]))
        self.add_parameter(Parameter("plain", type="str", default_value=""))
    def process(self):
        pass

class MutatesInProcess(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("out", type="str", allowed_modes=OUT))
    def process(self):
        self.add_parameter(Parameter("extra", type="str"))
        self.remove_parameter_element("extra")
        self.add_parameter(Parameter("extra", type="str"))
        self.parameter_output_values["out"] = "done"

class MutatesInHydration(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("parts", type="int", default_value=1, allowed_modes=IN))
    def after_value_set(self, parameter, value):
        if parameter.name == "parts" and self.get_parameter_by_name("part_2") is None:
            self.add_parameter(Parameter("part_2", type="str", allowed_modes=OUT))
    def process(self):
        pass

class ReadsInProcess(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("flows", type="int", allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["flows"] = len(nodeisle.handle_request(ListFlowsRequest()).flow_names)

class ReadsInHydration(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("x", type="int", default_value=0, allowed_modes=IN))
    def after_value_set(self, parameter, value):
        nodeisle.handle_request(GetParameterValueRequest(node_name="other", parameter_name="x"))
    def process(self):
        pass

class WritesInProcess(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("x", type="int", default_value=0, allowed_modes=IN))
    def process(self):
        nodeisle.handle_request(SetParameterValueRequest(node_name=self.name, parameter_name="x", value=1))
'''
CLASSES = ["BusInInit", "Behaviours", "MutatesInProcess", "MutatesInHydration", "ReadsInProcess",
           "ReadsInHydration", "WritesInProcess"]


class RecordingHandler:
    """Answers every request with its default result and remembers it (stands in for an engine)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def handle_sync(self, request: Request) -> Result:
        self.requests.append(request)
        return request.result_type()

    async def handle_async(self, request: Request) -> Result:
        return self.handle_sync(request)


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> _hosting.LibraryCode:
    folder = write_library(tmp_path_factory.mktemp("strict"), "Strict Rules", NODES, CLASSES)
    return _hosting.import_library(load_manifest(folder))


def probe(code: _hosting.LibraryCode, context: Context) -> _hosting.ProbeReport:
    return _hosting.probe_library(code, context, timeout=5)


def execute(code: _hosting.LibraryCode, class_name: str, context: Context, values: dict[str, Any] | None = None,
            handler: RecordingHandler | None = None) -> _hosting.ExecutionOutcome:
    cls = code.classes[class_name]
    specs = [p.spec() for p in cls("spec", None).parameters]
    invocation = _hosting.NodeInvocation(class_name, class_name.lower(), None, tuple(specs), values or {})
    return run(_hosting.execute(cls, invocation, _hosting.Host(context, "Strict Rules", handler or RecordingHandler())),
               timeout=10)


def rules_of(violations: list[_strict.Violation]) -> list[tuple[str, Severity]]:
    return [(v.rule_id, v.severity) for v in violations]


# -- reentrant-bus-in-init -------------------------------------------------------------------------------
@exercises(_strict.REENTRANT_BUS_IN_INIT)
@pytest.mark.parametrize("context", list(Context))
def test_request_from_init_is_an_error_in_both_contexts_and_drops_the_class(code: _hosting.LibraryCode,
                                                                              context: Context) -> None:
    report = probe(code, context)
    fired = [v for v in report.violations if v.subject == "BusInInit"]
    assert rules_of(fired) == [("reentrant-bus-in-init", Severity.ERROR)]
    assert fired[0].context is context and "ListFlowsRequest issued from __init__" in fired[0].message
    assert "BusInInit" not in report.schemas
    assert [d.class_name for d in report.dropped] == ["BusInInit"]


@exercises(_strict.REENTRANT_BUS_IN_INIT)
def test_request_from_init_fails_an_execution_too(code: _hosting.LibraryCode) -> None:
    handler = RecordingHandler()
    cls = code.classes["BusInInit"]
    invocation = _hosting.NodeInvocation(cls.__name__, "n", None, (), {})
    outcome = run(_hosting.execute(cls, invocation, _hosting.Host(Context.WORKER, "Strict Rules", handler)), timeout=10)
    assert rules_of(outcome.violations) == [("reentrant-bus-in-init", Severity.ERROR)]
    assert outcome.error is not None and outcome.error.type == "NotConnectedError"
    assert handler.requests == [], "a request from __init__ must never reach the engine"


# -- parameter-behaviors-dropped-in-schema ---------------------------------------------------------------
@exercises(_strict.PARAMETER_BEHAVIORS_DROPPED)
@pytest.mark.parametrize("context", list(Context))
def test_converters_and_traits_warn_at_load_per_parameter_and_keep_the_class(code: _hosting.LibraryCode,
                                                                             context: Context) -> None:
    report = probe(code, context)
    fired = [v for v in report.violations if v.subject == "Behaviours"]
    assert rules_of(fired) == [("parameter-behaviors-dropped-in-schema", Severity.WARNING)] * 2
    assert "'count' carries converter int" in fired[0].message
    assert "'mode' carries trait Options(choices=['a', 'b'])" in fired[1].message
    assert dict(report.schemas["Behaviours"].behaviors) == {
        "count": ("converter int",), "mode": ("trait Options(choices=['a', 'b'])",)}


# -- parameter-mutation-during-aprocess ------------------------------------------------------------------
@exercises(_strict.PARAMETER_MUTATION_DURING_APROCESS)
def test_mutation_in_process_fails_the_result_in_a_worker(code: _hosting.LibraryCode) -> None:
    outcome = execute(code, "MutatesInProcess", Context.WORKER)
    assert rules_of(outcome.violations) == [("parameter-mutation-during-aprocess", Severity.ERROR)] * 2
    assert outcome.error is not None and outcome.error.type == "StrictModeViolation"
    assert "AddParameterToNodeRequest" in outcome.error.message


@exercises(_strict.PARAMETER_MUTATION_DURING_APROCESS)
def test_mutation_in_process_only_warns_in_the_orchestrator(code: _hosting.LibraryCode) -> None:
    outcome = execute(code, "MutatesInProcess", Context.ORCHESTRATOR)
    assert rules_of(outcome.violations) == [("parameter-mutation-during-aprocess", Severity.WARNING)] * 2
    assert outcome.error is None and outcome.outputs == {"out": "done"}


@pytest.mark.parametrize("context", list(Context))
def test_mutation_during_hydration_is_sanctioned(code: _hosting.LibraryCode, context: Context) -> None:
    outcome = execute(code, "MutatesInHydration", context, {"parts": 2})
    assert outcome.error is None and outcome.violations == []


# -- worker-reach-into-orchestrator ----------------------------------------------------------------------
@exercises(_strict.WORKER_REACH_INTO_ORCHESTRATOR)
def test_read_in_process_warns_in_a_worker_and_still_gets_its_answer(code: _hosting.LibraryCode) -> None:
    handler = RecordingHandler()
    outcome = execute(code, "ReadsInProcess", Context.WORKER, handler=handler)
    assert rules_of(outcome.violations) == [("worker-reach-into-orchestrator", Severity.WARNING)]
    assert outcome.violations[0].message == "ListFlowsRequest forwarded to the orchestrator during aprocess."
    assert outcome.error is None and outcome.outputs == {"flows": 0}
    assert [type(r).__name__ for r in handler.requests] == ["ListFlowsRequest"]


@exercises(_strict.WORKER_REACH_INTO_ORCHESTRATOR)
def test_read_during_hydration_warns_too(code: _hosting.LibraryCode) -> None:
    outcome = execute(code, "ReadsInHydration", Context.WORKER, {"x": 1})
    assert rules_of(outcome.violations) == [("worker-reach-into-orchestrator", Severity.WARNING)]
    assert outcome.violations[0].message.endswith("during hydration.")


def test_sanctioned_write_still_warns_and_the_remediation_says_it_is_fine(code: _hosting.LibraryCode) -> None:
    outcome = execute(code, "WritesInProcess", Context.WORKER)
    [violation] = outcome.violations
    assert violation.message.startswith("SetParameterValueRequest")
    assert "SetParameterValueRequest, this warning is fine to ignore" in violation.remediation
    assert outcome.error is None, "the reach-in rule never escalates"


@pytest.mark.parametrize("class_name", ["ReadsInProcess", "ReadsInHydration", "WritesInProcess"])
def test_reach_in_does_not_apply_in_the_orchestrator(code: _hosting.LibraryCode, class_name: str) -> None:
    outcome = execute(code, class_name, Context.ORCHESTRATOR, {"x": 1} if class_name == "ReadsInHydration" else {})
    assert outcome.violations == [] and outcome.error is None


# -- whose requests count ---------------------------------------------------------------------------------
def test_requests_the_framework_issues_for_a_node_never_count_against_it() -> None:
    """Framework code calls the handler directly; only nodeisle.handle_request applies the rules."""
    handler = RecordingHandler()
    scope = NodeScope(Context.WORKER, "Lib", "node", Phase.APROCESS, handler)
    with node_scope(scope):
        handler.handle_sync(SetParameterValueRequest(node_name="node", parameter_name="x", value=1))
        run(handler.handle_async(GetParameterValueRequest(node_name="other", parameter_name="x")), timeout=5)
        assert scope.violations == []
        nodeisle.handle_request(GetParameterValueRequest(node_name="other", parameter_name="x"))
    assert rules_of(scope.violations) == [("worker-reach-into-orchestrator", Severity.WARNING)]
    assert len(handler.requests) == 3


def test_hydration_and_execution_by_the_framework_issue_no_requests(code: _hosting.LibraryCode) -> None:
    handler = RecordingHandler()
    outcome = execute(code, "MutatesInHydration", Context.WORKER, {"parts": 3}, handler=handler)
    assert outcome.violations == [] and handler.requests == []


# -- logging --------------------------------------------------------------------------------------------
def test_each_violation_is_logged_once_in_one_line_through_the_strict_mode_logger(
        code: _hosting.LibraryCode, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="nodeisle.strict_mode")
    outcome = execute(code, "MutatesInProcess", Context.WORKER)  # add 'extra' twice: one violation
    records = [r for r in caplog.records if r.name == "nodeisle.strict_mode"]
    assert [r.getMessage() for r in records] == [v.line() for v in outcome.violations]
    assert len(records) == 2 and all(r.levelno == logging.ERROR for r in records)
    assert all("\n" not in r.getMessage() for r in records)
    assert records[0].getMessage().startswith(
        "[ERROR] parameter-mutation-during-aprocess (worker) Strict Rules/mutatesinprocess: add_parameter('extra')")


def test_violation_records_its_rule_severity_context_subject_library_message_and_fix(
        code: _hosting.LibraryCode) -> None:
    [first, _] = execute(code, "MutatesInProcess", Context.WORKER).violations
    data = first.to_dict()
    assert set(data) == {"rule_id", "severity", "context", "subject", "library", "message", "remediation"}
    assert (data["context"], data["subject"], data["library"]) == ("worker", "mutatesinprocess", "Strict Rules")
    assert _strict.Violation.from_dict(data) == first


def test_probe_violations_name_the_class_and_the_library(code: _hosting.LibraryCode) -> None:
    report = probe(code, Context.WORKER)
    assert {(v.subject, v.library) for v in report.violations} == {("BusInInit", "Strict Rules"),
                                                                  ("Behaviours", "Strict Rules")}
