"""The ``nodeisle`` command line. Exit codes: 0 success, 1 a run or check failed, 2 bad input."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nodeisle.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    config_flags,
    exit_now,
    lingering_threads,
    run_async,
)
from nodeisle.cli.editor import add_parser as add_editor_parser
from nodeisle.cli.envs import cmd_envs, cmd_plan
from nodeisle.cli.libraries import add_containment_commands, cmd_libraries
from nodeisle.cli.output import print_run, run_to_json
from nodeisle.errors import ManifestError, NodeisleError, WorkflowError
from nodeisle.requests import RunFlowResult


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("nodeisle")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    root.propagate = False
    for name in ("nodeisle.worker", "nodeisle.progress", "nodeisle.editor"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)


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
        from nodeisle.config.settings import LibraryMode, Settings, engine_home
        from nodeisle.manifest import load_manifest

        registered = [Path(p) for p in Settings.load(engine_home()).libraries]
        for path in [*workflow.libraries, *registered]:
            # A broken manifest is reported, with the field, when the workflow registers it.
            with contextlib.suppress(ManifestError):
                workflow.library_modes[load_manifest(path).name] = LibraryMode.ISOLATED

    async def main() -> RunFlowResult | None:
        async with build_orchestrator(config_flags=config_flags(args)) as orchestrator:
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
        result = run_async(main())
    except (WorkflowError, NodeisleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if result is None:
        print("run cancelled before it started", file=sys.stderr)
        exit_now(EXIT_INTERRUPTED)
    if args.json:
        print(json.dumps(run_to_json(result), indent=2))
    else:
        print_run(result)
    if result.status == "cancelled":
        exit_now(EXIT_INTERRUPTED)
    return EXIT_OK if result.status == "succeeded" else EXIT_FAILED


# -- config and secrets (no workers run in this process, so there is nothing to broadcast) --------
def cmd_config(args: argparse.Namespace) -> int:
    from nodeisle.config.settings import engine_home
    from nodeisle.config.store import CONFIG_FILE, ConfigStore

    store = ConfigStore(engine_home() / CONFIG_FILE, flags=config_flags(args))
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


def cmd_schema(args: argparse.Namespace) -> int:
    from nodeisle.manifest import manifest_json_schema

    print(json.dumps(manifest_json_schema(), indent=2))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from nodeisle.check.observe import check_library

    report = run_async(check_library(args.library, shared=args.shared, config_flags=config_flags(args)))
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
    rows = run_async(bench.run_suite(quick=args.quick, only=args.only or []))
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
    python = lsub.add_parser("python", help="choose the Python an Isolated library's environment is built on")
    python.add_argument("name")
    python.add_argument(
        "python", metavar="VERSION|PATH|default",
        help="a version (3.12: the newest 3.12 found), an interpreter's absolute path, "
        "or default (requires-python decides)",
    )
    add_containment_commands(lsub)
    libs.set_defaults(func=cmd_libraries)

    envs = sub.add_parser("envs", help="manage isolated libraries' virtualenvs")
    esub = envs.add_subparsers(dest="action", required=True)
    esub.add_parser("list", help="each env, the libraries using it, its size on disk")
    esub.add_parser("rebuild", help="resolve a library's pins again (unless locked) and rebuild its env").add_argument(
        "name")
    esub.add_parser("lock", help="write the set a library's env holds to nodeisle.lock beside its manifest"
                    ).add_argument("name")
    esub.add_parser("prune", help="remove envs no registered library maps to")
    envs.set_defaults(func=cmd_envs)

    plan = sub.add_parser("plan", help="which libraries' pins conflict, and where each can run (Shared/Isolated)")
    plan.add_argument("workflow", nargs="?", help="plan this workflow's libraries (default: the registered ones)")
    plan.add_argument("--json", action="store_true", help="print the plan as one JSON document")
    plan.set_defaults(func=cmd_plan)

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
    add_editor_parser(sub)
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
    if lingering_threads():  # a cancelled or overrun plain process() cannot be stopped: do not wait for it
        exit_now(code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
