"""The WebSocket transport with real websockets on 127.0.0.1: admission, loopback, no compression, chunking."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
import websockets
from websockets.asyncio.client import connect as raw_connect

from nodeisle.bus import ws
from nodeisle.bus.peer import Peer
from nodeisle.bus.protocol import PROTOCOL_VERSION, VERSION_HEADER, Frame
from nodeisle.errors import HandshakeRefused

T = TypeVar("T")
TOKEN = "s3cret-token-for-tests"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 10))


async def echo(name: str, payload: Any) -> Any:
    return {"name": name, "payload": payload}


class Orchestrator:
    """Accepts workers: one Peer per admitted connection, answering with ``echo``."""

    def __init__(self) -> None:
        self.peers: asyncio.Queue[tuple[Peer, str, ws.WebSocketTransport]] = asyncio.Queue()

    async def on_connect(self, transport: ws.WebSocketTransport, worker_id: str) -> None:
        peer = Peer(transport, echo, name=f"orchestrator<->{worker_id}")
        peer.start()
        await self.peers.put((peer, worker_id, transport))
        await peer.closed


@asynccontextmanager
async def bus_server() -> AsyncIterator[tuple[ws.BusServer, Orchestrator]]:
    orchestrator = Orchestrator()
    server = await ws.serve(TOKEN, orchestrator.on_connect)
    try:
        yield server, orchestrator
    finally:
        await server.close()


class Sizes:
    """A transport wrapper that records the size of every frame it sends."""

    def __init__(self, inner: ws.WebSocketTransport) -> None:
        self.inner = inner
        self.sizes: list[int] = []

    async def send(self, frame: Frame) -> None:
        self.sizes.append(len(frame) if isinstance(frame, str) else memoryview(frame).nbytes)
        await self.inner.send(frame)

    async def recv(self) -> str | bytes:
        return await self.inner.recv()

    async def close(self) -> None:
        await self.inner.close()


def test_worker_and_orchestrator_peers_round_trip_both_ways() -> None:
    async def body() -> None:
        async with bus_server() as (server, orchestrator):
            transport = await ws.connect(server.url, TOKEN, "w-1")
            worker = Peer(transport, echo, name="worker")
            worker.start()
            assert await worker.request("hello", [1, b"two"]) == {"name": "hello", "payload": [1, b"two"]}
            other_side, worker_id, _ = await orchestrator.peers.get()
            assert worker_id == "w-1"
            assert await other_side.request("back", (3,)) == {"name": "back", "payload": (3,)}
            await worker.close()
            assert await asyncio.wait_for(other_side.closed, 5)

    run(body())


def test_wrong_token_is_refused_with_http_401_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        async with bus_server() as (server, orchestrator):
            with pytest.raises(HandshakeRefused, match="HTTP 401") as caught:
                await ws.connect(server.url, "not-the-token", "w-1")
            assert "token" in str(caught.value)
            assert orchestrator.peers.empty()

    with caplog.at_level(logging.WARNING, logger="nodeisle.bus"):
        run(body())
    refusals = [r for r in caplog.records if r.name == "nodeisle.bus" and r.levelno == logging.WARNING]
    assert any("wrong token" in r.getMessage() for r in refusals)
    assert TOKEN not in caplog.text and "not-the-token" not in caplog.text


def test_empty_token_is_refused_with_http_401() -> None:
    async def body() -> None:
        async with bus_server() as (server, _):
            with pytest.raises(HandshakeRefused, match="HTTP 401"):
                await ws.connect(server.url, "", "w-1")

    run(body())


def test_missing_token_header_is_refused_with_http_401_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        async with bus_server() as (server, _):
            headers = {VERSION_HEADER: str(PROTOCOL_VERSION)}
            with pytest.raises(websockets.exceptions.InvalidStatus) as caught:
                await raw_connect(server.url, additional_headers=headers, compression=None)
            assert caught.value.response.status_code == 401

    with caplog.at_level(logging.WARNING, logger="nodeisle.bus"):
        run(body())
    assert any(r.name == "nodeisle.bus" and "no token" in r.getMessage() for r in caplog.records)


def test_wrong_protocol_version_is_refused_with_http_426_naming_the_version(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def body() -> None:
        async with bus_server() as (server, _):
            with pytest.raises(HandshakeRefused, match="HTTP 426") as caught:
                await ws.connect(server.url, TOKEN, "w-9", version=99)
            assert "version 99" in str(caught.value)
            assert f"version {PROTOCOL_VERSION}" in str(caught.value)

    with caplog.at_level(logging.WARNING, logger="nodeisle.bus"):
        run(body())
    assert any("w-9" in r.getMessage() and "99" in r.getMessage() for r in caplog.records)


def test_server_listens_on_127_0_0_1_only() -> None:
    async def body() -> None:
        async with bus_server() as (server, _):
            assert server.addresses == [("127.0.0.1", server.port)]
            assert server.url == f"ws://127.0.0.1:{server.port}/bus"

    run(body())


@pytest.mark.parametrize("host", ["0.0.0.0", "", "example.com", "192.168.1.1"])
def test_server_refuses_a_non_loopback_host(host: str) -> None:
    async def body() -> None:
        with pytest.raises(ValueError, match="loopback"):
            await ws.serve(TOKEN, Orchestrator().on_connect, host=host)

    run(body())


def test_server_refuses_an_empty_token() -> None:
    """An empty token would admit a connection that sends no token at all."""

    async def body() -> None:
        with pytest.raises(ValueError, match="empty token"):
            await ws.serve("", Orchestrator().on_connect)

    run(body())


def test_compression_is_off_on_both_ends() -> None:
    async def body() -> None:
        async with bus_server() as (server, orchestrator):
            transport = await ws.connect(server.url, TOKEN, "w-1")
            _, _, server_transport = await orchestrator.peers.get()
            client_connection, server_connection = transport._connection, server_transport._connection
            assert client_connection.protocol.extensions == []
            assert server_connection.protocol.extensions == []
            assert "Sec-WebSocket-Extensions" not in client_connection.request.headers
            assert "Sec-WebSocket-Extensions" not in client_connection.response.headers
            await transport.close()

    run(body())


def test_20_mb_payload_crosses_in_chunks_under_max_frame() -> None:
    async def body() -> None:
        async with bus_server() as (server, _):
            transport = Sizes(await ws.connect(server.url, TOKEN, "w-1"))
            worker = Peer(transport, echo, name="worker")
            worker.start()
            blob = bytes(range(256)) * (20 * 4096)  # 20 MiB
            answer = await worker.request("blob", blob)
            assert answer["payload"] == blob
            assert max(transport.sizes) < ws.MAX_FRAME
            assert len(transport.sizes) >= 21  # one header + 20 chunks of 1 MiB
            await worker.close()

    run(body())


# -- the legacy client, for workers whose library pins websockets < 13 ----------------------------------------
@pytest.fixture
def legacy_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``websockets.asyncio.client`` unimportable, as in websockets 10-12."""
    monkeypatch.setitem(sys.modules, "websockets.asyncio.client", None)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.usefixtures("legacy_client")
def test_legacy_client_round_trip() -> None:
    async def body() -> None:
        async with bus_server() as (server, _):
            transport = await ws.connect(server.url, TOKEN, "w-old")
            assert type(transport._connection).__module__.startswith("websockets.legacy")
            worker = Peer(transport, echo, name="worker")
            worker.start()
            assert await worker.request("hello", b"x" * 3_000_000) == {"name": "hello", "payload": b"x" * 3_000_000}
            await worker.close()

    run(body())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.usefixtures("legacy_client")
@pytest.mark.parametrize("token, version, match", [("wrong", PROTOCOL_VERSION, "HTTP 401.*token"),
                                                     (TOKEN, 99, "HTTP 426.*version 99")])
def test_legacy_client_refusal_names_status_and_reason(token: str, version: int, match: str) -> None:
    async def body() -> None:
        async with bus_server() as (server, _):
            with pytest.raises(HandshakeRefused, match=match):
                await ws.connect(server.url, token, "w-old", version=version)

    run(body())


def test_a_worker_connects_directly_whatever_proxy_variables_say(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: websockets >= 15 sent the loopback bus connection through HTTP_PROXY / ALL_PROXY."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there: a proxied connect would fail
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    async def body() -> None:
        async with bus_server() as (server, _orchestrator):
            transport = await ws.connect(server.url, TOKEN, "w-proxy")
            worker = Peer(transport, echo, name="worker")
            worker.start()
            assert await worker.request("hello", 1) == {"name": "hello", "payload": 1}
            await worker.close()

    run(body())
