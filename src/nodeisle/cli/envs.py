"""``nodeisle envs``: the Isolated libraries' virtualenvs (list, rebuild, lock, prune) and ``nodeisle plan``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nodeisle.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, config_flags
from nodeisle.errors import ManifestError, WorkflowError


def _manifests(orchestrator: Any) -> Iterator[Any]:
    """The registered libraries' manifests; an unreadable one is passed over (``libraries list`` reports it)."""
    from nodeisle.manifest import load_manifest

    for path in orchestrator.settings.libraries:
        try:
            yield load_manifest(path)
        except ManifestError:
            continue


def _isolated_inputs(orchestrator: Any, manifest: Any) -> dict[str, Any]:
    """What an Isolated env of ``manifest`` is built from: requirements, flags, interpreter, lock file."""
    from nodeisle.orchestrator.planner import env_requirements
    from nodeisle.orchestrator.resolver import LOCK_NAME

    choice = orchestrator.pythons.choose(manifest, orchestrator.settings.library_pythons.get(manifest.name))
    return {"requirements": env_requirements(manifest), "flags": list(manifest.dependencies.pip_install_flags),
            "python": None if choice.is_orchestrators else choice.interpreter.path,
            "lock": manifest.directory / LOCK_NAME}


def _size(path: Path) -> str:
    """The bytes of the files under ``path`` (symlinks not followed), as ``12.3 MB``."""
    total = sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return f"{total / 1e6:.1f} MB" if total >= 100_000 else f"{total / 1e3:.0f} kB"


def cmd_envs(args: argparse.Namespace) -> int:
    from nodeisle.orchestrator.engine import build_orchestrator

    orchestrator = build_orchestrator(config_flags=config_flags(args))
    envs = orchestrator.envs
    if args.action == "list":
        found = envs.list()
        if not found:
            print("no environments built yet")
        for info in found:
            print(f"{info.path.name}  used by: {', '.join(info.libraries)}  {_size(info.path)}  {info.path}  "
                  f"pins={list(info.pip_dependencies)}  created {_when(info.created_at)}")
        return EXIT_OK
    if args.action == "prune":
        keep = set()
        for manifest in _manifests(orchestrator):
            inputs = _isolated_inputs(orchestrator, manifest)
            keep.add(envs.key_for(inputs["requirements"], inputs["flags"], python=inputs["python"],
                                  lock=inputs["lock"]))
        for path in envs.prune(k for k in keep if k):
            print(f"removed {path}")
        return EXIT_OK
    manifest = next((m for m in _manifests(orchestrator) if m.name == args.name), None)
    if manifest is None:
        print(f"error: no registered library named {args.name!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    inputs = _isolated_inputs(orchestrator, manifest)
    if args.action == "lock":
        return _lock(envs, manifest, inputs)
    from nodeisle import __file__ as package_file
    from nodeisle.orchestrator.hosts import RUNTIME_REQUIREMENTS

    info = envs.rebuild(manifest.name, list(manifest.dependencies.worker_env), inputs["flags"],
                        list(RUNTIME_REQUIREMENTS), Path(package_file).parent, python=inputs["python"],
                        lock=inputs["lock"])
    print(f"rebuilt {manifest.name!r} from {info.source} at {info.path}")
    return EXIT_OK


def _lock(envs: Any, manifest: Any, inputs: dict[str, Any]) -> int:
    """Write the set the library's env holds (resolving it if it never was) to ``nodeisle.lock`` beside it."""
    import time

    lock: Path = inputs["lock"]
    resolution = envs.resolve(manifest.name, inputs["requirements"], inputs["flags"], python=inputs["python"])
    identity = envs.identity(inputs["python"])
    header = [
        f"# nodeisle.lock of library {manifest.name!r}, written by `nodeisle envs lock` on "
        f"{time.strftime('%Y-%m-%d %H:%M:%S %z')}.",
        f"# Resolved for Python {identity['version'].split()[0]} ({identity['implementation']}, "
        f"{identity['platform']}) from: {' '.join(inputs['requirements'])}",
        "# An env of this library is built from exactly these lines; no resolver runs. Delete the file to",
        "# resolve again, or run `nodeisle envs lock` again to record a new resolution.",
    ]
    lines = [f"{p.name}=={p.version}" + "".join(f" \\\n    --hash={h}" for h in p.hashes) for p in resolution.pins]
    try:
        lock.write_text("\n".join([*header, *lines]) + "\n")
    except OSError as exc:
        print(f"error: cannot write {lock}: {exc.strerror or exc}; the lock lives beside the library's manifest",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"locked {manifest.name!r}: {len(resolution.pins)} packages in {lock}")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    """The dependency plan of the registered libraries (or a workflow's). Exit 1 when there is a conflict."""
    from nodeisle.manifest import load_manifest
    from nodeisle.orchestrator.engine import build_orchestrator
    from nodeisle.orchestrator.libraries import resolve_mode
    from nodeisle.orchestrator.planner import plan_for

    orchestrator = build_orchestrator(config_flags=config_flags(args))
    settings = orchestrator.settings
    if args.workflow:
        from nodeisle.flow.workflow import load_workflow

        try:
            workflow = load_workflow(args.workflow)
            manifests = [load_manifest(path) for path in workflow.libraries]
        except (WorkflowError, ManifestError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        chosen = {**settings.library_modes, **workflow.library_modes}
    else:
        manifests, chosen = list(_manifests(orchestrator)), dict(settings.library_modes)
    modes = {m.name: resolve_mode(m, chosen.get(m.name)) for m in manifests}
    plan = plan_for(manifests, modes, orchestrator.envs, orchestrator.pythons, settings.library_pythons, fresh=True)
    if args.json:
        print(json.dumps(plan.to_json(), indent=2))
    elif not manifests:
        print("no libraries registered; add one with `nodeisle libraries add PATH`")
    else:
        print("\n".join(plan.lines()))
    return EXIT_FAILED if plan.conflicts else EXIT_OK


def _when(timestamp: float, now: float | None = None) -> str:
    """A moment as local time and age: ``2026-12-01 22:40 (3 min ago)``."""
    import time

    if timestamp <= 0:
        return "at an unknown time"
    age = (time.time() if now is None else now) - timestamp
    local = time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))
    if age < 0:
        return f"{local} (in the future: check this machine's clock)"
    for unit, seconds in (("day", 86400), ("hour", 3600), ("min", 60)):
        if age >= seconds:
            count = int(age // seconds)
            return f"{local} ({count} {unit}{'s' if count > 1 and unit != 'min' else ''} ago)"
    return f"{local} (just now)"


