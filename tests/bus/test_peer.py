"""The asyncio peer over the in-memory transport: correlation, failures, cancellation, closing, big values."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Coroutine
from typing import Any, TypeVar

import numpy as np
import pytest

from nodeisle.bus import codec
from nodeisle.bus.peer import Handler, MemoryTransport, Peer, RemoteFailure, TransportClosed, memory_pair
from nodeisle.bus.protocol import BusProtocol, Frame
from nodeisle.errors import BusError
from nodeisle.requests import WIRE_TYPES, ExecuteNodeRequest

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 10))


async def no_handler(name: str, payload: Any) -> Any:
    raise LookupError(f"no handler for {name}")


async def echo(name: str, payload: Any) -> Any:
    return {"name": name, "payload": payload}


class Recording:
    """A transport wrapper that records what its peer sent, and can wait after each binary frame."""

    def __init__(self, inner: MemoryTransport, binary_delay: float = 0.0) -> None:
        self.inner = inner
        self.sent: list[Frame] = []
        self.binary_delay = binary_delay

    async def send(self, frame: Frame) -> None:
        self.sent.append(frame if isinstance(frame, str) else bytes(frame))
        await self.inner.send(frame)
        if not isinstance(frame, str) and self.binary_delay:
            await asyncio.sleep(self.binary_delay)  # like websockets: write, then wait for the buffer to drain

    async def recv(self) -> str | bytes:
        return await self.inner.recv()

    async def close(self) -> None:
        await self.inner.close()

    def texts(self, kind: str) -> list[dict[str, Any]]:
        headers = [json.loads(f) for f in self.sent if isinstance(f, str)]
        return [h for h in headers if h["t"] == kind]


async def connected(handler_a: Handler = no_handler, handler_b: Handler = echo, **options: Any) -> tuple[Peer, Peer]:
    left, right = memory_pair()
    a = Peer(options.get("transport_a", left), handler_a, wire_types=WIRE_TYPES, name="a",
             protocol=options.get("protocol_a"))
    b = Peer(options.get("transport_b", right), handler_b, wire_types=WIRE_TYPES, name="b")
    a.start()
    b.start()
    return a, b


# -- request / response --------------------------------------------------------------------------------
def test_request_gets_the_handlers_answer() -> None:
    async def body() -> None:
        a, _ = await connected()
        assert await a.request("hello", [1, (2, b"3")]) == {"name": "hello", "payload": [1, (2, b"3")]}
        await a.close()

    run(body())


def test_requests_flow_in_both_directions() -> None:
    async def body() -> None:
        a, b = await connected(handler_a=echo)
        assert await b.request("from-b", 1) == {"name": "from-b", "payload": 1}
        assert await a.request("from-a", 2) == {"name": "from-a", "payload": 2}
        await b.close()

    run(body())


def test_handler_may_call_back_into_the_requester() -> None:
    async def body() -> None:
        peers: dict[str, Peer] = {}

        async def calls_back(name: str, payload: Any) -> Any:
            return ["b saw", await peers["b"].request("nested", payload + 1)]

        a, b = await connected(handler_a=echo, handler_b=calls_back)
        peers["b"] = b
        assert await a.request("outer", 1) == ["b saw", {"name": "nested", "payload": 2}]
        await a.close()

    run(body())


def test_wire_dataclass_crosses_as_itself() -> None:
    async def body() -> None:
        async def node_name(name: str, payload: Any) -> Any:
            assert isinstance(payload, ExecuteNodeRequest)
            return payload

        a, _ = await connected(handler_b=node_name)
        request = ExecuteNodeRequest(node_name="n", parameter_values={"raw": b"\x00\x01"})
        assert await a.request("ExecuteNodeRequest", request) == request
        await a.close()

    run(body())


def test_200_concurrent_requests_each_get_their_own_answer() -> None:
    async def body() -> None:
        rng = random.Random(1234)

        async def slow_square(name: str, payload: Any) -> Any:
            await asyncio.sleep(rng.random() / 100)
            return {"n": payload["n"], "square": payload["n"] ** 2}

        a, _ = await connected(handler_b=slow_square)
        answers = await asyncio.gather(*(a.request("square", {"n": n}) for n in range(200)))
        assert answers == [{"n": n, "square": n * n} for n in range(200)]
        assert a.protocol.pending == frozenset()
        await a.close()

    run(body())


# -- failures -------------------------------------------------------------------------------------------
def test_handler_exception_arrives_as_remote_failure_with_type_message_and_traceback() -> None:
    async def body() -> None:
        async def broken(name: str, payload: Any) -> Any:
            raise KeyError("missing-thing")

        a, _ = await connected(handler_b=broken)
        with pytest.raises(RemoteFailure) as caught:
            await a.request("x", None)
        assert caught.value.type_name == "KeyError"
        assert caught.value.remote_message == "'missing-thing'"
        assert "in broken" in caught.value.traceback and "KeyError" in caught.value.traceback
        assert isinstance(caught.value, BusError)
        await a.close()

    run(body())


def test_unencodable_answer_arrives_as_value_transfer_failure() -> None:
    async def body() -> None:
        async def returns_lock(name: str, payload: Any) -> Any:
            return {"lock": asyncio.Lock()}

        a, _ = await connected(handler_b=returns_lock)
        with pytest.raises(RemoteFailure) as caught:
            await a.request("x", None)
        assert caught.value.type_name == "ValueTransferError"
        assert "lock" in caught.value.remote_message and "asyncio.locks.Lock" in caught.value.remote_message
        await a.close()

    run(body())


def test_unencodable_request_is_refused_locally_and_nothing_is_sent() -> None:
    async def body() -> None:
        a, _ = await connected()
        with pytest.raises(codec.UnencodableValue, match="payload"):
            await a.request("x", {"payload": {1, 2}})
        assert a.protocol.pending == frozenset()
        assert await a.request("still works", 1) == {"name": "still works", "payload": 1}
        await a.close()

    run(body())


# -- cancellation and timeouts ------------------------------------------------------------------------------
def test_cancelled_caller_sends_cancel_and_remote_handler_is_cancelled() -> None:
    async def body() -> None:
        started, cancelled = asyncio.Event(), asyncio.Event()

        async def forever(name: str, payload: Any) -> Any:
            if name == "next":
                return payload
            started.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        left, right = memory_pair()
        recorder = Recording(left)
        a, b = await connected(handler_b=forever, transport_a=recorder, transport_b=right)
        call = asyncio.create_task(a.request("slow", None))
        await started.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await cancelled.wait()
        assert recorder.texts("cancel") == [{"t": "cancel", "id": 1}]
        assert await a.request("next", 1) == 1
        assert (a.bad_frames, b.bad_frames) == (0, 0)  # the late "cancelled" answer is absorbed silently
        await a.close()

    run(body())


def test_request_cancelled_before_its_handler_starts_is_still_answered() -> None:
    """Regression: a handler task cancelled before its first step never answered, and leaked."""

    async def body() -> None:
        ran = []

        async def record(name: str, payload: Any) -> Any:
            ran.append(name)

        left, right = memory_pair()
        b = Peer(right, record, name="b")
        b.start()
        await left.send('{"t":"req","id":1,"name":"never","body":null,"sizes":[]}')
        await left.send('{"t":"cancel","id":1}')  # arrives before the handler task first runs
        answer = json.loads(await left.recv())
        assert answer == {"t": "res", "id": 1, "ok": False, "sizes": [],
                          "body": {"type": "CancelledError", "message": "cancelled by the peer", "traceback": ""}}
        assert (ran, b._handlers, b.bad_frames) == ([], {}, 0)
        await b.close()

    run(body())


def test_timeout_raises_timeout_error_and_cancels_the_remote_handler() -> None:
    async def body() -> None:
        cancelled = asyncio.Event()

        async def forever(name: str, payload: Any) -> Any:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        a, _ = await connected(handler_b=forever)
        with pytest.raises(TimeoutError):
            await a.request("slow", None, timeout=0.05)
        await cancelled.wait()
        assert a.protocol.pending == frozenset()
        await a.close()

    run(body())


def test_caller_cancelled_mid_send_never_truncates_a_message() -> None:
    """Regression: a cancelled sender used to stop halfway, and the peer dropped that message and the next."""

    async def body() -> None:
        left, right = memory_pair()
        slow = Recording(left, binary_delay=0.01)
        a, b = await connected(transport_a=slow, transport_b=right, protocol_a=BusProtocol(chunk_size=1000))
        call = asyncio.create_task(a.request("big", b"x" * 10_000))  # 10 binary frames, 10 ms each
        await asyncio.sleep(0.03)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await a.request("next", 1) == {"name": "next", "payload": 1}
        assert b.bad_frames == 0
        await a.close()

    run(body())


# -- closing ------------------------------------------------------------------------------------------------
def test_closing_the_transport_fails_all_pending_requests_at_once() -> None:
    async def body() -> None:
        async def never(name: str, payload: Any) -> Any:
            await asyncio.sleep(3600)

        a, b = await connected(handler_b=never)
        calls = [asyncio.create_task(a.request("wait", n)) for n in range(50)]
        await asyncio.sleep(0.01)
        await a.transport.close()
        results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 1)
        assert all(type(r) is BusError for r in results), results
        assert "closed" in str(results[0])
        assert await asyncio.wait_for(b.closed, 1)
        with pytest.raises(BusError, match="closed"):
            await a.request("after", None)

    run(body())


def test_remote_close_fails_pending_requests_and_closes_the_peer() -> None:
    async def body() -> None:
        async def never(name: str, payload: Any) -> Any:
            await asyncio.sleep(3600)

        a, b = await connected(handler_b=never)
        call = asyncio.create_task(a.request("wait", None))
        await asyncio.sleep(0.01)
        await b.close()
        with pytest.raises(BusError):
            await call
        assert "closed" in await a.closed

    run(body())


def test_close_writes_queued_answers_before_closing() -> None:
    async def body() -> None:
        a, b = await connected()
        answer = asyncio.create_task(a.request("x", b"y" * 100_000))
        await asyncio.sleep(0.01)
        assert await answer == {"name": "x", "payload": b"y" * 100_000}
        await b.close()
        assert await a.closed

    run(body())


def test_memory_transport_refuses_send_after_either_end_closed() -> None:
    async def body() -> None:
        left, right = memory_pair()
        await left.close()
        with pytest.raises(TransportClosed):
            await right.send("x")
        with pytest.raises(TransportClosed):
            await right.recv()
        with pytest.raises(TransportClosed):
            await right.recv()  # and stays closed

    run(body())


# -- bad frames -------------------------------------------------------------------------------------------
def test_bad_frame_mid_stream_is_dropped_and_counted_and_connection_keeps_working(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def body() -> None:
        left, right = memory_pair()
        a, _ = await connected(transport_a=left, transport_b=right)
        assert await a.request("before", 1) == {"name": "before", "payload": 1}
        await right.send("this is not json")  # straight onto the wire, bypassing b's protocol
        await right.send(b"stray binary")
        assert await a.request("after", 2) == {"name": "after", "payload": 2}
        assert a.bad_frames == 2
        await a.close()

    with caplog.at_level(logging.WARNING, logger="nodeisle.bus"):
        run(body())
    assert "dropped a bad frame" in caplog.text


# -- large values -----------------------------------------------------------------------------------------
def test_16_mb_bytes_arrive_intact() -> None:
    async def body() -> None:
        async def digest(name: str, payload: Any) -> Any:
            return {"type": type(payload).__name__, "len": len(payload), "tail": payload[-5:], "back": payload}

        a, _ = await connected(handler_b=digest)
        blob = bytes(range(256)) * (16 * 4096)  # 16 MiB
        answer = await a.request("blob", blob)
        assert (answer["type"], answer["len"], answer["tail"]) == ("bytes", 16 << 20, blob[-5:])
        assert answer["back"] == blob
        await a.close()

    run(body())


def test_float32_array_arrives_intact() -> None:
    async def body() -> None:
        async def double(name: str, payload: Any) -> Any:
            assert payload.dtype == np.float32
            return payload * 2

        a, _ = await connected(handler_b=double)
        array = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)  # 4 MiB
        result = await a.request("double", array)
        assert result.dtype == np.float32 and result.shape == (1024, 1024)
        assert np.array_equal(result, array * 2)
        await a.close()

    run(body())


# -- misuse and broken transports --------------------------------------------------------------------------
def test_request_before_start_is_refused() -> None:
    async def body() -> None:
        left, _ = memory_pair()
        with pytest.raises(BusError, match="start"):
            await Peer(left, echo).request("x", None)

    run(body())


def test_undecodable_response_fails_only_its_request() -> None:
    async def body() -> None:
        left, right = memory_pair()
        a = Peer(left, echo, name="a")
        a.start()
        call = asyncio.create_task(a.request("x", None))
        assert json.loads(await right.recv())["id"] == 1
        await right.send('{"t":"res","id":1,"ok":true,"body":{"$ni":"pickle"}}')
        with pytest.raises(BusError, match=r"undecodable response to request 1: unknown tag"):
            await call
        second = asyncio.create_task(a.request("y", None))
        assert json.loads(await right.recv())["id"] == 2
        await right.send('{"t":"res","id":2,"ok":true,"body":"fine"}')
        assert await second == "fine"
        await a.close()

    run(body())


class BrokenSend(MemoryTransport):
    async def send(self, frame: Frame) -> None:
        raise OSError("network is unreachable")


def test_send_failure_fails_the_request_and_closes_the_peer() -> None:
    async def body() -> None:
        left, _ = memory_pair()
        a = Peer(BrokenSend(left._inbox, left._outbox, left._link), echo, name="a")
        a.start()
        with pytest.raises(BusError, match="network is unreachable"):
            await a.request("x", None)
        assert "send failed" in await a.closed
        await a.close()

    run(body())


def test_a_cancelled_request_does_not_wait_for_its_message_to_be_written() -> None:
    """Regression (review): a deadline waited while a large input was written to a worker that read nothing."""

    class Stuck:
        def __init__(self) -> None:
            self.sent: list[str | bytes] = []
            self.open = asyncio.Event()

        async def send(self, frame: Frame) -> None:
            self.sent.append(frame if isinstance(frame, str) else bytes(frame))
            if len(self.sent) > 1:
                await self.open.wait()  # the peer stopped reading: flow control holds every write

        async def recv(self) -> str | bytes:
            await asyncio.Event().wait()
            raise AssertionError

        async def close(self) -> None:
            pass

    async def body() -> None:
        transport = Stuck()
        peer = Peer(transport, lambda name, payload: asyncio.sleep(0), name="p",
                    protocol=BusProtocol(chunk_size=4))
        peer.start()
        with pytest.raises(TimeoutError):
            await peer.request("put", b"x" * 40, timeout=0.2)  # 11 frames; the second one blocks
        assert len(transport.sent) == 2  # returned at once, with the rest still queued
        transport.open.set()
        await asyncio.sleep(0.05)
        _header, *chunks, cancel = transport.sent
        assert b"".join(c for c in chunks if isinstance(c, bytes)) == b"x" * 40  # whole, in order
        assert isinstance(cancel, str) and '"cancel"' in cancel
        peer._fail_all("done")

    asyncio.run(asyncio.wait_for(body(), 10))


def test_an_undecodable_answer_fails_that_request_only_and_the_connection_keeps_serving() -> None:
    """Regression (review): a bad enum value in an answer ended the receive loop and hung the request."""
    from nodeisle.errors import ProtocolError
    from nodeisle.wire.messages import BUS_TYPES

    bad = {"$ni": "dc", "type": "Violation", "fields": {
        "rule_id": "r", "severity": "bogus", "context": "worker", "subject": "s", "library": "l",
        "message": "m", "remediation": "x"}}

    async def answer(name: str, payload: Any) -> Any:
        return codec.Encoded(bad, []) if name == "bad" else "fine"

    async def body() -> None:
        left, right = memory_pair()
        a = Peer(left, answer, wire_types=BUS_TYPES, name="a")
        b = Peer(right, answer, wire_types=BUS_TYPES, name="b")
        a.start()
        b.start()
        with pytest.raises(ProtocolError, match="undecodable response"):
            await asyncio.wait_for(a.request("bad", None), 5)
        assert await asyncio.wait_for(a.request("good", None), 5) == "fine"
        await a.close()
        await b.close()

    asyncio.run(asyncio.wait_for(body(), 10))
