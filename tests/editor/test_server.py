"""The editor's server: the token on every route and the socket, the Host and Origin checks, the CSP,
the page of a checkout never built, and the request model over the WebSocket."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets

from nodeisle.editor import server as server_module
from nodeisle.editor.server import EditorServer, csp
from nodeisle.editor.session import EditorSession
from nodeisle.orchestrator.engine import build_orchestrator
from tests.conftest import TEXT_TOOLS, run
from tests.editor.conftest import EditorProcess


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def _socket_url(editor: EditorProcess, token: str) -> str:
    return f"ws://127.0.0.1:{editor.port}/ws?token={token}"


async def _refused(url: str, origin: str) -> int:
    try:
        async with websockets.connect(url, origin=origin, open_timeout=10):  # type: ignore[arg-type]
            return 101
    except websockets.InvalidStatus as exc:
        return int(exc.response.status_code)


def test_every_route_needs_the_token(editor: EditorProcess) -> None:
    base = f"http://127.0.0.1:{editor.port}"
    status, headers, body = _get(editor.url)
    assert status == 200 and "<div id=\"root\">" in body
    assert headers["content-security-policy"] == csp(editor.port)
    assert "script-src 'self'" in headers["content-security-policy"] and "unsafe" not in headers["content-security-policy"]
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    for url in (f"{base}/", f"{base}/?token=wrong", f"{base}/assets/anything.js", f"{base}/?token={editor.token}x"):
        status, headers, body = _get(url)
        assert status == 403, url
        assert "wrong token" in body and headers["content-security-policy"] == csp(editor.port)
    # The cookie the page got lets its assets load without the token in their address.
    name_value = cookie.split(";")[0]
    assert _get(f"{base}/", {"Cookie": name_value})[0] == 200


def test_a_foreign_host_is_refused_even_with_the_token(editor: EditorProcess) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own host name: refused."""
    status, _headers, body = _get(editor.url, {"Host": f"evil.example:{editor.port}"})
    assert status == 403 and "Host" in body


def test_the_websocket_needs_the_token_and_this_page_as_origin(editor: EditorProcess) -> None:
    async def body() -> None:
        assert await _refused(_socket_url(editor, "wrong"), editor.origin) == 403
        assert await _refused(_socket_url(editor, editor.token), "http://evil.example") == 403
        assert await _refused(_socket_url(editor, editor.token), f"http://127.0.0.1:{editor.port + 1}") == 403
        async with websockets.connect(_socket_url(editor, editor.token), origin=editor.origin) as socket:  # type: ignore[arg-type]
            await socket.send(json.dumps({"id": 1, "request": "ListFlowsRequest", "fields": {}}))
            await socket.send(json.dumps({"id": 2, "request": "RegisterLibraryRequest", "fields": {"path": str(TEXT_TOOLS)}}))
            await socket.send(json.dumps({"id": 3, "request": "NoSuchRequest"}))
            await socket.send(json.dumps({"id": 4, "request": "CreateFlowRequest", "fields": {"flow": "x"}}))
            replies: dict[int, Any] = {}
            events: list[str] = []
            while len(replies) < 4 or "LibraryChanged" not in events:
                message = json.loads(await asyncio.wait_for(socket.recv(), 20))
                if "event" in message or "events" in message:
                    events += [e["event"] for e in message.get("events", [message])]
                else:
                    replies[message["id"]] = message
        assert replies[1]["result"] == "ListFlowsResult" and replies[1]["fields"]["flow_names"] == ["editor"]
        assert replies[2]["result"] == "RegisterLibraryResult" and replies[2]["fields"]["library_name"] == "Text Tools"
        assert "unknown request 'NoSuchRequest'" in replies[3]["error"] and "RunFlowRequest" in replies[3]["error"]
        assert "CreateFlowRequest has no field 'flow'; its fields are: flow_name" in replies[4]["error"]
        assert "LibraryChanged" in events

    run(body(), timeout=60)


def test_a_checkout_never_built_answers_with_the_command_to_run(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "STATIC", tmp_path / "missing")

    async def body() -> tuple[int, str]:
        async with build_orchestrator() as orchestrator:
            app = EditorServer(EditorSession(orchestrator), "tok", 8123).app
            sent: list[dict[str, Any]] = []
            scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "query_string": b"token=tok",
                     "headers": [(b"host", b"127.0.0.1:8123")], "scheme": "http", "server": ("127.0.0.1", 8123),
                     "root_path": "", "http_version": "1.1"}

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: Any) -> None:
                sent.append(dict(message))

            await app(scope, receive, send)
            return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]).decode()

    status, page = run(body())
    assert status == 503
    assert "npm ci --prefix editor &amp;&amp; npm run build --prefix editor" in page or \
        "npm ci --prefix editor && npm run build --prefix editor" in page
