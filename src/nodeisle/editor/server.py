"""The editor's web server: the built page, and one WebSocket speaking the engine's requests and events.

It listens on 127.0.0.1 only. Every HTTP route and the WebSocket need the token printed on the
editor's first line (``?token=``; the page's own first load sets it as a strict, HttpOnly cookie so
its assets load too), compared in constant time. A request whose ``Host`` is not this server's is
refused (a DNS-rebinding page cannot reach it), and the WebSocket also refuses an ``Origin`` other
than the page's own. Every answer carries a strict Content-Security-Policy. The engine never imports
this module: it subscribes to ``Orchestrator.events`` like any observer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import http.cookies
import json
import logging
import threading
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from nodeisle.flow.graph import RequestFailed
from nodeisle.orchestrator.events import Event, LogLine
from nodeisle.requests import Result

from .session import EditorError, EditorSession
from .wire import BadMessage, decode_request, dumps, event_message, result_message

LOGGER = logging.getLogger("nodeisle.editor")
STATIC = Path(__file__).parent / "static"
BUILD_COMMAND = "npm ci --prefix editor && npm run build --prefix editor"
COOKIE = "nodeisle_editor_token"
LOG_BACKLOG = 500  # log lines a page opened later still gets
PUSH_BATCH = 500  # events sent in one frame at most (a run of many nodes is a burst of events)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def csp(port: int) -> str:
    """Only the page's own scripts, styles and socket; no inline script, no frames, no other origin."""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        f"connect-src ws://127.0.0.1:{port} ws://localhost:{port}; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def not_built_page() -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>nodeisle editor: not built</title></head>"
        "<body><h1>The editor's page is not built</h1><p>This checkout has no built front end in "
        f"<code>{STATIC}</code>. From the repository root run:</p><pre>{BUILD_COMMAND}</pre>"
        "<p>then reload this page.</p></body></html>"
    )


class Guard:
    """ASGI middleware: the token (query or cookie), this server's Host, and for the WebSocket its Origin."""

    def __init__(self, app: ASGIApp, token: str, port: int) -> None:
        self.app, self.token, self.port = app, token, port
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self.origins = {f"http://{host}" for host in self.hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self._refusal(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        LOGGER.warning("editor: refused %s %s: %s", scope["type"], scope.get("path"), refusal)
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
            return
        await Response(f"403 Forbidden: {refusal}\n", status_code=403, media_type="text/plain",
                       headers=self.security_headers())(scope, receive, send)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> str | None:
        if headers.get("host") not in self.hosts:
            return "the Host header is not this editor's address"
        if scope["type"] == "websocket" and headers.get("origin") not in self.origins:
            return f"the Origin {headers.get('origin')!r} is not this editor's page"
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
        cookies = http.cookies.SimpleCookie()
        with contextlib.suppress(http.cookies.CookieError):
            cookies.load(headers.get("cookie", ""))
        given = [*query.get("token", []), *([cookies[COOKIE].value] if COOKIE in cookies else [])]
        if not any(hmac.compare_digest(t.encode(), self.token.encode()) for t in given):
            return "a missing or wrong token; open the address the editor printed"
        return None

    def security_headers(self) -> dict[str, str]:
        return {
            "Content-Security-Policy": csp(self.port),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",  # the address holds the token
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
        }


class Headers:
    """ASGI middleware adding the security headers to every HTTP answer."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


async def _cancel(session: EditorSession, _fields: dict[str, Any]) -> dict[str, Any]:
    session.orchestrator.cancel_runs()
    return {"cancelled": True}


async def _add_library(session: EditorSession, fields: dict[str, Any]) -> Result:
    return await session.add_library(str(fields.get("path", "")))


async def _set_mode(session: EditorSession, fields: dict[str, Any]) -> Result:
    return await session.set_mode(str(fields.get("library", "")), str(fields.get("mode", "")))


async def _remove_library(session: EditorSession, fields: dict[str, Any]) -> dict[str, Any]:
    return await session.remove_library(str(fields.get("library", "")))


async def _run_node(session: EditorSession, fields: dict[str, Any]) -> Result:
    return await session.orchestrator.run_upstream(str(fields.get("node", "")))


#: The editor's actions that are one call each (snapshot, open and save are answered in _reply).
EDITOR_ACTIONS: dict[str, Callable[[EditorSession, dict[str, Any]], Awaitable[dict[str, Any] | Result]]] = {
    "add_library": _add_library,
    "set_mode": _set_mode,
    "remove_library": _remove_library,
    "run_node": _run_node,
    "cancel": _cancel,
}


class EditorServer:
    """The page and the socket for one :class:`EditorSession`; ``app`` is the ASGI application to serve."""

    def __init__(self, session: EditorSession, token: str, port: int) -> None:
        self.session, self.token, self.port = session, token, port
        self.backlog: collections.deque[LogLine] = collections.deque(maxlen=LOG_BACKLOG)
        self._sockets: set[asyncio.Queue[Event]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        routes = [Route("/", self.index), WebSocketRoute("/ws", self.socket)]
        if (STATIC / "assets").is_dir():
            routes.append(Mount("/assets", app=StaticFiles(directory=STATIC / "assets")))
        guard = Guard(Starlette(routes=routes), token, port)
        self.app: ASGIApp = Headers(guard, guard.security_headers())

    def __repr__(self) -> str:
        return f"EditorServer(port={self.port})"

    def attach(self) -> Callable[[], None]:
        """Subscribe to the engine's events (call on the loop that serves)."""
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        return self.session.orchestrator.events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        """Any thread: hand the event to every open socket's queue on the serving loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            self._deliver(event)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: Event) -> None:
        if isinstance(event, LogLine):
            self.backlog.append(event)
        for queue in self._sockets:
            queue.put_nowait(event)

    async def index(self, _request: HttpRequest) -> Response:
        page = STATIC / "index.html"
        if not page.is_file():
            return HTMLResponse(not_built_page(), status_code=503)
        response: Response = FileResponse(page, media_type="text/html")
        response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
        return response

    async def socket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        queue: asyncio.Queue[Event] = asyncio.Queue()
        for line in self.backlog:
            queue.put_nowait(line)
        self._sockets.add(queue)
        pusher = asyncio.create_task(self._push(websocket, queue))
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                text = await websocket.receive_text()
                task = asyncio.create_task(self._answer(websocket, text))  # a run must not block the socket
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except WebSocketDisconnect:
            pass
        finally:
            self._sockets.discard(queue)
            pusher.cancel()
            for task in list(tasks):
                task.cancel()

    async def _push(self, websocket: WebSocket, queue: asyncio.Queue[Event]) -> None:
        """One frame per event, or per burst: what waits in the queue goes in one ``{"events": [...]}`` frame."""
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                batch = [await queue.get()]
                while not queue.empty() and len(batch) < PUSH_BATCH:
                    batch.append(queue.get_nowait())
                if len(batch) == 1:
                    await websocket.send_text(dumps(event_message(batch[0])))
                else:
                    await websocket.send_text(dumps({"events": [event_message(e) for e in batch]}))

    async def _answer(self, websocket: WebSocket, text: str) -> None:
        message_id: Any = None
        try:
            message = json.loads(text)
            if not isinstance(message, dict):
                raise BadMessage("a message is a JSON object with 'id' and 'request' or 'editor'")
            message_id = message.get("id")
            reply = await self._reply(message)
        except (BadMessage, EditorError, RequestFailed, ValueError) as exc:
            reply = {"id": message_id, "error": str(exc)}
        except Exception as exc:  # a bug must still answer the page, which waits for this id
            LOGGER.exception("editor: internal error while answering %s", text[:200])
            reply = {"id": message_id, "error": f"internal error: {type(exc).__name__}: {exc}"}
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.send_text(dumps(reply))

    async def _reply(self, message: dict[str, Any]) -> dict[str, Any]:
        fields = message.get("fields") or {}
        if "request" in message:
            request = decode_request(message["request"], fields)
            return result_message(message.get("id"), await self.session.orchestrator.handle_async(request))
        action = message.get("editor")
        reply: dict[str, Any] | Result
        if action == "snapshot":
            reply = self.session.snapshot()
        elif action == "open_workflow":
            reply = await self.session.open_workflow(str(fields.get("path", "")))
        elif action == "save_workflow":
            positions = fields.get("positions")
            reply = self.session.save_workflow(str(fields.get("path", "")), positions if isinstance(positions, dict)
                                               else None)
        elif action in EDITOR_ACTIONS:
            reply = await EDITOR_ACTIONS[action](self.session, fields)
        else:
            raise BadMessage(
                f"unknown editor action {action!r}; send 'request' with a request class name, or 'editor' with "
                f"snapshot, open_workflow, save_workflow or {', '.join(EDITOR_ACTIONS)}"
            )
        if isinstance(reply, Result):
            return result_message(message.get("id"), reply)
        return {"id": message.get("id"), "reply": reply}
