"""The ``nodeisle`` command line. Exit codes: 0 success, 1 a run or check failed, 2 bad input."""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from nodeisle.cli.output import print_run, run_to_json
from nodeisle.errors import ManifestError, NodeisleError, WorkflowError
from nodeisle.requests import RunFlowResult

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Like asyncio.run, but never waits for threads still running library code (see ``main``)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="node")
    loop.set_default_executor(executor)
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            asyncio.set_event_loop(None)
            loop.close()


def _lingering_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]


def _exit_now(code: int) -> NoReturn:
    """Exit without waiting for threads: a cancelled plain process() may still run in one."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("nodeisle")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    root.propagate = False
    for name in ("nodeisle.worker", "nodeisle.progress"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)


def _config_flags(args: argparse.Namespace) -> dict[str, Any]:
    """``-c KEY=VALUE`` flags: the highest config layer, for this command only."""
    from nodeisle.config.store import parse_flags

    return parse_flags(getattr(args, "config_flags", None))


def _mode_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from nodeisle.config.settings import LibraryMode

    modes = {name: LibraryMode.SHARED for name in args.shared or []}
    modes.update({name: LibraryMode.ISOLATED for name in args.isolated or []})
    return modes


# -- run ------------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from nodeisle.flow.workflow import load_workflow, run_workflow
    from nodeisle.orchestrator.engine import build_orchestrator

    try:
        workflow = load_workflow(args.workflow)
    except WorkflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.all_isolated:
        from nodeisle.config.settings import LibraryMode
        from nodeisle.manifest import load_manifest

        for path in workflow.libraries:
            # A broken manifest is reported, with the field, when the workflow registers it.
            with contextlib.suppress(ManifestError):
                workflow.library_modes[load_manifest(path).name] = LibraryMode.ISOLATED

    async def main() -> RunFlowResult | None:
        async with build_orchestrator(config_flags=_config_flags(args)) as orchestrator:
            loop, task = asyncio.get_running_loop(), asyncio.current_task()
            interrupts = []

            def on_interrupt() -> None:
                # First Ctrl-C: cancel the run (in-flight executions are cancelled in their workers).
                # Before the run starts, or on a second Ctrl-C: stop everything now.
                interrupts.append(1)
                print("\ninterrupted: cancelling the run", file=sys.stderr)
                orchestrator.cancel_runs()
                if len(interrupts) > 1 or not running:
                    assert task is not None
                    task.cancel()

            running: list[bool] = []
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGINT, on_interrupt)
            try:
                return await run_workflow(orchestrator, workflow, _mode_overrides(args), running.append)
            except asyncio.CancelledError:
                return None
            finally:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signal.SIGINT)

    try:
        result = _run(main())
    except (WorkflowError, NodeisleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if result is None:
        print("run cancelled before it started", file=sys.stderr)
        _exit_now(EXIT_INTERRUPTED)
    if args.json:
        print(json.dumps(run_to_json(result), indent=2))
    else:
        print_run(result)
    if result.status == "cancelled":
        _exit_now(EXIT_INTERRUPTED)
    return EXIT_OK if result.status == "succeeded" else EXIT_FAILED


# -- libraries ------------------------------------------------------------------------------------
def cmd_libraries(args: argparse.Namespace) -> int:
    from nodeisle.config.settings import LibraryMode, Settings, engine_home
    from nodeisle.flow.graph import RequestFailed
    from nodeisle.manifest import load_manifest
    from nodeisle.orchestrator.engine import build_orchestrator
    from nodeisle.orchestrator.libraries import resolve_mode, same_name_as

    home = engine_home()
    settings = Settings.load(home)
    if args.action == "add":
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
    if args.action == "remove":
        for path in list(settings.libraries):
            try:
                name = load_manifest(path).name
            except ManifestError:
                name = None
            if args.name in (name, path):
                settings.libraries.remove(path)
                settings.library_modes.pop(args.name, None)
                settings.save()
                print(f"removed {args.name!r}")
                return EXIT_OK
        print(f"error: no registered library named {args.name!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.action == "mode":
        mode = LibraryMode.parse(args.mode)  # a wrong word: a ValueError listing both, bad input (main)
        for path in settings.libraries:
            try:
                manifest = load_manifest(path)
            except ManifestError:
                continue
            if manifest.name == args.name:
                try:
                    resolve_mode(manifest, mode)
                except RequestFailed as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return EXIT_BAD_INPUT
                settings.library_modes[args.name] = mode
                settings.save()
                print(f"{args.name!r} will run {mode}")
                return EXIT_OK
        print(
            f"error: no registered library named {args.name!r}; add it first with `nodeisle libraries add PATH`",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT

    async def listing() -> list[Any]:
        from nodeisle.requests import ListRegisteredLibrariesRequest, RegisterLibraryRequest

        rows: list[Any] = []
        async with build_orchestrator(home, settings, _config_flags(args)) as orchestrator:
            for path in settings.libraries:
                result = await orchestrator.handle_async(RegisterLibraryRequest(path=path))
                if not result.succeeded and not getattr(result, "library_name", None):
                    rows.append({"name": "?", "path": path, "status": "failed", "problems": [result.message]})
            listed = await orchestrator.handle_async(ListRegisteredLibrariesRequest())
            rows.extend(vars(info) for info in getattr(listed, "libraries", []))
        return rows

    rows = _run(listing())
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no libraries registered; add one with `nodeisle libraries add PATH`")
    for row in rows:
        worker = _worker_text(row)
        print(f"{row['name']}  [{row['status']}]  {row['path']}")
        print(
            f"    compatibility={row.get('compatibility')}  suggested={row.get('suggested_mode')}  "
            f"effective={row.get('effective_mode')}  worker={worker}"
        )
        if row.get("readable_secrets") is not None:
            print(f"    can read secrets: {', '.join(row['readable_secrets']) or '(none)'} (required_secrets)")
        elif row.get("effective_mode") == "shared":
            print("    can read secrets: all (runs Shared, in the orchestrator's process)")
        elif row.get("effective_mode"):
            print("    can read secrets: all (no required_secrets declaration)")
        for problem in row.get("problems", []):
            print(f"    problem: {problem}")
    return EXIT_OK


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


# -- config and secrets (no workers run in this process, so there is nothing to broadcast) --------
def cmd_config(args: argparse.Namespace) -> int:
    from nodeisle.config.settings import engine_home
    from nodeisle.config.store import CONFIG_FILE, ConfigStore

    store = ConfigStore(engine_home() / CONFIG_FILE, flags=_config_flags(args))
    if args.action == "get":
        print(json.dumps(store.get(args.key)))
    elif args.action == "set":
        value = store.set(args.key, args.value, text=True)
        print(f"{args.key} = {json.dumps(value)} in {store.path}")
        shadow = store.shadowed_by(args.key)
        if shadow is not None:
            print(f"note: the {shadow} layer still decides {args.key}: {json.dumps(store.get(args.key))}")
    elif args.action == "reset":
        removed = store.reset(args.key)
        print(f"reset {', '.join(removed)}" if removed else "nothing to reset")
    else:
        entries = store.entries()
        if args.json:
            print(json.dumps([{"key": e.key, "value": e.value, "source": str(e.source)} for e in entries], indent=2))
        for entry in [] if args.json else entries:
            print(f"{entry.key} = {json.dumps(entry.value)}  ({entry.source})")
    return EXIT_OK


def cmd_secrets(args: argparse.Namespace) -> int:
    """Names and sources only: no secret value is ever printed."""
    import getpass

    from nodeisle.config.secrets import SECRETS_FILE, SecretsStore
    from nodeisle.config.settings import engine_home

    store = SecretsStore(engine_home() / SECRETS_FILE)
    if args.action == "set":
        value = args.value
        if value is None:  # not on the command line, where `ps` and shell history would see it
            value = getpass.getpass(f"{args.key}: ") if sys.stdin.isatty() else sys.stdin.read().rstrip("\r\n")
        store.write_file_value(args.key, value)
        print(f"set {args.key} in {store.path}")
        if store.is_operator_set(args.key):
            print(f"note: {args.key} is also set in this environment; an engine started from it uses that value")
    elif args.action == "delete":
        if not store.remove_file_value(args.key):
            print(f"error: no secret named {args.key!r} in {store.path}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"deleted {args.key} from {store.path}")
    else:
        infos = store.describe()
        if args.json:
            print(json.dumps([{"name": i.name, "source": i.source} for i in infos], indent=2))
        elif not infos:
            print(f"no secrets in {store.path}; add one with `nodeisle secrets set KEY`")
        for info in [] if args.json else infos:
            print(f"{info.name}  ({info.source})")
    return EXIT_OK


# -- envs and schema ------------------------------------------------------------------------------
def cmd_envs(args: argparse.Namespace) -> int:
    from nodeisle.orchestrator.engine import build_orchestrator

    orchestrator = build_orchestrator(config_flags=_config_flags(args))
    envs = orchestrator.envs
    if args.action == "list":
        found = envs.list()
        if not found:
            print("no environments built yet")
        for info in found:
            print(f"{info.library}  {info.path}  pins={list(info.pip_dependencies)}  created {_when(info.created_at)}")
        return EXIT_OK
    if args.action == "prune":
        from nodeisle.manifest import load_manifest

        keep = []
        for info in envs.list():
            keep.append(info.key) if _current(info, load_manifest, orchestrator) else None
        for path in envs.prune(keep):
            print(f"removed {path}")
        return EXIT_OK
    from nodeisle import __file__ as package_file
    from nodeisle.manifest import load_manifest
    from nodeisle.orchestrator.hosts import RUNTIME_REQUIREMENTS

    for path in orchestrator.settings.libraries:
        manifest = load_manifest(path)
        if manifest.name == args.name:
            deps = manifest.dependencies
            info = envs.rebuild(
                manifest.name,
                list(deps.pip_dependencies),
                list(deps.pip_install_flags),
                list(RUNTIME_REQUIREMENTS),
                Path(package_file).parent,
            )
            print(f"rebuilt {manifest.name!r} at {info.path}")
            return EXIT_OK
    print(f"error: no registered library named {args.name!r}", file=sys.stderr)
    return EXIT_BAD_INPUT


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


def _current(info: Any, load_manifest: Any, orchestrator: Any) -> bool:
    """Whether ``info`` is the environment a registered library would use now."""
    for path in orchestrator.settings.libraries:
        try:
            manifest = load_manifest(path)
        except ManifestError:
            continue
        if manifest.name == info.library and tuple(manifest.dependencies.pip_dependencies) == tuple(
            info.pip_dependencies
        ):
            return True
    return False


def cmd_schema(args: argparse.Namespace) -> int:
    from nodeisle.manifest import manifest_json_schema

    print(json.dumps(manifest_json_schema(), indent=2))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from nodeisle.check.observe import check_library

    report = _run(check_library(args.library, shared=args.shared, config_flags=_config_flags(args)))
    print(report.to_json() if args.json else "\n".join(report.lines()))
    return report.exit_code


def cmd_bench(args: argparse.Namespace) -> int:
    from nodeisle import bench

    if bench.unknown_rows(args.only or []):
        print(f"error: no bench row matches {bench.unknown_rows(args.only)}; rows: {', '.join(bench.ROW_IDS)}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.verbose:  # env-build progress lines would bury the bench's own
        logging.getLogger("nodeisle.progress").setLevel(logging.WARNING)
    rows = _run(bench.run_suite(quick=args.quick, only=args.only or []))
    print(bench.table(rows))
    if args.json_out:
        command = " ".join(["nodeisle", *sys.argv[1:]])
        document = bench.to_json(rows, quick=args.quick, only=args.only or [], command=command)
        Path(args.json_out).write_text(json.dumps(document, indent=2) + "\n")
    return EXIT_OK

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nodeisle", description="Run node-graph workflows; libraries Shared or Isolated."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log engine internals")
    parser.add_argument(
        "-c",
        "--config",
        dest="config_flags",
        action="append",
        metavar="KEY=VALUE",
        help="a config value for this command only; wins over config.json and NODEISLE_* (docs/config.md)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    config = sub.add_parser("config", help="engine settings: config.json, NODEISLE_* and -c flags")
    csub = config.add_subparsers(dest="action", required=True)
    clist = csub.add_parser("list", help="every setting, its effective value and where it comes from")
    clist.add_argument("--json", action="store_true")
    csub.add_parser("get", help="print a setting's effective value as JSON").add_argument("key")
    cset = csub.add_parser("set", help="store a value in config.json")
    cset.add_argument("key")
    cset.add_argument("value", help="as text: 2.5, true, a:b for paths, or JSON for a library setting")
    csub.add_parser("reset", help="remove a key (or, without one, every key) from config.json").add_argument(
        "key", nargs="?"
    )
    config.set_defaults(func=cmd_config)

    secrets = sub.add_parser("secrets", help="the .env secrets file; values are never printed")
    ssub = secrets.add_subparsers(dest="action", required=True)
    ssub.add_parser("list", help="secret names and where their values come from").add_argument(
        "--json", action="store_true"
    )
    sset = ssub.add_parser("set", help="store a secret in .env")
    sset.add_argument("key")
    sset.add_argument("value", nargs="?", help="omit it to type it (or pipe it on stdin) instead of argv")
    ssub.add_parser("delete", help="remove a secret from .env").add_argument("key")
    secrets.set_defaults(func=cmd_secrets)

    run = sub.add_parser("run", help="run a workflow file")
    run.add_argument("workflow", help="path to a workflow JSON file")
    run.add_argument("--json", action="store_true", help="print one JSON document with every node's result")
    run.add_argument("--isolated", action="append", metavar="LIBRARY", help="run this library Isolated for this run")
    run.add_argument("--shared", action="append", metavar="LIBRARY", help="run this library Shared for this run")
    run.add_argument("--all-isolated", action="store_true", help="run every library of the workflow Isolated")
    run.set_defaults(func=cmd_run)

    libs = sub.add_parser("libraries", help="register libraries and choose their mode")
    lsub = libs.add_subparsers(dest="action", required=True)
    listing = lsub.add_parser("list", help="load the registered libraries and show their state")
    listing.add_argument("--json", action="store_true")
    lsub.add_parser("add", help="register a library").add_argument("path")
    lsub.add_parser("remove", help="unregister a library").add_argument("name")
    mode = lsub.add_parser("mode", help="choose Shared or Isolated for a library")
    mode.add_argument("name")
    mode.add_argument("mode", metavar="{shared,isolated}", help="any case; anything else is refused, naming both")
    libs.set_defaults(func=cmd_libraries)

    envs = sub.add_parser("envs", help="manage isolated libraries' virtualenvs")
    esub = envs.add_subparsers(dest="action", required=True)
    esub.add_parser("list")
    esub.add_parser("rebuild").add_argument("name")
    esub.add_parser("prune")
    envs.set_defaults(func=cmd_envs)

    schema = sub.add_parser("schema", help="print a JSON Schema")
    schema.add_argument("what", choices=["manifest"])
    schema.set_defaults(func=cmd_schema)

    check = sub.add_parser(
        "check", help="is a library isolation-ready? the checklist, PASS / WARN / FAIL / SKIP per item"
    )
    check.add_argument("library", help="path to a library folder or its griptape-nodes-library.json")
    check.add_argument("--json", action="store_true", help="print the report as one JSON document")
    check.add_argument("--shared", action="store_true", help="load the library in this process, not in a worker")
    check.set_defaults(func=cmd_check)

    bench = sub.add_parser("bench", help="measure the cost of isolation against floors (docs/performance.md)")
    bench.add_argument("--quick", action="store_true", help="a seconds-long smoke run (small reps, no 100 MB rows)")
    bench.add_argument("--json-out", metavar="PATH", help="also write the raw figures as JSON to PATH")
    bench.add_argument("--only", nargs="+", metavar="ROW", help="run only these rows (an id or an id prefix)")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        code: int = args.func(args)
    except NodeisleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # e.g. NODEISLE_HOME is a file, or not writable
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if _lingering_threads():  # a cancelled or overrun plain process() cannot be stopped: do not wait for it
        _exit_now(code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
