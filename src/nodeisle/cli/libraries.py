"""``nodeisle libraries`` (register, remove, choose a mode, list) and ``nodeisle envs`` (their virtualenvs)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodeisle.cli.common import EXIT_BAD_INPUT, EXIT_OK, config_flags, run_async
from nodeisle.errors import ManifestError

if TYPE_CHECKING:
    from nodeisle.config.settings import Settings
    from nodeisle.manifest import LibraryManifest


def cmd_libraries(args: argparse.Namespace) -> int:
    from nodeisle.config.settings import Settings, engine_home

    home = engine_home()
    settings = Settings.load(home)
    action = {"add": _add, "remove": _remove, "mode": _choose_mode, "python": _choose_python,
              **CONTAINMENT_ACTIONS}.get(args.action, _list)
    return action(args, home, settings)


def _add(args: argparse.Namespace, _home: Path, settings: Settings) -> int:
    from nodeisle.manifest import load_manifest
    from nodeisle.orchestrator.libraries import same_name_as

    manifest = load_manifest(args.path, require_inside=True)
    path = str(manifest.path)
    if path not in settings.libraries:
        twin = same_name_as(manifest, settings.libraries)
        if twin is not None:
            print(f"error: {twin}", file=sys.stderr)
            return EXIT_BAD_INPUT
        settings.libraries.append(path)
        settings.save()
    for warning in manifest.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"registered {manifest.name!r} ({path})")
    return EXIT_OK


def _remove(args: argparse.Namespace, _home: Path, settings: Settings) -> int:
    from nodeisle.manifest import load_manifest

    for path in list(settings.libraries):
        try:
            name = load_manifest(path).name
        except ManifestError:
            name = None
        if args.name in (name, path):
            settings.libraries.remove(path)
            settings.library_modes.pop(args.name, None)
            settings.library_pythons.pop(args.name, None)
            settings.library_limits.pop(args.name, None)
            settings.library_sandbox.pop(args.name, None)
            settings.save()
            print(f"removed {args.name!r}")
            return EXIT_OK
    print(f"error: no registered library named {args.name!r}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _shared_refusal(args: argparse.Namespace, home: Path, settings: Settings, manifest: LibraryManifest) -> str | None:
    """Why ``manifest`` cannot run Shared beside the engine's environment and the other Shared libraries, or None."""
    from nodeisle.config.settings import LibraryMode
    from nodeisle.orchestrator.engine import build_orchestrator
    from nodeisle.orchestrator.libraries import resolve_mode
    from nodeisle.orchestrator.overlays import refusal
    from nodeisle.orchestrator.planner import plan_for

    orchestrator = build_orchestrator(home, settings, config_flags(args))
    others = [m for m in _loadable(settings) if m.name != manifest.name]
    modes = {m.name: resolve_mode(m, settings.library_modes.get(m.name)) for m in others}
    modes[manifest.name] = LibraryMode.SHARED
    # The others that already run Shared keep their claim: this library is judged after them.
    plan = plan_for([*others, manifest], modes, orchestrator.envs, orchestrator.pythons, settings.library_pythons)
    mine = next(p for p in plan.libraries if p.name == manifest.name)
    if mine.can_run_shared:
        return None
    return refusal(manifest.name, mine.reason.removesuffix("; run it Isolated"))


def _loadable(settings: Settings) -> list[LibraryManifest]:
    """The registered libraries' manifests, in order; an unreadable one is passed over."""
    from nodeisle.manifest import load_manifest

    found = []
    for path in settings.libraries:
        try:
            found.append(load_manifest(path))
        except ManifestError:
            continue
    return found


def _choose_mode(args: argparse.Namespace, home: Path, settings: Settings) -> int:
    from nodeisle.config.settings import LibraryMode
    from nodeisle.flow.graph import RequestFailed
    from nodeisle.orchestrator.libraries import resolve_mode

    mode = LibraryMode.parse(args.mode)  # a wrong word: a ValueError listing both, bad input (main)
    manifest = _registered(settings, args.name)
    if manifest is None:
        print(
            f"error: no registered library named {args.name!r}; add it first with `nodeisle libraries add PATH`",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    try:
        resolve_mode(manifest, mode)
    except RequestFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    refused = _shared_refusal(args, home, settings, manifest) if mode is LibraryMode.SHARED else None
    if refused is not None:
        print(f"error: {refused}", file=sys.stderr)
        return EXIT_BAD_INPUT
    settings.library_modes[args.name] = mode
    settings.save()
    print(f"{args.name!r} will run {mode}")
    return EXIT_OK


def _choose_python(args: argparse.Namespace, _home: Path, settings: Settings) -> int:
    """Store (or with ``default`` forget) a library's ``python`` setting, and say what it picks now."""
    from nodeisle.errors import LibraryError
    from nodeisle.orchestrator.interpreters import PythonFinder
    from nodeisle.orchestrator.pythons import parse_python_setting

    manifest = _registered(settings, args.name)
    if manifest is None:
        print(
            f"error: no registered library named {args.name!r}; add it first with `nodeisle libraries add PATH`",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    value = None if args.python.strip().lower() == "default" else args.python.strip()
    if value is not None and value.startswith("~"):
        value = str(Path(value).expanduser())
    try:
        parse_python_setting(value) if value is not None else None
    except ValueError as exc:
        print(f"error: library {args.name!r}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if value is None:
        settings.library_pythons.pop(args.name, None)
    else:
        settings.library_pythons[args.name] = value
    settings.save()
    try:
        choice = PythonFinder().choose(manifest, value)
    except LibraryError as exc:  # stored anyway: the interpreter may be installed later
        print(f"warning: {exc}", file=sys.stderr)
        print(f"{args.name!r} will run Isolated on python {value!r} once it is found")
        return EXIT_OK
    print(f"{args.name!r} will run Isolated on {choice.describe()}")
    return EXIT_OK


def _registered(settings: Settings, name: str) -> LibraryManifest | None:
    """The manifest of the registered library called ``name``; unreadable manifests are passed over."""
    from nodeisle.manifest import load_manifest

    for path in settings.libraries:
        try:
            manifest = load_manifest(path)
        except ManifestError:
            continue
        if manifest.name == name:
            return manifest
    return None


def _list(args: argparse.Namespace, home: Path, settings: Settings) -> int:
    rows, plan = run_async(_listed(args, home, settings))
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no libraries registered; add one with `nodeisle libraries add PATH`")
    for row in rows:
        _print_row(row)
    for conflict in plan.get("conflicts", []):  # one line each; `nodeisle plan` says more
        print(f"conflict: {conflict['message']}")
    return EXIT_OK


async def _listed(args: argparse.Namespace, home: Path, settings: Settings) -> tuple[list[Any], dict[str, Any]]:
    """Each registered library loaded in a fresh orchestrator, as ``libraries list --json`` shows it (each row
    with its ``plan``), and the dependency plan of the libraries in the modes they loaded in."""
    from nodeisle.orchestrator.engine import build_orchestrator
    from nodeisle.requests import ListRegisteredLibrariesRequest, PlanRequest, RegisterLibraryRequest

    rows: list[Any] = []
    async with build_orchestrator(home, settings, config_flags(args)) as orchestrator:
        for path in settings.libraries:
            result = await orchestrator.handle_async(RegisterLibraryRequest(path=path))
            if not result.succeeded and not getattr(result, "library_name", None):
                rows.append({"name": "?", "path": path, "status": "failed", "problems": [result.message]})
        listed = await orchestrator.handle_async(ListRegisteredLibrariesRequest())
        rows.extend(vars(info) for info in getattr(listed, "libraries", []))
        planned = await orchestrator.handle_async(PlanRequest())
        if not planned.succeeded:
            print(f"warning: no dependency plan: {planned.message}", file=sys.stderr)
    plan = {k: getattr(planned, k, []) for k in ("libraries", "conflicts", "env_groups")}
    by_name = {lib["name"]: lib for lib in plan["libraries"]}
    for row in rows:
        row["plan"] = by_name.get(row["name"])
    return rows, plan


def _print_row(row: dict[str, Any]) -> None:
    print(f"{row['name']}  [{row['status']}]  {row['path']}")
    print(
        f"    compatibility={row.get('compatibility')}  suggested={row.get('suggested_mode')}  "
        f"effective={row.get('effective_mode')}  worker={_worker_text(row)}"
    )
    if row.get("python"):
        print(f"    python: {row['python']}")
    if row.get("python_setting"):
        print(f"    python setting: {row['python_setting']} (`nodeisle libraries python`)")
    if row.get("readable_secrets") is not None:
        print(f"    can read secrets: {', '.join(row['readable_secrets']) or '(none)'} (required_secrets)")
    elif row.get("effective_mode") == "shared":
        print("    can read secrets: all (runs Shared, in the orchestrator's process)")
    elif row.get("effective_mode"):
        print("    can read secrets: all (no required_secrets declaration)")
    _print_containment(row)
    for problem in row.get("problems", []):
        print(f"    problem: {problem}")
    plan = row.get("plan")
    if plan and not plan["can_run_shared"]:
        print(f"    plan: cannot run Shared; recommended {plan['recommended_mode']}")


def _worker_text(row: dict[str, Any]) -> str:
    """Where a listed library's nodes run: its worker, in process, or why an Isolated one has no worker."""
    failed = row.get("status") == "failed"
    reason = f"failed: {_brief(row['problems'][0])}" if failed and row.get("problems") else "failed"
    if row.get("worker_id"):
        return f"Worker-{row['worker_id']} ({reason if failed else row.get('worker_state')})"
    if row.get("effective_mode") == "isolated":
        return f"isolated ({reason})" if failed else "isolated (no worker running)"
    if row.get("effective_mode") == "shared":
        return "in process"
    return "none (not loaded)"


def _brief(text: str, limit: int = 200) -> str:
    """A problem on one line: its first line, with the installer's error and cause lines when it ends in a colon."""
    lines = [" ".join(line.split()) for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0]
    if first.endswith(":"):
        first = " ".join([first, *[line for line in lines[1:] if line.lower().startswith(("error", "cause"))]])
    return first if len(first) <= limit else first[: limit - 3] + "..."


# -- containment: `nodeisle libraries limits` (nodeisle.orchestrator.containment) -------------------
def add_containment_commands(lsub: Any) -> None:
    limits = lsub.add_parser("limits", help="limit an Isolated library's memory, CPUs and processes; choose its GPUs")
    limits.add_argument("name")
    limits.add_argument("--memory", metavar="SIZE", help="e.g. 4GiB or 512MiB; the worker is killed past it")
    limits.add_argument("--cpus", metavar="N", type=float, help="CPU time, in CPUs (1.5 = one and a half)")
    limits.add_argument("--max-processes", metavar="N", type=int, help="processes and threads its worker may have")
    limits.add_argument("--gpus", metavar="INDICES|none", help="device indices (0 or 0,1) or none; unset: all")
    limits.add_argument("--clear", action="store_true", help="forget every limit first (alone: no limits)")
    box = lsub.add_parser("sandbox", help="run an Isolated library's worker in a bubblewrap sandbox, or not")
    box.add_argument("name")
    box.add_argument("state", choices=["on", "off", "default"], help="default: the engine's sandbox setting decides")
    box.add_argument("--network", action="store_true", help="let it reach the network (default: none)")


def _set_limits(args: argparse.Namespace, _home: Path, settings: Settings) -> int:
    """Store a library's limits (``--clear`` forgets them first), and say what enforces them here."""
    from nodeisle.orchestrator.cgroups import machine_facts
    from nodeisle.orchestrator.containment import Limits, plan

    if _registered(settings, args.name) is None:
        print(f"error: no registered library named {args.name!r}; add it first with `nodeisle libraries add PATH`",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    current = {} if args.clear else settings.library_limits.get(args.name, Limits()).to_dict()
    given = {"memory": args.memory, "cpus": args.cpus, "max_processes": args.max_processes, "gpus": args.gpus}
    current.update({key: value for key, value in given.items() if value is not None})
    try:
        limits = Limits.from_dict(current, f"library {args.name!r}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if limits.to_dict():
        settings.library_limits[args.name] = limits
    else:
        settings.library_limits.pop(args.name, None)
    settings.save()
    chosen = plan(limits, machine_facts())
    print(f"{args.name!r} limits: {limits.describe()}; gpus: {_gpus_text(limits.to_dict().get('gpus'))}")
    if limits.limits_resources:
        print(f"enforced by {chosen.mechanism} ({chosen.reason}) when it runs Isolated")
    for note in chosen.unenforced:
        print(f"warning: not enforced: {note}", file=sys.stderr)
    return EXIT_OK


def _gpus_text(gpus: str | None) -> str:
    return "all (not set)" if gpus is None else gpus


def _print_containment(row: dict[str, Any]) -> None:
    info = row.get("containment")
    if not info:
        return
    limits = dict(info.get("limits", {}))
    gpus = limits.pop("gpus", None)
    if limits and "mechanism" in info:
        shown = ", ".join(f"{key}={value}" for key, value in limits.items())
        print(f"    limits: {shown}; enforced by {info['mechanism']} ({info['reason']})")
    for note in info.get("unenforced", []):
        print(f"    not enforced: {note}")
    if gpus is not None:
        print(f"    gpus: {gpus} (CUDA_VISIBLE_DEVICES, HIP/ROCR_VISIBLE_DEVICES, ZE_AFFINITY_MASK)")
    box = info.get("sandbox")
    if box:
        network = "with network" if box["network"] else "no network, the bus over a Unix socket"
        print(f"    sandbox: bubblewrap, {network} (set by {box['source']})")


def _set_sandbox(args: argparse.Namespace, _home: Path, settings: Settings) -> int:
    """Store a library's sandbox choice; warn when this machine has no bubblewrap to run it."""
    import shutil

    from nodeisle.orchestrator.sandbox import missing_bwrap_message

    if _registered(settings, args.name) is None:
        print(f"error: no registered library named {args.name!r}; add it first with `nodeisle libraries add PATH`",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.state == "default":
        settings.library_sandbox.pop(args.name, None)
    else:
        settings.library_sandbox[args.name] = {"enabled": args.state == "on", "network": bool(args.network)}
    settings.save()
    if args.state == "on":
        print(f"{args.name!r} will run Isolated in a sandbox ({'with' if args.network else 'no'} network)")
        if shutil.which("bwrap") is None:
            print(f"warning: {missing_bwrap_message(args.name)}", file=sys.stderr)
    else:
        print(f"{args.name!r} sandbox: {args.state}")
    return EXIT_OK


CONTAINMENT_ACTIONS = {"limits": _set_limits, "sandbox": _set_sandbox}
