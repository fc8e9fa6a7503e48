"""The ``nodeisle`` command line. Exit codes: 0 success, 1 a run or check failed, 2 bad input."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from nodeisle._errors import ManifestError, NodeisleError, WorkflowError
from nodeisle.requests import NodeRunResult, RunFlowResult

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


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


def _mode_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from nodeisle.orchestrator.settings import LibraryMode

    modes = {name: LibraryMode.SHARED for name in args.shared or []}
    modes.update({name: LibraryMode.ISOLATED for name in args.isolated or []})
    return modes


# -- run ------------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from nodeisle.orchestrator.engine import build_orchestrator
    from nodeisle.orchestrator.workflow import load_workflow, run_workflow

    try:
        workflow = load_workflow(args.workflow)
    except WorkflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.all_isolated:
        from nodeisle.manifest import load_manifest
        from nodeisle.orchestrator.settings import LibraryMode

        for path in workflow.libraries:
            # A broken manifest is reported, with the field, when the workflow registers it.
            with contextlib.suppress(ManifestError):
                workflow.library_modes[load_manifest(path).name] = LibraryMode.ISOLATED

    async def main() -> RunFlowResult | None:
        async with build_orchestrator() as orchestrator:
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
        result = asyncio.run(main())
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


def to_display(value: Any) -> Any:
    """A JSON-able rendering of an output value for ``--json``."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): to_display(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_display(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        import base64

        data = bytes(value)
        return {
            "$type": "bytes",
            "length": len(data),
            "base64": base64.b64encode(data[:4096]).decode(),
            "truncated": len(data) > 4096,
        }
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        return {"$type": "ndarray", "dtype": str(value.dtype), "shape": list(shape)}
    return {"$type": type(value).__name__, "repr": repr(value)[:200]}


def run_to_json(result: RunFlowResult) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    for name, node in result.nodes.items():
        error = None
        if node.error is not None:
            error = {"type": node.error.type, "message": node.error.message, "traceback": node.error.traceback}
        nodes[name] = {
            "status": node.status,
            "outputs": to_display(node.outputs),
            "error": error,
            "violations": node.violations,
        }
    return {"status": result.status, "nodes": nodes}


def print_run(result: RunFlowResult) -> None:
    marks = {"succeeded": "ok", "failed": "FAILED", "skipped": "skipped", "cancelled": "cancelled"}
    width = max((len(n) for n in result.nodes), default=4)
    for name, node in result.nodes.items():
        print(f"{marks.get(node.status, node.status):>9}  {name:<{width}}  {_summary(node)}")
        for violation in node.violations:
            print(f"{'':>9}  {'':<{width}}  [{violation['severity']}] {violation['rule_id']}: {violation['message']}")
            print(f"{'':>9}  {'':<{width}}      fix: {violation['remediation']}")
        if node.status == "failed" and node.error is not None and node.error.traceback:
            for line in node.error.traceback.rstrip().splitlines():
                print(f"{'':>9}  {'':<{width}}  | {line}")
    print(f"run {result.status}: {result.message}")


def _summary(node: NodeRunResult) -> str:
    if node.status == "succeeded":
        return "  ".join(f"{k}={_short(v)}" for k, v in node.outputs.items()) or "(no outputs)"
    return f"{node.error.type}: {node.error.message}" if node.error else ""


def _short(value: Any) -> str:
    text = json.dumps(to_display(value))
    return text if len(text) <= 80 else text[:77] + "..."


# -- libraries ------------------------------------------------------------------------------------
def cmd_libraries(args: argparse.Namespace) -> int:
    from nodeisle.manifest import load_manifest
    from nodeisle.orchestrator.engine import build_orchestrator, resolve_mode
    from nodeisle.orchestrator.graph import RequestFailed
    from nodeisle.orchestrator.settings import LibraryMode, Settings, engine_home

    home = engine_home()
    settings = Settings.load(home)
    if args.action == "add":
        manifest = load_manifest(args.path)
        path = str(manifest.path)
        if path not in settings.libraries:
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
        mode = LibraryMode.parse(args.mode)
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
        async with build_orchestrator(home, settings) as orchestrator:
            for path in settings.libraries:
                result = await orchestrator.handle_async(RegisterLibraryRequest(path=path))
                if not result.succeeded and not getattr(result, "library_name", None):
                    rows.append({"name": "?", "path": path, "status": "failed", "problems": [result.message]})
            listed = await orchestrator.handle_async(ListRegisteredLibrariesRequest())
            rows.extend(vars(info) for info in getattr(listed, "libraries", []))
        return rows

    rows = asyncio.run(listing())
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no libraries registered; add one with `nodeisle libraries add PATH`")
    for row in rows:
        worker = f"Worker-{row['worker_id']} ({row['worker_state']})" if row.get("worker_id") else "in process"
        print(f"{row['name']}  [{row['status']}]  {row['path']}")
        print(
            f"    compatibility={row.get('compatibility')}  suggested={row.get('suggested_mode')}  "
            f"effective={row.get('effective_mode')}  worker={worker}"
        )
        if row.get("readable_secrets") is not None:
            print(f"    can read secrets: {', '.join(row['readable_secrets']) or '(none)'}")
        for problem in row.get("problems", []):
            print(f"    problem: {problem}")
    return EXIT_OK


# -- envs and schema ------------------------------------------------------------------------------
def cmd_envs(args: argparse.Namespace) -> int:
    from nodeisle.orchestrator.engine import build_orchestrator

    orchestrator = build_orchestrator()
    envs = orchestrator.envs
    if args.action == "list":
        found = envs.list()
        if not found:
            print("no environments built yet")
        for info in found:
            print(f"{info.library}  {info.path}  pins={list(info.pip_dependencies)}  created={info.created_at}")
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
    from nodeisle.orchestrator.check import check_library

    report = asyncio.run(check_library(args.library, shared=args.shared))
    print(report.to_json() if args.json else "\n".join(report.lines()))
    return report.exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nodeisle", description="Run node-graph workflows; libraries Shared or Isolated."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log engine internals")
    sub = parser.add_subparsers(dest="command", required=True)

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
    mode.add_argument("mode", choices=["shared", "isolated"])
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

    check = sub.add_parser("check", help="is a library isolation-ready? the checklist, PASS / WARN / FAIL per item")
    check.add_argument("library", help="path to a library folder or its griptape-nodes-library.json")
    check.add_argument("--json", action="store_true", help="print the report as one JSON document")
    check.add_argument("--shared", action="store_true", help="load the library in this process, not in a worker")
    check.set_defaults(func=cmd_check)
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
    return code


if __name__ == "__main__":
    raise SystemExit(main())
