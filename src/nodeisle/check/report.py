"""The report of ``nodeisle check``: items with a status and evidence, what was observed, and how the
report is printed and written as JSON."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodeisle.config.settings import LibraryMode
from nodeisle.node.audit import IOEvent
from nodeisle.orchestrator.hostapi import LoadReport
from nodeisle.strict.rules import Violation


class Status(enum.StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"  # nothing found, but not every class could be checked; ``reason`` says which and why


@dataclass(frozen=True)
class Evidence:
    """What was seen, on what, and where (``file`` relative to the library folder when inside it)."""

    text: str
    subject: str = ""
    file: str = ""
    line: int = 0

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        head = f"{self.subject}: " if self.subject else ""
        return f"{head}{self.text}" + (f" ({where})" if where else "")

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "text": self.text, "file": self.file, "line": self.line}


@dataclass(frozen=True)
class CheckItem:
    id: str
    title: str  # the checklist statement this item checks
    status: Status
    evidence: tuple[Evidence, ...] = ()
    remediation: str = ""  # set when the item is not PASS
    reason: str = ""  # set when the item is SKIP: what could not be checked, and why

    def line(self) -> str:
        text = f"{self.status} {self.id}: {self.title}"
        return text + (" -- " + "; ".join(e.render() for e in self.evidence) if self.evidence else "")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": str(self.status),
                "evidence": [e.to_dict() for e in self.evidence], "remediation": self.remediation,
                "reason": self.reason}


@dataclass(frozen=True)
class NodeRun:
    """One node run with default values."""

    class_name: str
    status: str  # succeeded | failed | timeout | not-created
    error_type: str = ""
    error: str = ""
    violations: tuple[Violation, ...] = ()


@dataclass
class Observed:
    """What loading and running the library showed."""

    mode: LibraryMode
    load_error: str | None = None
    worker_id: str | None = None
    load: LoadReport | None = None
    runs: dict[str, NodeRun] = field(default_factory=dict)
    # What its sandbox refused while ``__init__`` ran (it runs sandboxed): the audited operation, and why.
    refused: list[tuple[IOEvent, str]] = field(default_factory=list)

    @property
    def violations(self) -> list[Violation]:
        found = list(self.load.violations) if self.load else []
        return found + [v for run in self.runs.values() for v in run.violations]


@dataclass
class CheckReport:
    library: str
    manifest: Path
    observed: Observed
    items: list[CheckItem]

    @property
    def status(self) -> Status:
        found = {item.status for item in self.items}
        return next((s for s in (Status.FAIL, Status.WARN, Status.SKIP) if s in found), Status.PASS)

    @property
    def exit_code(self) -> int:
        return 1 if self.status is Status.FAIL else 0

    def lines(self) -> list[str]:
        observed = self.observed
        if observed.load_error is not None:
            loaded = f"did not load ({observed.mode})"
        elif observed.worker_id:
            loaded = f"loaded Isolated in Worker-{observed.worker_id}"
        else:
            loaded = "loaded Shared in this process"
        counts = {s: sum(1 for i in self.items if i.status is s) for s in Status}
        verdict = {Status.PASS: "isolation-ready", Status.WARN: "isolation-ready, with warnings",
                   Status.SKIP: "isolation-ready as far as it could be checked",
                   Status.FAIL: "not isolation-ready"}[self.status]
        skipped = f", {counts[Status.SKIP]} SKIP" if counts[Status.SKIP] else ""
        lines = [f"nodeisle check: {self.library} ({self.manifest}), {loaded}"]
        lines += [item.line() for item in self.items]
        lines.append(f"{len(self.items)} items: {counts[Status.PASS]} PASS, {counts[Status.WARN]} WARN, "
                     f"{counts[Status.FAIL]} FAIL{skipped}: {verdict}")
        lines += [f"fix {item.id}: {item.remediation}" for item in self.items if item.status is not Status.PASS]
        lines += [f"sandbox refused: {e.class_name}.__init__ {e.event} {e.target} at {e.file}:{e.line}: {why}"
                  for e, why in observed.refused]
        return lines

    def to_dict(self) -> dict[str, Any]:
        observed = self.observed
        return {
            "library": self.library, "manifest": str(self.manifest), "mode": str(observed.mode),
            "worker_id": observed.worker_id, "status": str(self.status), "exit_code": self.exit_code,
            "load_error": observed.load_error,
            "items": [item.to_dict() for item in self.items],
            "violations": [v.to_dict() for v in observed.violations],
            "io_events": [e.to_dict() for e in (observed.load.io_events if observed.load else [])],
            "sandbox_refused": [{**e.to_dict(), "why": why} for e, why in observed.refused],
            "runs": {name: {"status": run.status, "error_type": run.error_type, "error": run.error,
                            "violations": [v.to_dict() for v in run.violations]}
                     for name, run in observed.runs.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)
