"""Serving the editor: the engine and uvicorn on one event loop, the address line, Ctrl-C.

``nodeisle editor`` (cli/editor.py) calls :func:`serve_editor` inside ``async with orchestrator``:
leaving it stops every worker, so Ctrl-C leaves none behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import socket
import sys
import webbrowser
from collections.abc import Generator
from pathlib import Path
from typing import TextIO

import uvicorn

from nodeisle.orchestrator.engine import Orchestrator
from nodeisle.orchestrator.events import LogForwarder

from .server import BUILD_COMMAND, STATIC, EditorServer
from .session import EditorSession

LOGGER = logging.getLogger("nodeisle.editor")


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: the editor's Ctrl-C handler stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port`` 0: any free port), bound before the address is printed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; choose another --port") from None
    sock.listen(64)
    sock.setblocking(False)
    return sock


async def serve_editor(
    orchestrator: Orchestrator, workflow: Path | None, sock: socket.socket, *, open_browser: bool,
    out: TextIO = sys.stdout,
) -> None:
    """Serve until Ctrl-C (SIGINT) or SIGTERM; the first line on ``out`` is the editor's address."""
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    session = EditorSession(orchestrator)
    editor = EditorServer(session, token, port)
    unsubscribe = editor.attach()
    detach = LogForwarder(orchestrator.events).attach()
    server = _Server(uvicorn.Config(editor.app, log_level="warning", lifespan="off", ws="websockets-sansio"))
    loop = asyncio.get_running_loop()

    def stop() -> None:
        orchestrator.cancel_runs()
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if serving.done():
            await serving  # it failed to start: raise why
            return
        url = f"http://127.0.0.1:{port}/?token={token}"
        print(f"nodeisle editor: {url}", file=out, flush=True)
        if not (STATIC / "index.html").is_file():
            LOGGER.warning("the editor's page is not built; run `%s` from the repository root", BUILD_COMMAND)
        if open_browser:
            webbrowser.open(url)
        loading = asyncio.create_task(session.start(workflow))
        await serving
        loading.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await loading
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await serving
        detach()
        unsubscribe()
