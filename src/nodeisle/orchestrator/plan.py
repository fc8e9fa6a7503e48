"""The dependency plan: which libraries' requirements collide, and where each library should run.

A pure core (no processes, no I/O): the resolver (``resolver.py``) finds the facts, this module
decides. A conflict is between requirements that would have to live in one environment: the Shared
libraries with each other and with the orchestrator's own environment ("the engine's environment").
Two Isolated libraries never conflict; for each one the plan says whether it *could* run Shared.

Shared libraries are judged in order: the first one to claim a version keeps it (its overlay comes
first on the import path), and a later one whose requirement does not accept that version conflicts
with it. The same rule refuses a Shared library at load (:func:`shared_conflicts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = [
    "Change", "Conflict", "LibraryFacts", "LibraryPlan", "Plan", "SharedFit", "Side", "make_plan",
    "shared_conflicts",
]

ENGINE = "the engine's environment"


@dataclass(frozen=True)
class Change:
    """A package the orchestrator's environment has, which a library's pins would replace."""

    package: str
    installed: str
    wanted: str


@dataclass(frozen=True)
class SharedFit:
    """A library's pins against the orchestrator's environment (from a resolver dry run)."""

    installs: Mapping[str, str]  # missing: package -> version, for the library's overlay
    changes: tuple[Change, ...]  # installed packages its pins would change: conflicts
    error: str | None = None  # the resolver could not resolve the pins at all
    via: Mapping[str, str] = field(default_factory=dict)  # a package its pins pull in -> who requires it


@dataclass(frozen=True)
class LibraryFacts:
    """What the resolver found for one library."""

    name: str
    mode: str  # "shared" | "isolated"
    requirements: tuple[str, ...]
    fit: SharedFit
    env_id: str | None = None  # the identity of its Isolated env (resolved set + interpreter); None: unresolved
    env_note: str | None = None  # why there is no env_id, or that its env is older than a fresh resolution
    via: Mapping[str, str] = field(default_factory=dict)  # transitive package -> who requires it
    only_shared: bool = False  # worker_mode_compatibility INCOMPATIBLE


@dataclass(frozen=True)
class Side:
    """One side of a conflict: a library (or the engine's environment) and what it requires."""

    requirement: str
    library: str | None = None
    engine: str | None = None

    def to_json(self) -> dict[str, str]:
        who = {"library": self.library} if self.library is not None else {"engine": self.engine or ENGINE}
        return {**who, "requirement": self.requirement}


@dataclass(frozen=True)
class Conflict:
    package: str
    sides: tuple[Side, ...]
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"package": self.package, "sides": [s.to_json() for s in self.sides], "message": self.message}


@dataclass(frozen=True)
class LibraryPlan:
    name: str
    mode: str
    can_run_shared: bool
    recommended_mode: str
    reason: str
    overlay: tuple[str, ...] = ()  # what it would install into its Shared overlay

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "mode": self.mode, "can_run_shared": self.can_run_shared,
                "recommended_mode": self.recommended_mode, "reason": self.reason, "overlay": list(self.overlay)}


@dataclass(frozen=True)
class Plan:
    libraries: tuple[LibraryPlan, ...]
    conflicts: tuple[Conflict, ...]
    env_groups: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"libraries": [lib.to_json() for lib in self.libraries],
                "conflicts": [c.to_json() for c in self.conflicts],
                "env_groups": [list(g) for g in self.env_groups], "notes": list(self.notes)}

    def lines(self) -> list[str]:
        """The plan as text, one line per conflict and per library."""
        out = [f"conflict: {c.message}" for c in self.conflicts]
        for lib in self.libraries:
            can = "can run Shared" if lib.can_run_shared else "cannot run Shared"
            out.append(f"{lib.name}: {lib.mode}, {can}; recommended {lib.recommended_mode}: {lib.reason}")
        out += [f"one env for: {', '.join(g)}" for g in self.env_groups if len(g) > 1]
        return out + [f"note: {n}" for n in self.notes]


def _direct(facts: LibraryFacts) -> dict[str, Requirement]:
    """The library's own requirements that apply on this machine, by canonical name."""
    found: dict[str, Requirement] = {}
    for text in facts.requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue  # a URL or a malformed pin: the resolver reports it
        if req.marker is None or req.marker.evaluate():
            found[canonicalize_name(req.name)] = req
    return found


def _accepts(req: Requirement | None, pinned: str, version: str) -> bool:
    """Whether a library's requirement on a package (direct, else its resolved ``pinned``) allows ``version``."""
    if req is None:
        return version == pinned
    try:
        return req.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def _wants(facts: LibraryFacts, package: str, version: str) -> str:
    """What a library requires of ``package``, as a sentence fragment: ``pins numpy==1.26.4``."""
    req = _direct(facts).get(package)
    if req is not None:
        return f"pins {req}"
    through = facts.via.get(package) or facts.fit.via.get(package)
    return f"needs {package}=={version}" + (f" (through {through})" if through else "")


def _engine_conflicts(facts: LibraryFacts, engine_label: str) -> list[Conflict]:
    found = []
    for change in facts.fit.changes:
        wants = _wants(facts, change.package, change.wanted)
        found.append(Conflict(
            change.package,
            (Side(wants.split(" ", 1)[1], library=facts.name), Side(f"{change.package}=={change.installed}",
                                                                       engine=engine_label)),
            f"library {facts.name!r} {wants}; {ENGINE} has {change.package} {change.installed}",
        ))
    return found


def shared_conflicts(
    facts: LibraryFacts, earlier: Sequence[LibraryFacts], engine: Mapping[str, str], engine_label: str = ENGINE
) -> list[Conflict]:
    """Why ``facts`` cannot join the engine's environment and the ``earlier`` Shared libraries (empty: it can)."""
    found = _engine_conflicts(facts, engine_label)
    mine = _direct(facts)
    wanted = {**{n: engine[n] for n in mine if n in engine}, **facts.fit.installs}
    for other in earlier:
        for package, theirs in other.fit.installs.items():
            ours = wanted.get(package)
            if ours is None or ours == theirs or _accepts(mine.get(package), ours, theirs):
                continue
            found.append(Conflict(
                package,
                (Side(_wants(other, package, theirs).split(" ", 1)[1], library=other.name),
                 Side(_wants(facts, package, ours).split(" ", 1)[1], library=facts.name)),
                f"library {other.name!r} {_wants(other, package, theirs)}; "
                f"library {facts.name!r} {_wants(facts, package, ours)}",
            ))
    return found


def _shared_reason(facts: LibraryFacts) -> str:
    if not facts.requirements:
        return "it has no pip dependencies"
    if facts.fit.installs:
        added = ", ".join(f"{n}=={v}" for n, v in facts.fit.installs.items())
        return f"its missing pins install into its own overlay without changing {ENGINE}: {added}"
    return f"{ENGINE} already satisfies its pins"


def _judge(facts: LibraryFacts, conflicts: list[Conflict]) -> LibraryPlan:
    overlay = tuple(f"{n}=={v}" for n, v in facts.fit.installs.items())
    if facts.fit.error is not None:
        why = f"its pins cannot be resolved against {ENGINE}: {facts.fit.error.splitlines()[0]}"
        return LibraryPlan(facts.name, facts.mode, False, "shared" if facts.only_shared else "isolated", why)
    if conflicts:
        why = "; ".join(c.message for c in conflicts)
        if facts.only_shared:
            return LibraryPlan(facts.name, facts.mode, False, "shared", f"{why}; its manifest declares "
                               "worker_mode_compatibility INCOMPATIBLE, so it cannot run Isolated either: change "
                               "its pins or the conflicting library's", overlay)
        return LibraryPlan(facts.name, facts.mode, False, "isolated", f"{why}; run it Isolated", overlay)
    reason = _shared_reason(facts)
    if facts.mode == "isolated":
        reason = f"it could run Shared ({reason}); Isolated keeps it in a process of its own"
    return LibraryPlan(facts.name, facts.mode, True, facts.mode, reason, overlay)


def make_plan(libraries: Sequence[LibraryFacts], engine: Mapping[str, str], engine_label: str = ENGINE) -> Plan:
    """The plan for ``libraries`` (in registration order) beside the engine's installed set ``engine``."""
    accepted: list[LibraryFacts] = []
    conflicts: list[Conflict] = []
    plans: dict[str, LibraryPlan] = {}
    for facts in (f for f in libraries if f.mode == "shared"):
        found = shared_conflicts(facts, accepted, engine, engine_label)
        conflicts += found
        plans[facts.name] = _judge(facts, found)
        if not found and facts.fit.error is None:
            accepted.append(facts)
    groups: dict[str, list[str]] = {}
    notes: list[str] = []
    for facts in (f for f in libraries if f.mode != "shared"):
        plans[facts.name] = _judge(facts, shared_conflicts(facts, accepted, engine, engine_label))
        if facts.env_id is not None:
            groups.setdefault(facts.env_id, []).append(facts.name)
        if facts.env_note:
            notes.append(f"library {facts.name!r}: {facts.env_note}")
    return Plan(
        tuple(plans[f.name] for f in libraries),
        tuple(conflicts),
        tuple(sorted(tuple(g) for g in groups.values())),
        tuple(notes),
    )
