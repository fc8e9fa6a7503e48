"""An asyncio peer: requests with futures over any :class:`FrameTransport`.

The peer owns one receive loop. Incoming requests run as tasks so a slow handler never blocks
the loop; responses resolve the matching future; a lost connection fails every pending request
at once with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from nodeisle._errors import BusError, ProtocolError
from nodeisle.bus import codec
from nodeisle.bus.protocol import BusProtocol, Frame, IncomingCancel, IncomingRequest, IncomingResponse

LOGGER = logging.getLogger("nodeisle.bus")


class TransportClosed(BusError):
    """The transport has no more frames."""


class FrameTransport(Protocol):
    """The seam between the bus and the network: one implementation per transport."""

    async def send(self, frame: Frame) -> None: ...

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
        self._handlers: dict[int, asyncio.Task[None]] = {}
        self._send_lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.bad_frames = 0

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read_loop(), name=f"{self._name}-reader")

    async def request(self, name: str, payload: Any, timeout: float | None = None) -> Any:
        """Send a request and return the peer's answer; raises RemoteFailure or BusError."""
        if self.closed.done():
            raise BusError(f"{self._name}: connection is closed ({self.closed.result()})")
        tree, attachments = codec.encode(payload, self._wire_types)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        async with self._send_lock:
            request_id = self.protocol.send_request(name, tree, attachments)
            self._futures[request_id] = future
            await self._flush()
        try:
            return await asyncio.wait_for(future, timeout) if timeout is not None else await future
        except (asyncio.CancelledError, TimeoutError):
            self._futures.pop(request_id, None)
            if not self.closed.done():
                async with self._send_lock:
                    self.protocol.send_cancel(request_id)
                    await self._flush()
            raise

    async def _flush(self) -> None:
        for frame in self.protocol.data_to_send():
            await self.transport.send(frame)

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
            future = self._futures.pop(event.id, None)
            if future is None or future.done():
                return
            try:
                value = codec.decode(event.body, event.attachments, self._wire_types)
            except codec.UndecodableValue as exc:
                future.set_exception(ProtocolError(f"{self._name}: undecodable response: {exc}"))
                return
            if event.ok:
                future.set_result(value)
            else:
                error = value if isinstance(value, dict) else {}
                future.set_exception(
                    RemoteFailure(str(error.get("type", "Error")), str(error.get("message", value)),
                                  str(error.get("traceback", "")))
                )
        elif isinstance(event, IncomingRequest):
            task = asyncio.create_task(self._serve(event), name=f"{self._name}-serve-{event.name}")
            self._handlers[event.id] = task
        else:
            handler = self._handlers.get(event.id)
            if handler is not None:
                handler.cancel()

    async def _serve(self, event: IncomingRequest) -> None:
        ok, answer = True, None
        try:
            payload = codec.decode(event.body, event.attachments, self._wire_types)
            answer = await self._handler(event.name, payload)
        except asyncio.CancelledError:
            self._handlers.pop(event.id, None)
            ok, answer = False, {"type": "CancelledError", "message": "cancelled by the peer", "traceback": ""}
        except Exception as exc:
            ok, answer = False, {
                "type": type(exc).__name__,
                "message": str(exc),
                "traceback": "".join(traceback.format_exception(exc)),
            }
        finally:
            self._handlers.pop(event.id, None)
        try:
            tree, attachments = codec.encode(answer, self._wire_types)
        except codec.UnencodableValue as exc:
            ok, answer = False, {"type": "ValueTransferError", "message": str(exc), "traceback": ""}
            tree, attachments = codec.encode(answer)
        if self.closed.done():
            return
        try:
            async with self._send_lock:
                self.protocol.send_response(event.id, ok, tree, attachments)
                await self._flush()
        except (TransportClosed, BusError) as exc:
            LOGGER.debug("%s: could not answer request %s: %s", self._name, event.id, exc)

    def _fail_all(self, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_result(reason)
        futures, self._futures = self._futures, {}
        for request_id, future in futures.items():
            self.protocol.forget(request_id)
            if not future.done():
                future.set_exception(BusError(f"{self._name}: {reason}"))
        for task in list(self._handlers.values()):
            task.cancel()

    async def close(self) -> None:
        await self.transport.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        self._fail_all("closed locally")


class MemoryTransport:
    """An in-process transport; :func:`memory_pair` makes two connected ends."""

    def __init__(self, inbox: asyncio.Queue[str | bytes | None], outbox: asyncio.Queue[str | bytes | None]) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._closed = False

    async def send(self, frame: Frame) -> None:
        if self._closed:
            raise TransportClosed("memory transport closed")
        await self._outbox.put(frame if isinstance(frame, str) else bytes(frame))

    async def recv(self) -> str | bytes:
        frame = await self._inbox.get()
        if frame is None:
            self._closed = True
            raise TransportClosed("memory transport closed")
        return frame

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._outbox.put(None)
            await self._inbox.put(None)


def memory_pair() -> tuple[MemoryTransport, MemoryTransport]:
    a: asyncio.Queue[str | bytes | None] = asyncio.Queue()
    b: asyncio.Queue[str | bytes | None] = asyncio.Queue()
    return MemoryTransport(a, b), MemoryTransport(b, a)
