"""Hostile input on the real bus: strangers, malformed frames, replays — nobody crashes, nothing leaks."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from nodeisle.bus import ws
from nodeisle.bus.peer import Peer
from nodeisle.bus.protocol import PROTOCOL_VERSION, BusProtocol
from nodeisle.errors import HandshakeRefused
from nodeisle.orchestrator.workers import WorkerHub, WorkerProcess
from nodeisle.wire.messages import BUS_TYPES as WIRE_TYPES
from nodeisle.wire.messages import Ping, Pong, Ready
from tests.conftest import TEXT_TOOLS, run

MANIFEST = TEXT_TOOLS / "griptape-nodes-library.json"


def junk_frames(seed: int, count: int) -> list[str | bytes]:
    """Malformed, truncated, oversized-header, out-of-order and replayed frames."""
    rng = random.Random(seed)
    fixed: list[str | bytes] = [
        "", "{", "null", "[]", '"text"', "12", '{"t": "req"}', '{"t": "req", "id": -1, "name": "x"}',
        '{"t": "req", "id": 1}', '{"t": "res", "id": 99999, "ok": true, "body": null}',
        '{"t": "res", "id": 1, "ok": "yes"}', '{"t": "cancel", "id": "a"}', '{"t": "zap", "id": 3}',
        '{"t": "req", "id": 5, "name": "_execute", "body": {"$ni": "bytes", "ref": 7}}',
        '{"t": "req", "id": 6, "name": "_execute", "sizes": [-4]}',
        '{"t": "req", "id": 7, "name": "_execute", "sizes": [10]}', "interrupting text frame",
        '{"t": "req", "id": 8, "name": "_execute", "sizes": [99999999999999]}',
        b"\x00\x01binary without header", '{"t": "req", "id": 9, "name": "_execute", "body": {"class_name": 3}}',
        '{"t": "req", "id": 10, "name": "ExecuteNodeRequest", "body": {"$ni": "dc", "type": "Nope", "fields": {}}}',
    ]
    for _ in range(count):
        choice = rng.random()
        if choice < 0.4:
            fixed.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64))))
        elif choice < 0.8:
            fixed.append("".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(0, 64))))
        else:
            fixed.append(json.dumps({"t": rng.choice(["req", "res", "cancel"]), "id": rng.randint(-3, 50),
                                     "name": rng.choice(["_ping", "_execute", "Nope", 3]), "ok": rng.random() < 0.5}))
    return fixed


def test_orchestrator_bus_survives_junk_and_refuses_strangers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    handled: list[str] = []

    async def body() -> None:
        async def handler(worker: Any, name: str, payload: Any) -> Any:
            handled.append(name)
            return None

        hub = WorkerHub(handler)
        await hub.ensure_started()
        assert hub.url.startswith("ws://127.0.0.1:")
        worker = WorkerProcess("Text Tools", Path(sys.executable), MANIFEST, worker_id="f00d")
        credential = hub.register(worker)
        try:
            for token in ("", "not-the-token", credential[:-1]):
                with pytest.raises(HandshakeRefused, match="401"):
                    await ws.connect(hub.url, token, "f00d")
            with pytest.raises(HandshakeRefused, match="426"):
                await ws.connect(hub.url, credential, "f00d", version=PROTOCOL_VERSION + 1)
            transport = await ws.connect(hub.url, credential, "f00d")
            for frame in junk_frames(seed=7, count=200):
                await transport.send(frame)

            async def ignore(name: str, payload: Any) -> Any:
                return None

            # Request ids only grow on a connection: the well-formed traffic continues above the junk's.
            peer = Peer(transport, ignore, wire_types=WIRE_TYPES, name="fake-worker",
                        protocol=BusProtocol(first_id=1000))
            peer.start()
            # After the junk, a well-formed request is still answered.
            assert await asyncio.wait_for(peer.request("Ready", Ready(pid=1, python="x")), 5) is None
            assert worker.peer is not None and worker.peer.bad_frames > 10
            await peer.close()
            with pytest.raises(HandshakeRefused, match="401"):  # a worker's credential, an unknown worker id
                await ws.connect(hub.url, credential, "beef")
        finally:
            await hub.close()
    run(body(), timeout=60)
    assert "ListFlowsRequest" not in handled, "a connection that is not a registered worker must issue no request"
    messages = [r.getMessage() for r in caplog.records]
    assert any("wrong token" in m for m in messages) and any("protocol version" in m for m in messages)
    assert any("dropped a bad frame" in m for m in messages)
    dropped = [m for m in messages if "dropped a bad frame" in m]
    # at most 10 a minute per connection (and the count): not one line per junk frame
    assert len(dropped) <= 2 * 11, f"regression: one junk frame, one WARNING line ({len(dropped)} lines)"


def test_worker_survives_junk_frames_and_keeps_serving() -> None:
    async def body() -> None:
        token = "the-run-token"
        connected: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        finished = asyncio.Event()

        async def on_connect(transport: Any, worker_id: str) -> None:
            connected.set_result(transport)
            await finished.wait()

        server = await ws.serve(token, on_connect)
        launch = {"url": server.url, "token": token, "worker_id": "cafe", "manifest": str(MANIFEST)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-m", "nodeisle.worker", stdin=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None
        proc.stdin.write((json.dumps(launch) + "\n").encode())
        await proc.stdin.drain()
        try:
            transport = await asyncio.wait_for(connected, 20)
            ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

            async def handle(name: str, payload: Any) -> Any:
                if isinstance(payload, Ready):
                    ready.set_result(payload)
                return None

            for frame in junk_frames(seed=11, count=200):
                await transport.send(frame)
            peer = Peer(transport, handle, wire_types=WIRE_TYPES, name="fake-orchestrator",
                        protocol=BusProtocol(first_id=1000))
            peer.start()
            await asyncio.wait_for(ready, 20)
            assert await asyncio.wait_for(peer.request("Ping", Ping()), 5) == Pong()
            assert proc.returncode is None, "the worker must not crash on junk frames"
        finally:
            finished.set()
            proc.stdin.close()
            proc.kill()
            await proc.wait()
            await server.close()
    run(body(), timeout=60)


def test_each_worker_is_admitted_only_with_its_own_credential_once() -> None:
    """Regression: one run token was shared by every worker, so any library could connect as another's worker."""
    handled: list[tuple[str, str]] = []

    async def body() -> None:
        async def handler(worker: Any, name: str, payload: Any) -> Any:
            handled.append((worker.library, name))
            return None

        hub = WorkerHub(handler)
        await hub.ensure_started()
        a = WorkerProcess("Library A", Path(sys.executable), MANIFEST, worker_id="aaaa")
        b = WorkerProcess("Library B", Path(sys.executable), MANIFEST, worker_id="bbbb")
        a_credential, b_credential = hub.register(a), hub.register(b)
        try:
            assert a_credential != b_credential
            with pytest.raises(HandshakeRefused, match="401"):  # A's credential does not admit A as B
                await ws.connect(hub.url, a_credential, "bbbb")
            transport = await ws.connect(hub.url, a_credential, "aaaa")
            await asyncio.sleep(0.05)
            assert a.peer is not None
            with pytest.raises(HandshakeRefused, match="401"):  # claimed: a replay is refused
                await ws.connect(hub.url, a_credential, "aaaa")
            hub.unregister(b)
            with pytest.raises(HandshakeRefused, match="401"):  # a credential dies with its worker
                await ws.connect(hub.url, b_credential, "bbbb")
            await transport.close()
        finally:
            await hub.close()
    run(body(), timeout=30)
    assert handled == []
