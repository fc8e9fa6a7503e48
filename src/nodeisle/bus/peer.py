"""An asyncio peer: requests with futures over any :class:`FrameTransport`.

The peer owns one receive loop. Messages are queued on the protocol synchronously and written by
whichever task flushes first, one writer at a time, so messages never interleave; a writer that is
cancelled finishes the frames it took before it stops, so no message is ever cut short. Incoming
requests run as tasks so a slow handler never blocks the loop; each is answered exactly once,
also when it is cancelled. Responses resolve the matching future; a lost connection fails every
pending request at once with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from nodeisle import logs as _logs
from nodeisle.bus import codec
from nodeisle.bus.protocol import (
    BusProtocol,
    Frame,
    IncomingCancel,
    IncomingRequest,
    IncomingResponse,
    OversizedMessage,
)
from nodeisle.errors import BusError, ProtocolError
from nodeisle.requests import RemoteError

# A hostile peer may send junk by the thousand: a few lines per connection, then a count.
LOGGER = _logs.guard(logging.getLogger("nodeisle.bus"), _logs.by_template_and_subject)

# How long close() lets queued frames drain before closing the transport.
_CLOSE_DRAIN_TIMEOUT = 5.0


class TransportClosed(BusError):
    """The transport has no more frames."""


class FrameTransport(Protocol):
    """The seam between the bus and the network: one implementation per transport."""

    async def send(self, frame: Frame) -> None:
        """Write one frame (str: text, else binary); raises TransportClosed when the connection is gone.

        Contract: the frame is handed to the connection before the first suspension point, so a
        send() cancelled while it waits (for flow control) has written its frame in full.
        """
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
        self._handlers: dict[int, asyncio.Task[None]] = {}
        self._writing = False  # a task is in _flush(): it writes whatever gets queued
        self._idle = asyncio.Event()  # set while no task is writing
        self._idle.set()
        self._background: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.bad_frames = 0

    def start(self) -> None:
        """Start the receive loop; call once, inside the running loop."""
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_loop(), name=f"{self._name}-reader")

    async def request(self, name: str, payload: Any, timeout: float | None = None) -> Any:
        """Send a request and return the peer's answer.

        Raises RemoteFailure (the handler failed), BusError (the connection is gone),
        TimeoutError (``timeout`` seconds passed, sending included), or codec.UnencodableValue
        (``payload`` cannot cross the bus; nothing is sent). On timeout or cancellation the peer
        is told to cancel its handler.
        """
        if self.closed.done():
            raise BusError(f"{self._name}: connection is closed ({self.closed.result()})")
        if self._reader is None:
            raise BusError(f"{self._name}: call start() before request()")
        tree, attachments = codec.encode(payload, self._wire_types, self.protocol.max_attachments)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            request_id = self.protocol.send_request(name, tree, attachments)
        except OversizedMessage as exc:
            raise codec.UnencodableValue("", type(payload).__name__, str(exc)) from None
        self._futures[request_id] = future
        try:
            if timeout is None:
                await self._flush()
                return await future
            async with asyncio.timeout(timeout):
                await self._flush()
                return await future
        except (asyncio.CancelledError, TimeoutError):
            if self._futures.pop(request_id, None) is not None and not self.closed.done():
                self.protocol.send_cancel(request_id)
                self._flush_soon()  # never wait here: the peer may not be reading (a stuck worker)
            raise

    # -- writing ----------------------------------------------------------------------------------
    async def _flush(self) -> None:
        """Write every queued frame from the calling task; a cancellation waits until the batch is written.

        One task writes at a time: a task that finds another one writing leaves its frames to
        it, since the writer loops until nothing is queued. A cancelled writer puts back what it has
        not written, hands it to a new task and returns at once, so messages stay whole and in order.
        A transport failure fails the peer.
        """
        if self._writing:
            return
        self._writing = True
        self._idle.clear()
        cancelled: asyncio.CancelledError | None = None
        try:
            while cancelled is None and (frames := self.protocol.data_to_send()):
                for index, frame in enumerate(frames):
                    try:
                        await self.transport.send(frame)
                    except asyncio.CancelledError as exc:  # the frame is written (transport contract)
                        # The rest (perhaps the tail of a large message to a peer that reads nothing)
                        # goes on in a new task: a cancelled caller is not held until it is written.
                        cancelled = exc
                        self.protocol.requeue(frames[index + 1 :])
                        break
        except TransportClosed as exc:
            self._fail_all(str(exc) or "connection closed")
        except Exception as exc:  # a broken transport: nothing more can be sent on this connection
            reason = f"send failed: {type(exc).__name__}: {exc}"
            LOGGER.exception("%s: %s", self._name, reason)
            self._fail_all(reason)
            with contextlib.suppress(Exception):
                await self.transport.close()
        finally:
            self._writing = False
            self._idle.set()
        if cancelled is not None:
            self._flush_soon()  # what others queued meanwhile
            raise cancelled

    def _flush_soon(self) -> None:
        """Flush from a new task, for code that cannot await."""
        if not self._writing:
            task = asyncio.create_task(self._flush(), name=f"{self._name}-flush")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    # -- reading ----------------------------------------------------------------------------------
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
                    events = exc.events  # what the frame still delivered
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
            self._handlers[event.id] = asyncio.create_task(self._serve(event), name=f"{self._name}-serve-{event.name}")
        else:
            handler = self._handlers.get(event.id)
            if handler is not None:
                handler.cancel()
                handler.add_done_callback(functools.partial(self._answer_if_cancelled_unstarted, event.id))

    def _resolve(self, event: IncomingResponse) -> None:
        future = self._futures.pop(event.id, None)
        if future is None or future.done():
            return
        try:
            value = codec.decode(event.body, event.attachments, self._wire_types)
        except Exception as exc:  # UndecodableValue, or a bug: it fails this request, never the connection
            future.set_exception(ProtocolError(f"{self._name}: undecodable response to request {event.id}: {exc}"))
            return
        if event.ok:
            future.set_result(value)
            return
        if isinstance(value, RemoteError):
            future.set_exception(RemoteFailure(value.type, value.message, value.traceback))
            return
        error = value if isinstance(value, dict) else {}  # a peer without the registry sends a dict
        type_name, message = str(error.get("type", "Error")), str(error.get("message", value))
        future.set_exception(RemoteFailure(type_name, message, str(error.get("traceback", ""))))

    # -- serving ----------------------------------------------------------------------------------
    async def _serve(self, event: IncomingRequest) -> None:
        ok, answer = True, None
        try:
            payload = codec.decode(event.body, event.attachments, self._wire_types)
            answer = await self._handler(event.name, payload)
        except asyncio.CancelledError:
            ok, answer = False, self._error("CancelledError", "cancelled by the peer")
        except Exception as exc:
            text = "".join(traceback.format_exception(exc))
            ok, answer = False, self._error(type(exc).__name__, str(exc), text)
        self._answer(event.id, ok, answer)
        await self._flush()

    def _answer_if_cancelled_unstarted(self, request_id: int, task: asyncio.Task[None]) -> None:
        """A handler task cancelled before its first step never ran ``_serve``: answer it here."""
        if self._handlers.get(request_id) is task:
            self._answer(request_id, False, self._error("CancelledError", "cancelled by the peer"))
            self._flush_soon()

    def _error(self, type_name: str, message: str, traceback_text: str = "") -> Any:
        """An error answer: a :class:`RemoteError` where the registry carries it, else the same as a dict."""
        error = RemoteError(type=type_name, message=message, traceback=traceback_text)
        if self._wire_types is not None and self._wire_types.get("RemoteError") is RemoteError:
            return error
        return {"type": error.type, "message": error.message, "traceback": error.traceback}

    def _answer(self, request_id: int, ok: bool, answer: Any) -> None:
        """Queue the one response to the peer's request ``request_id``; flush next."""
        self._handlers.pop(request_id, None)
        if self.closed.done():
            return
        try:
            if isinstance(answer, codec.Encoded):  # the handler encoded it (to say which value could not cross)
                tree, attachments = answer.tree, answer.attachments
            else:
                tree, attachments = codec.encode(answer, self._wire_types, self.protocol.max_attachments)
            self.protocol.send_response(request_id, ok, tree, attachments)
        except (codec.UnencodableValue, OversizedMessage) as exc:
            problem = self._error("ValueTransferError", f"the answer: {exc}")
            tree, attachments = codec.encode(problem, self._wire_types)
            self.protocol.send_response(request_id, False, tree, attachments)

    # -- closing ----------------------------------------------------------------------------------
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
        """Write what is queued (for a few seconds at most), close the transport, fail what is pending."""
        if not self.closed.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drain(), _CLOSE_DRAIN_TIMEOUT)
        await self.transport.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), _CLOSE_DRAIN_TIMEOUT)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        self._fail_all("closed locally")

    async def _drain(self) -> None:
        await self._idle.wait()
        await self._flush()


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
