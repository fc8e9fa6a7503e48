"""An asyncio peer: requests with futures over any :class:`FrameTransport`.

The peer owns one receive loop and one send loop. Every message is queued on the protocol
synchronously and written by the send loop alone, so a caller cancelled mid-send never truncates a
message or interleaves it with another. Incoming requests run as tasks so a slow handler never
blocks the loop; each is answered exactly once, also when it is cancelled. Responses resolve the
matching future; a lost connection fails every pending request at once with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from nodeisle._errors import BusError, ProtocolError
from nodeisle.bus import codec
from nodeisle.bus.protocol import BusProtocol, Frame, IncomingCancel, IncomingRequest, IncomingResponse

LOGGER = logging.getLogger("nodeisle.bus")

# How long close() lets queued frames drain before closing the transport.
_CLOSE_DRAIN_TIMEOUT = 5.0
_CANCELLED = {"type": "CancelledError", "message": "cancelled by the peer", "traceback": ""}


class TransportClosed(BusError):
    """The transport has no more frames."""


class FrameTransport(Protocol):
    """The seam between the bus and the network: one implementation per transport."""

    async def send(self, frame: Frame) -> None:
        """Write one frame (str: text, else binary); raises TransportClosed when the connection is gone."""
        ...

    async def recv(self) -> str | bytes:
        """The next frame; raises TransportClosed when the connection is gone."""
        ...

    async def close(self) -> None: ...


class RemoteFailure(BusError):
    """The peer answered a request with an error."""

    def __init__(self, type_name: str, message: str, traceback_text: str = "") -> None:
        self.type_name = type_name
        self.remote_message = message
        self.traceback = traceback_text
        super().__init__(f"{type_name}: {message}")


Handler = Callable[[str, Any], Awaitable[Any]]


class Peer:
    """One end of a bus connection: call :meth:`start`, then :meth:`request`; :meth:`close` at the end."""

    def __init__(
        self,
        transport: FrameTransport,
        handler: Handler,
        *,
        wire_types: Mapping[str, type[Any]] | None = None,
        protocol: BusProtocol | None = None,
        name: str = "peer",
    ) -> None:
        self.transport = transport
        self.protocol = protocol or BusProtocol()
        self._handler = handler
        self._wire_types = wire_types
        self._name = name
        self._futures: dict[int, asyncio.Future[Any]] = {}
        self._handlers: dict[int, asyncio.Task[Any]] = {}
        self._wake = asyncio.Event()  # set when the protocol has frames to write
        self._drained = asyncio.Event()  # set while the send loop has nothing left to write
        self._drained.set()
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.bad_frames = 0

    def start(self) -> None:
        """Start the receive and send loops; call once, inside the running loop."""
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_loop(), name=f"{self._name}-reader")
            self._writer = asyncio.create_task(self._write_loop(), name=f"{self._name}-writer")

    async def request(self, name: str, payload: Any, timeout: float | None = None) -> Any:
        """Send a request and return the peer's answer.

        Raises RemoteFailure (the handler failed), BusError (the connection is gone),
        TimeoutError, or codec.UnencodableValue (``payload`` cannot cross the bus).
        On timeout or cancellation the peer is told to cancel its handler.
        """
        if self.closed.done():
            raise BusError(f"{self._name}: connection is closed ({self.closed.result()})")
        if self._writer is None:
            raise BusError(f"{self._name}: call start() before request()")
        tree, attachments = codec.encode(payload, self._wire_types)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        request_id = self.protocol.send_request(name, tree, attachments)
        self._futures[request_id] = future
        self._kick()
        try:
            return await (asyncio.wait_for(future, timeout) if timeout is not None else future)
        except (asyncio.CancelledError, TimeoutError):
            if self._futures.pop(request_id, None) is not None and not self.closed.done():
                self.protocol.send_cancel(request_id)
                self._kick()
            raise

    def _kick(self) -> None:
        self._drained.clear()
        self._wake.set()

    async def _write_loop(self) -> None:
        try:
            while not self.closed.done():
                await self._wake.wait()
                self._wake.clear()
                for frame in self.protocol.data_to_send():
                    await self.transport.send(frame)
                if not self._wake.is_set():
                    self._drained.set()
        except TransportClosed as exc:
            self._fail_all(str(exc) or "connection closed")
        except Exception as exc:  # a broken transport: nothing more can be sent on this connection
            reason = f"send loop failed: {type(exc).__name__}: {exc}"
            LOGGER.exception("%s: %s", self._name, reason)
            self._fail_all(reason)
            with contextlib.suppress(Exception):
                await self.transport.close()
        finally:
            self._drained.set()

    async def _read_loop(self) -> None:
        reason = "connection closed"
        try:
            while True:
                frame = await self.transport.recv()
                try:
                    events = self.protocol.receive(frame)
                except ProtocolError as exc:
                    self.bad_frames += 1
                    LOGGER.warning("%s: dropped a bad frame: %s", self._name, exc)
                    continue
                for event in events:
                    self._dispatch(event)
        except TransportClosed as exc:
            reason = str(exc) or reason
        except Exception as exc:  # the loop must end with every future answered
            reason = f"receive loop failed: {type(exc).__name__}: {exc}"
            LOGGER.exception("%s: %s", self._name, reason)
        finally:
            self._fail_all(reason)

    def _dispatch(self, event: IncomingRequest | IncomingResponse | IncomingCancel) -> None:
        if isinstance(event, IncomingResponse):
            self._resolve(event)
        elif isinstance(event, IncomingRequest):
            task = asyncio.create_task(self._serve(event), name=f"{self._name}-serve-{event.name}")
            self._handlers[event.id] = task
            task.add_done_callback(functools.partial(self._answer_if_unanswered, event.id))
        else:
            handler = self._handlers.get(event.id)
            if handler is not None:
                handler.cancel()

    def _resolve(self, event: IncomingResponse) -> None:
        future = self._futures.pop(event.id, None)
        if future is None or future.done():
            return
        try:
            value = codec.decode(event.body, event.attachments, self._wire_types)
        except codec.UndecodableValue as exc:
            future.set_exception(ProtocolError(f"{self._name}: undecodable response to request {event.id}: {exc}"))
            return
        if event.ok:
            future.set_result(value)
            return
        error = value if isinstance(value, dict) else {}
        type_name, message = str(error.get("type", "Error")), str(error.get("message", value))
        future.set_exception(RemoteFailure(type_name, message, str(error.get("traceback", ""))))

    async def _serve(self, event: IncomingRequest) -> None:
        ok, answer = True, None
        try:
            payload = codec.decode(event.body, event.attachments, self._wire_types)
            answer = await self._handler(event.name, payload)
        except asyncio.CancelledError:
            ok, answer = False, _CANCELLED
        except Exception as exc:
            text = "".join(traceback.format_exception(exc))
            ok, answer = False, {"type": type(exc).__name__, "message": str(exc), "traceback": text}
        self._answer(event.id, ok, answer)

    def _answer_if_unanswered(self, request_id: int, task: asyncio.Task[None]) -> None:
        """Backstop: a task cancelled before its first step, or killed by a BaseException, never answered."""
        if self._handlers.get(request_id) is task:
            failure = None if task.cancelled() else task.exception()
            answer = _CANCELLED if failure is None else {"type": type(failure).__name__, "message": str(failure)}
            self._answer(request_id, False, answer)

    def _answer(self, request_id: int, ok: bool, answer: Any) -> None:
        """Queue the one response to the peer's request ``request_id``."""
        self._handlers.pop(request_id, None)
        if self.closed.done():
            return
        try:
            tree, attachments = codec.encode(answer, self._wire_types)
        except codec.UnencodableValue as exc:
            ok = False
            answer = {"type": "ValueTransferError", "message": f"the answer: {exc}", "traceback": ""}
            tree, attachments = codec.encode(answer)
        self.protocol.send_response(request_id, ok, tree, attachments)
        self._kick()

    def _fail_all(self, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_result(reason)
        self._wake.set()  # lets the send loop see the end
        futures, self._futures = self._futures, {}
        for request_id, future in futures.items():
            self.protocol.forget(request_id)
            if not future.done():
                future.set_exception(BusError(f"{self._name}: {reason}"))
        for task in list(self._handlers.values()):
            task.cancel()

    async def close(self) -> None:
        """Write what is queued (for a few seconds at most), close the transport, fail what is pending."""
        if not self.closed.done() and self._writer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), _CLOSE_DRAIN_TIMEOUT)
        await self.transport.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), _CLOSE_DRAIN_TIMEOUT)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        self._fail_all("closed locally")
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer


class MemoryTransport:
    """An in-process transport; :func:`memory_pair` makes two connected ends."""

    def __init__(
        self,
        inbox: asyncio.Queue[str | bytes | None],
        outbox: asyncio.Queue[str | bytes | None],
        link: list[bool] | None = None,
    ) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._link = link if link is not None else [False]  # shared by both ends: [closed]

    async def send(self, frame: Frame) -> None:
        if self._link[0]:
            raise TransportClosed("memory transport closed")
        self._outbox.put_nowait(frame if isinstance(frame, str) else bytes(frame))

    async def recv(self) -> str | bytes:
        if self._link[0] and self._inbox.empty():
            raise TransportClosed("memory transport closed")
        frame = await self._inbox.get()
        if frame is None:
            self._inbox.put_nowait(None)  # every later recv() sees the end too
            raise TransportClosed("memory transport closed")
        return frame

    async def close(self) -> None:
        if not self._link[0]:
            self._link[0] = True
            self._outbox.put_nowait(None)
            self._inbox.put_nowait(None)


def memory_pair() -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected in-memory transports; closing either closes both."""
    a: asyncio.Queue[str | bytes | None] = asyncio.Queue()
    b: asyncio.Queue[str | bytes | None] = asyncio.Queue()
    link = [False]
    return MemoryTransport(a, b, link), MemoryTransport(b, a, link)
