"""The facts the dependency plan is made of (the resolver's I/O), and the plan of an engine's libraries.

``plan.py`` decides; this module asks uv. For every library: its pins against the orchestrator's
environment (a dry run, cached), and for an Isolated one the set its env would hold (a fresh
``uv pip compile``, never stored, compared with the cached resolution its env was built from), so
the plan can say that ``torch>=2.0`` now resolves to a different set than the env on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from nodeisle.errors import EnvironmentBuildError, LibraryError
from nodeisle.manifest import LibraryManifest
from nodeisle.orchestrator.interpreters import PythonFinder
from nodeisle.orchestrator.overlays import shared_facts
from nodeisle.orchestrator.plan import ENGINE, LibraryFacts, Plan, make_plan
from nodeisle.orchestrator.resolver import LOCK_NAME, Resolution, engine_packages
from nodeisle.placement import LibraryMode
from nodeisle.requests import PlanRequest, PlanResult

__all__ = ["RUNTIME_REQUIREMENTS", "answer_plan", "env_requirements", "library_facts", "plan_for"]

#: What the worker runtime needs in every Isolated env (the orchestrator's hosts re-export it).
RUNTIME_REQUIREMENTS = ("websockets>=10",)


def env_requirements(manifest: LibraryManifest) -> list[str]:
    """What an Isolated env of ``manifest`` resolves: its pins (with the execution set), then the runtime's."""
    return [*manifest.dependencies.worker_env, *RUNTIME_REQUIREMENTS]


def _changed(old: Resolution, new: Resolution) -> str:
    before, after = old.versions(), new.versions()
    moved = [f"{n} {before.get(n, '(none)')} -> {after.get(n, '(none)')}"
             for n in sorted(set(before) | set(after)) if before.get(n) != after.get(n)]
    return ", ".join(moved) or "the same versions, other files (hashes)"


def library_facts(
    manifest: LibraryManifest, mode: LibraryMode, envs: Any, pythons: PythonFinder, python_setting: str | None,
    engine: Mapping[str, str], *, fresh: bool = False,
) -> LibraryFacts:
    """What the resolver says of one library (``envs`` is the engine's EnvManager).

    ``fresh`` resolves an Isolated library's set again (without storing it) to compare it with the cached
    one its env was built from; otherwise the cached resolution is used and no resolver runs for it.
    """
    facts = replace(shared_facts(manifest, envs.resolver, engine), mode=str(mode))
    if mode is not LibraryMode.ISOLATED:
        return facts
    name, flags = manifest.name, list(manifest.dependencies.pip_install_flags)
    lock = manifest.directory / LOCK_NAME
    try:
        choice = pythons.choose(manifest, python_setting)
        python = None if choice.is_orchestrators else choice.interpreter.path
        if lock.is_file() or not fresh:
            now = envs.resolve(name, env_requirements(manifest), flags, python=python, lock=lock)
            note = None
        else:
            now = envs.resolve(name, env_requirements(manifest), flags, python=python, fresh=True, keep=False)
            cached = envs.resolver.cached(env_requirements(manifest), flags, envs.identity(python))
            note = None if cached is None or cached.digest == now.digest else (
                f"its requirements now resolve to another set than its env was built from ({_changed(cached, now)}); "
                f"`nodeisle envs rebuild {name!r}` builds the new set, `nodeisle envs lock {name!r}` keeps one")
    except (LibraryError, EnvironmentBuildError) as exc:
        return replace(facts, env_note=f"its Isolated env cannot be resolved: {str(exc).splitlines()[0]}")
    env_id = hashlib.sha256(json.dumps([now.digest, python or sys.executable, flags]).encode()).hexdigest()
    return replace(facts, env_id=env_id, env_note=note, via={**now.via(), **facts.via})


def plan_for(
    manifests: Sequence[LibraryManifest], modes: Mapping[str, LibraryMode], envs: Any, pythons: PythonFinder,
    python_settings: Mapping[str, str], *, fresh: bool = False,
) -> Plan:
    """The plan of ``manifests`` (in registration order) in the modes given (a library not named: Shared)."""
    engine = engine_packages()
    facts = [library_facts(m, modes.get(m.name, LibraryMode.SHARED), envs, pythons, python_settings.get(m.name),
                           engine, fresh=fresh) for m in manifests]
    return make_plan(facts, engine, f"{ENGINE} ({Path(sys.prefix)})")


async def answer_plan(
    request: PlanRequest, registry: Any, envs: Any, pythons: PythonFinder, settings: Any
) -> PlanResult:
    """``PlanRequest``: the plan of ``registry``'s libraries, in their modes or in ``request.modes``."""
    states = list(registry.states.values())
    modes = {s.name: request.modes.get(s.name, s.mode) for s in states}
    plan = await asyncio.to_thread(plan_for, [s.manifest for s in states], modes, envs, pythons,
                                   settings.library_pythons)
    document = plan.to_json()
    conflicts = len(document["conflicts"])
    return PlanResult(message=f"{len(states)} libraries, {conflicts} conflict{'s' * (conflicts != 1)}", **document)
