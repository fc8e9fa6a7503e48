"""``nodeisle editor [WORKFLOW] [--port N] [--no-browser]``: the engine and the web editor in one process."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nodeisle.cli.common import EXIT_BAD_INPUT, EXIT_OK, config_flags, run_async

INSTALL_HINT = 'the editor needs its extra: pip install "nodeisle[editor]" (from a clone: pip install -e ".[editor]")'


def cmd_editor(args: argparse.Namespace) -> int:
    try:
        from nodeisle.editor.serve import bind, serve_editor
    except ImportError as exc:  # starlette or uvicorn missing
        print(f"error: {exc}; {INSTALL_HINT}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from nodeisle.orchestrator.engine import build_orchestrator

    workflow = Path(args.workflow).resolve() if args.workflow else None
    if workflow is not None and not workflow.is_file():
        print(f"error: {workflow}: no such workflow file", file=sys.stderr)
        return EXIT_BAD_INPUT
    sock = bind(args.port)

    async def main() -> None:
        async with build_orchestrator(config_flags=config_flags(args)) as orchestrator:
            await serve_editor(orchestrator, workflow, sock, open_browser=not args.no_browser)

    try:
        run_async(main())
    finally:
        sock.close()
    print("nodeisle editor: stopped", file=sys.stderr)
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    editor = sub.add_parser("editor", help="open the web editor (127.0.0.1 only) on the engine of this process")
    editor.add_argument("workflow", nargs="?", help="a workflow JSON file to open")
    editor.add_argument("--port", type=int, default=0, help="the port on 127.0.0.1 (default: any free port)")
    editor.add_argument("--no-browser", action="store_true", help="print the address but do not open a browser")
    editor.set_defaults(func=cmd_editor)
