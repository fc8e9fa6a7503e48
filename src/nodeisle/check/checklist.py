"""The isolation-ready checklist: each item judged from what a check observed (the report: report.py).

The items follow the seed's checklist (declarations, ``__init__`` without I/O or requests, no parameter
changes inside ``process``, no reads of flow state, parameter behaviours, pins, install flags), then the
schema probe and the runs. An item is FAIL when the library breaks or loses its point isolated (a class
dropped, a node result failed on a worker, an environment that drifts), WARN when it works but costs
or diverges, and SKIP when it found nothing wrong but could not check every class (its source could not
be read and the class did not load or run): the evidence names each class and why. Judging does no I/O
beyond reading the manifest for line numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nodeisle.check.report import CheckItem, CheckReport, Evidence, NodeRun, Observed, Status
from nodeisle.check.source_scan import Finding, SourceScan
from nodeisle.config.settings import LibraryMode
from nodeisle.errors import ManifestError
from nodeisle.manifest import Compatibility, LibraryManifest, WorkerMode
from nodeisle.strict import rules as _strict
from nodeisle.strict.rules import Violation

__all__ = ["CheckItem", "CheckReport", "Evidence", "NodeRun", "Observed", "Status", "contradictory_declarations",
           "judge"]

_INDEX_FLAGS = ("--index-url", "--extra-index-url", "-i", "--find-links", "-f")
_LOCAL_VERSION = re.compile(r"===?\s*[^\s;,]+\+([A-Za-z0-9.]+)")
_WRITE_PREFIXES = ("Set", "Add", "Remove", "Create", "Delete")


def judge(manifest: LibraryManifest, scan: SourceScan, observed: Observed) -> list[CheckItem]:
    """The checklist, in the seed's order, then the probe and the runs."""
    where = _Locator(manifest)
    return [
        declarations_item(manifest, where),
        init_io_item(observed, where),
        init_bus_item(scan, observed, where),
        process_mutation_item(scan, observed, where),
        reach_in_item(scan, observed, where),
        parameter_behaviors_item(scan, observed, where),
        pins_item(manifest, where),
        install_flags_item(manifest, where),
        schema_probe_item(manifest, scan, observed, where),
        node_runs_item(observed, where),
    ]


class _Locator:
    """Paths relative to the library folder, and line numbers in the manifest."""

    def __init__(self, manifest: LibraryManifest) -> None:
        self.manifest = manifest
        self.root = manifest.directory
        try:
            self._manifest_lines = manifest.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            self._manifest_lines = []

    def file(self, path: str | Path) -> str:
        if not str(path):
            return ""
        candidate = Path(path)
        for root in (self.root, self.root.resolve()):
            if candidate.is_relative_to(root):
                return str(candidate.relative_to(root))
        return str(candidate)

    def text(self, text: str) -> str:
        """Absolute paths inside the library folder, made relative."""
        for root in (str(self.root.resolve()), str(self.root)):
            text = text.replace(root + "/", "")
        return text

    def in_manifest(self, needle: str, text: str, subject: str = "") -> Evidence:
        quoted = json.dumps(needle)
        line = next((i for i, t in enumerate(self._manifest_lines, 1) if quoted in t), 0)
        return Evidence(text, subject, self.manifest.path.name, line)

    def at(self, finding: Finding, text: str) -> Evidence:
        return Evidence(text, f"{finding.class_name}.{finding.method}", self.file(finding.file), finding.line)

    def class_def(self, scan: SourceScan, class_name: str, text: str) -> Evidence:
        source = scan.classes.get(class_name)
        return Evidence(text, class_name, self.file(source.file) if source else "", source.line if source else 0)

    def raised_at(self, scan: SourceScan, class_name: str, traceback: str, text: str) -> Evidence:
        """At the library line that raised (the innermost frame of the library's own files), else the class."""
        for path, line in reversed(_FRAME.findall(traceback)):
            candidate = Path(path)
            if any(candidate.is_relative_to(root) for root in (self.root, self.root.resolve())):
                return Evidence(text, class_name, self.file(candidate), int(line))
        return self.class_def(scan, class_name, text)


_FRAME = re.compile(r'File "([^"]+)", line (\d+)')
_NOT_LOADED = "the class was not loaded (dropped from the schema)"
_SKIP_REMEDIATION = ("Make the classes named above readable and loadable (see schema-probe for why each did not load), "
                     "then check again.")


@dataclass(frozen=True)
class _Coverage:
    """The classes an item could not check (``unchecked``, each with why), of ``total`` classes."""

    unchecked: Sequence[Evidence] = ()
    total: int = 0


def _coverage(where: _Locator, unchecked: Sequence[Evidence]) -> _Coverage:
    return _Coverage(unchecked, len(_class_names(where.manifest)))


def _item(id: str, title: str, failing: Status, evidence: Sequence[Evidence], remediation: str,
          passing: Sequence[Evidence] = (), coverage: _Coverage = _Coverage()) -> CheckItem:
    """``failing`` with ``evidence`` when there is any, else PASS with ``passing``, or SKIP for the unchecked.

    ``coverage`` names the classes the item could not check; when it is every class, ``passing`` is
    left out, since it would speak of nothing.
    """
    if evidence:
        return CheckItem(id, title, failing, tuple(evidence), remediation)
    return _pass_or_skip(CheckItem(id, title, Status.PASS, tuple(passing)), coverage.unchecked, coverage.total)


def _pass_or_skip(item: CheckItem, unchecked: Sequence[Evidence], total: int,
                  remediation: str = _SKIP_REMEDIATION) -> CheckItem:
    """A PASS ``item`` when every class was checked, else SKIP with the classes that were not, and why."""
    if item.status is not Status.PASS or not unchecked:
        return item
    shown = tuple(unchecked) if len(unchecked) >= total else (*item.evidence, *unchecked)
    reason = "; ".join(e.render() for e in unchecked)
    return CheckItem(item.id, item.title, Status.SKIP, shown, remediation, reason)


def _class_names(manifest: LibraryManifest) -> list[str]:
    return list(dict.fromkeys(entry.class_name for entry in manifest.nodes))


def _constructed(observed: Observed) -> set[str]:
    """The classes whose ``__init__`` ran in the probe: loaded, or dropped by what ``__init__`` did."""
    if observed.load is None:
        return set()
    dropped_in_init = {d.class_name for d in observed.load.dropped
                       if d.reason.startswith("__init__ ") or d.reason.split(":", 1)[0] in _strict.RULES_BY_ID}
    return set(observed.load.schemas) | dropped_in_init


def _not_observed(observed: Observed, seen: set[str], name: str) -> str | None:
    """Why ``name`` was not seen at runtime, or None when it was."""
    if observed.load is None:
        return "the library did not load"
    if name in seen:
        return None
    run = observed.runs.get(name)
    if run is not None:
        return f"its run did not start ({run.status}: {_one_line(run.error, 120)})"
    return _NOT_LOADED


def _unchecked(manifest: LibraryManifest, scan: SourceScan, why_not_seen: Callable[[str], str | None],
               read: bool = True) -> list[Evidence]:
    """The classes neither read in the source (when ``read``) nor seen at runtime, each with why."""
    found = []
    for name in _class_names(manifest):
        runtime = why_not_seen(name)
        if runtime is None or (read and name in scan.classes):
            continue
        source = scan.unread.get(name) if read else None
        found.append(Evidence(f"not checked: {source}, and {runtime}" if source else f"not checked: {runtime}", name))
    return found


def _ran(observed: Observed) -> set[str]:
    return {name for name, run in observed.runs.items() if run.status in ("succeeded", "failed")}


def _one_line(text: str, limit: int = 320) -> str:
    """``text`` on one line: its first line (with the error lines under it when it ends in a colon).

    A long result keeps its first sentence, then is cut at ``limit``.
    """
    lines = [" ".join(line.split()) for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0]
    if first.endswith(":") and len(lines) > 1:
        detail = [line for line in lines[1:] if line.lower().startswith(("error", "cause"))] or lines[1:2]
        first = " ".join([first, *detail])
    if len(first) > limit and ". " in first:
        first = first.split(". ", 1)[0]
    return first if len(first) <= limit else first[: limit - 3] + "..."


_DECLARATIONS_TITLE = "worker_mode_compatibility / suggested_worker_mode declared and consistent"


def declarations_item(manifest: LibraryManifest, where: _Locator) -> CheckItem:
    title = _DECLARATIONS_TITLE
    metadata = manifest.raw.get("metadata")
    raw_declarations = (metadata.get("declarations") if isinstance(metadata, dict) else None) or []
    if isinstance(raw_declarations, dict):  # the tolerated object form: {"type name": value, ...}
        raw_declarations = [{"type": name} for name in raw_declarations]
    declared = {d.get("type") for d in raw_declarations if isinstance(d, dict)}
    decl = manifest.declarations
    if decl.compatibility is Compatibility.INCOMPATIBLE:
        return CheckItem("declarations", title, Status.FAIL, (
            where.in_manifest("worker_mode_compatibility", "worker_mode_compatibility INCOMPATIBLE: it only runs "
                              "Shared (checked Shared)"),), (
            "Declare worker_mode_compatibility COMPATIBLE (or remove the declaration) once the library no longer "
            "needs the orchestrator process; until then it cannot run Isolated."))
    evidence = [
        where.in_manifest("worker_mode_compatibility", f"worker_mode_compatibility {decl.compatibility}")
        if "worker_mode_compatibility" in declared
        else Evidence("no worker_mode_compatibility declaration: treated as COMPATIBLE"),
        where.in_manifest("suggested_worker_mode", f"suggested_worker_mode {decl.suggested_mode}")
        if decl.suggested_mode is not None
        else Evidence(f"no suggested_worker_mode: launches {WorkerMode.ORCHESTRATOR} (Shared) until a user picks "
                      "Isolated"),
    ]
    unknown = [where.in_manifest(t, f"unknown declaration type {t!r}") for t in decl.unknown]
    if unknown:
        return CheckItem("declarations", title, Status.WARN, tuple(unknown + evidence), (
            "Remove or correct the unknown declaration types; nodeisle reads worker_mode_compatibility, "
            "suggested_worker_mode and required_secrets."))
    return CheckItem("declarations", title, Status.PASS, tuple(evidence))


def init_io_item(observed: Observed, where: _Locator) -> CheckItem:
    title = "__init__ does no I/O"
    remediation = ("Guideline: __init__ does no I/O. Declare parameters only; move file reads, network calls and "
                   "subprocesses into process() (cache an expensive result at module level).")
    if observed.load is None:
        return CheckItem("init-io", title, Status.SKIP, (Evidence("not observed: the library did not load"),),
                         "Fix the load failure (see schema-probe) and check again.", "the library did not load")
    evidence = [Evidence(f"{e.event} {where.text(e.target)}", f"{e.class_name}.__init__", where.file(e.file), e.line)
                for e in observed.load.io_events]
    constructed = _constructed(observed)
    passing = [Evidence(f"no file, network or subprocess I/O while constructing {_classes(len(constructed))}")]
    unobserved = [Evidence(f"not observed: {_NOT_LOADED}", name) for name in _class_names(where.manifest)
                  if name not in constructed]
    return _item("init-io", title, Status.FAIL, evidence, remediation, passing, _coverage(where, unobserved))


def init_bus_item(scan: SourceScan, observed: Observed, where: _Locator) -> CheckItem:
    title = "__init__ issues no event-bus requests"
    fired = _rule_violations(observed.load.violations if observed.load else [], _strict.REENTRANT_BUS_IN_INIT)
    evidence = _merge(fired, scan, scan.init_requests, where,
                      lambda vs: "; ".join(_bare(v.message) for v in vs) + " (class dropped)",
                      lambda f: f"calls {f.what}")
    constructed = _constructed(observed)
    unchecked = _unchecked(where.manifest, scan, lambda name: _not_observed(observed, constructed, name))
    return _item("init-bus", title, Status.FAIL, evidence, _strict.REENTRANT_BUS_IN_INIT.remediation,
                 [Evidence(f"no requests issued from __init__ {_seen(observed, 'in the probe')}")],
                 _coverage(where, unchecked))


def process_mutation_item(scan: SourceScan, observed: Observed, where: _Locator) -> CheckItem:
    title = "no add_parameter / remove_parameter_element inside process"
    fired = _rule_violations(_run_violations(observed), _strict.PARAMETER_MUTATION_DURING_APROCESS)

    def observed_text(violations: Sequence[Violation]) -> str:
        calls = ", ".join(v.message.split(" called during")[0] for v in violations)
        return f"{violations[0].severity} in the {violations[0].context}: {calls} called during process()"

    evidence = _merge(fired, scan, scan.process_mutations, where, observed_text, lambda f: f"calls {f.what}")
    ran = _ran(observed)
    unchecked = _unchecked(where.manifest, scan, lambda name: _not_observed(observed, ran, name))
    return _item("process-mutation", title, Status.FAIL, evidence,
                 _strict.PARAMETER_MUTATION_DURING_APROCESS.remediation,
                 [Evidence(f"no parameter list changes inside process {_seen(observed, 'in the runs')}")],
                 _coverage(where, unchecked))


def reach_in_item(scan: SourceScan, observed: Observed, where: _Locator) -> CheckItem:
    title = "cross-node / flow state passed in via parameters, not fetched inside process"
    fired = _rule_violations(_run_violations(observed), _strict.WORKER_REACH_INTO_ORCHESTRATOR)
    reads = [v for v in fired if not v.message.startswith(_WRITE_PREFIXES)]
    writes = [where.class_def(scan, v.subject, f"{_bare(v.message)} (a sanctioned write: fine to ignore)")
              for v in fired if v.message.startswith(_WRITE_PREFIXES)]
    evidence = _merge(reads, scan, scan.flow_reads, where,
                      lambda vs: f"{vs[0].severity}: " + "; ".join(_bare(v.message) for v in vs),
                      lambda f: f"reads {f.what}")
    isolated = observed.mode is LibraryMode.ISOLATED
    not_seen = [] if isolated else [Evidence("the runtime rule was not exercised: it fires only in a worker")]
    if evidence:
        return CheckItem("reach-in", title, Status.WARN, tuple(evidence + writes + not_seen),
                         _strict.WORKER_REACH_INTO_ORCHESTRATOR.remediation)
    seen = _seen(observed, "in the runs") if isolated else "in the source"
    none = Evidence(f"no reads of other nodes, connections or flows {seen}")
    ran = _ran(observed)
    unchecked = _unchecked(where.manifest, scan, lambda name: _not_observed(observed, ran, name) if isolated
                           else "the runtime rule fires only in a worker")
    return _pass_or_skip(CheckItem("reach-in", title, Status.PASS, tuple([none, *writes, *not_seen])), unchecked,
                         len(_class_names(where.manifest)))


def parameter_behaviors_item(scan: SourceScan, observed: Observed, where: _Locator) -> CheckItem:
    title = "converters / validators / traits re-run inside process or accepted as orchestrator-only UI sugar"
    lines = {(f.class_name, f.what): f for f in scan.parameter_behaviors}
    evidence: list[Evidence] = []
    schemas = set(observed.load.schemas) if observed.load is not None else set()
    if observed.load is not None:
        for class_name, schema in observed.load.schemas.items():
            for parameter, found in schema.behaviors.items():
                finding = lines.get((class_name, parameter))
                evidence.append(Evidence(", ".join(found), f"{class_name}.{parameter}",
                                         where.file(finding.file) if finding else "", finding.line if finding else 0))
    # The source speaks for a class the schema does not have (the library, or the class, did not load).
    evidence += [Evidence("declared with converters / validators / traits", f"{f.class_name}.{f.what}",
                          where.file(f.file), f.line) for f in scan.parameter_behaviors if f.class_name not in schemas]
    unchecked = _unchecked(where.manifest, scan, lambda name: _not_observed(observed, schemas, name))
    return _item("parameter-behaviors", title, Status.WARN, evidence, _strict.PARAMETER_BEHAVIORS_DROPPED.remediation,
                 [Evidence("no parameter carries converters, validators or traits")], _coverage(where, unchecked))


def pins_item(manifest: LibraryManifest, where: _Locator) -> CheckItem:
    title = "pip_dependencies pinned to specific versions"
    deps = manifest.dependencies
    requirements = [*deps.pip_dependencies, *deps.pip_dependencies_exec]
    paths = ("metadata.dependencies.pip_dependencies", "metadata.dependencies.pip_dependencies_exec",
             "metadata.dependencies[")
    evidence = []
    for warning in manifest.warnings:
        index_match = re.search(r"\[(\d+)\]$", warning.json_path)
        if warning.json_path.startswith(paths) and index_match:
            index = int(index_match.group(1))
            listed = deps.pip_dependencies_exec if "_exec" in warning.json_path else deps.pip_dependencies
            evidence.append(where.in_manifest(listed[index], warning.message))
    passing = [where.in_manifest(requirements[0], f"pinned: {', '.join(requirements)}") if requirements
               else Evidence("no pip_dependencies")]
    return _item("pins", title, Status.FAIL, evidence, (
        "Guideline: pip_dependencies pinned to specific versions. Pin each requirement to one version with '==' "
        "(torch==2.4.1, not torch>=2.0): a worker's environment is only under control when its wheels are fixed."),
        passing)


def install_flags_item(manifest: LibraryManifest, where: _Locator) -> CheckItem:
    title = "pip_install_flags set where the pins need another index"
    deps = manifest.dependencies
    has_index = any(flag.split("=", 1)[0] in _INDEX_FLAGS for flag in deps.pip_install_flags)
    needing = [(req, m.group(1)) for req in deps.pip_dependencies if (m := _LOCAL_VERSION.search(req))]
    evidence = [] if has_index else [
        where.in_manifest(req, f"{req} names the local version +{label}, which PyPI does not serve, and "
                               "pip_install_flags names no index") for req, label in needing]
    passing = [Evidence(f"pip_install_flags: {' '.join(deps.pip_install_flags)}") if deps.pip_install_flags
               else Evidence("no pin needs another index")]
    return _item("install-flags", title, Status.WARN, evidence, (
        "Add the index that serves the local version to metadata.dependencies.pip_install_flags, e.g. "
        '["--extra-index-url", "https://download.pytorch.org/whl/cu121"] for +cu121 wheels.'), passing)


def schema_probe_item(manifest: LibraryManifest, scan: SourceScan, observed: Observed, where: _Locator) -> CheckItem:
    title = "every node class loads into the schema"
    remediation = ("A class whose import or __init__ fails, or whose __init__ outlasts the probe timeout, is dropped "
                   "from the schema: make __init__ only declare parameters, and fix the reason named above.")
    if observed.load_error is not None or observed.load is None:
        text = _one_line(where.text(observed.load_error or "the library did not load"))
        return CheckItem("schema-probe", title, Status.FAIL, (Evidence(text, manifest.name),), (
            "The library did not load, so nothing ran: fix the reason named above (an install failure names the "
            "requirement and the installer log), then check again."))
    evidence = [where.raised_at(scan, d.class_name, d.traceback, _one_line(where.text(d.reason)))
                for d in observed.load.dropped]
    # What the static read could not find (a re-exported class, one defined under `if`) only counts when the
    # runtime load also lost a class: a class that loaded is in the schema, whatever the source looks like.
    if observed.load.dropped or len(observed.load.schemas) < len({n.class_name for n in manifest.nodes}):
        evidence += [Evidence(_one_line(where.text(p))) for p in scan.problems]
    total = len(observed.load.schemas) + len(observed.load.dropped)
    return _item("schema-probe", title, Status.FAIL, evidence, remediation,
                 [Evidence(f"{len(observed.load.schemas)} of {_classes(total)} in the schema")])


def node_runs_item(observed: Observed, where: _Locator) -> CheckItem:
    title = "every node runs once with its default values"
    runs = list(observed.runs.values())
    strict = [r for r in runs if r.error_type == "StrictModeViolation"]
    other = [r for r in runs if r.status != "succeeded" and r not in strict]
    ran = sum(1 for r in runs if r.status == "succeeded")
    summary = Evidence(f"{ran} of {len(runs)} nodes succeeded")
    if observed.load is None:
        return CheckItem("node-runs", title, Status.SKIP, (Evidence("not run: the library did not load"),),
                         "Fix the load failure (see schema-probe) and check again.", "the library did not load")
    if strict:
        return CheckItem("node-runs", title, Status.FAIL, (summary, *[
            Evidence(f"failed by strict mode: {_one_line(r.error.split(';')[0])}", r.class_name) for r in strict]),
            "A strict-mode ERROR failed the node's result: fix the rule it names (see the items above).")
    if other:
        return CheckItem("node-runs", title, Status.WARN, (summary, *[
            Evidence(f"could not run with default values: {r.error_type}: {_one_line(r.error)}", r.class_name)
            for r in other]), (
            "A node that cannot run with its default values was not exercised at runtime: give its inputs defaults "
            "that run, or run it in a workflow (nodeisle run --json lists its violations)."))
    not_run = [Evidence("not run: dropped from the schema (see schema-probe)", name)
               for name in _class_names(where.manifest) if name not in observed.runs]
    return _pass_or_skip(CheckItem("node-runs", title, Status.PASS, (summary,)), not_run, len(not_run) + 1,
                         "Fix what kept the classes named above out of the schema (see schema-probe), then check "
                         "again.")


# -- helpers ----------------------------------------------------------------------------------------------
def _seen(observed: Observed, runtime: str) -> str:
    """Where a clean result was seen: at runtime and in the source, or only in the source."""
    return f"{runtime} or in the source" if observed.load is not None else "in the source (the library did not load)"


def _classes(n: int) -> str:
    return f"{n} class" + ("" if n == 1 else "es")


def _bare(message: str) -> str:
    return message.strip().rstrip(".")


def _rule_violations(violations: Iterable[Violation], rule: _strict.Rule) -> list[Violation]:
    return [v for v in violations if v.rule_id == rule.id]


def _run_violations(observed: Observed) -> list[Violation]:
    return [v for run in observed.runs.values() for v in run.violations]


def _merge(fired: Sequence[Violation], scan: SourceScan, findings: Sequence[Finding], where: _Locator,
           runtime_text: Callable[[Sequence[Violation]], str], static_text: Callable[[Finding], str]) -> list[Evidence]:
    """Runtime violations placed at the source line that explains them; then the source findings not yet shown.

    A violation message starts with what was called (``ListFlowsRequest issued ...``, ``add_parameter('x')
    called ...``): the finding of the same class whose call names it gives the line, else the class's first
    finding, else the class definition. Violations placed at one line share one piece of evidence.
    """
    placed: dict[tuple[str, int], tuple[Finding | None, list[Violation]]] = {}
    for violation in fired:
        called = re.match(r"\w+", violation.message)
        same_class = [f for f in findings if f.class_name == violation.subject]
        finding = next((f for f in same_class if called and called.group(0) in f.what), None)
        finding = finding or (same_class[0] if same_class else None)
        key = (violation.subject, finding.line if finding else 0)
        placed.setdefault(key, (finding, []))[1].append(violation)
    evidence = [where.at(finding, runtime_text(group)) if finding else
                where.class_def(scan, subject, runtime_text(group))
                for (subject, _), (finding, group) in placed.items()]
    evidence += [where.at(f, static_text(f)) for f in findings if (f.class_name, f.line) not in placed]
    return evidence


def contradictory_declarations(exc: ManifestError) -> CheckReport:
    """The report for a manifest whose declarations contradict each other: it does not load at all."""
    file = Path(exc.file)
    try:
        text = file.read_text(encoding="utf-8").splitlines()
    except OSError:
        text = []
    line = next((i for i, t in enumerate(text, 1) if '"suggested_worker_mode"' in t), 0)
    item = CheckItem("declarations", _DECLARATIONS_TITLE, Status.FAIL,
                     (Evidence(f"{exc.found}; expected {exc.expected}", "", file.name, line),),
                     exc.hint or "Make the declarations agree.")
    observed = Observed(LibraryMode.SHARED, load_error=str(exc))
    try:  # the manifest did not load, but its name is still the best way to say which library this is
        name = json.loads("\n".join(text)).get("name")
    except (ValueError, AttributeError):
        name = None
    return CheckReport(name if isinstance(name, str) and name.strip() else file.parent.name, file, observed, [item])
