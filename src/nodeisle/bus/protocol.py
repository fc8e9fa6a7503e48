"""The bus protocol as a state machine, with no I/O.

Feed frames received from the peer to :meth:`BusProtocol.receive`, which returns events; queue
messages with ``send_*`` and drain the frames to write with :meth:`BusProtocol.data_to_send`.
Deadlines are checked by :meth:`BusProtocol.expire` with the current time passed in.

Wire format (protocol version :data:`PROTOCOL_VERSION`). Every message is one JSON text frame,
followed by its attachments as binary frames of at most ``chunk_size`` bytes:

    {"t": "req", "id": 7, "name": "ExecuteNodeRequest", "body": <tree>, "sizes": [n, ...]}
    {"t": "res", "id": 7, "ok": true, "body": <tree>, "sizes": [...]}
    {"t": "cancel", "id": 7}

``sizes`` lists each attachment's byte length; the receiver preallocates one buffer per
attachment and fills it from the binary frames, which must follow their header with nothing in
between. Ids are chosen by the sender of a request and are unique per direction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nodeisle._errors import ProtocolError

PROTOCOL_VERSION = 1
TOKEN_HEADER = "X-Nodeisle-Token"
VERSION_HEADER = "X-Nodeisle-Protocol"
WORKER_HEADER = "X-Nodeisle-Worker"

DEFAULT_CHUNK_SIZE = 1 << 20
DEFAULT_MAX_TEXT = 16 << 20
DEFAULT_MAX_ATTACHMENTS = 4 << 30

Frame = str | bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    id: int
    name: str
    body: Any
    attachments: list[bytearray]


@dataclass(frozen=True, slots=True)
class IncomingResponse:
    id: int
    ok: bool
    body: Any
    attachments: list[bytearray]


@dataclass(frozen=True, slots=True)
class IncomingCancel:
    id: int


Event = IncomingRequest | IncomingResponse | IncomingCancel


class _Partial:
    """A message whose header arrived and whose attachments are still coming."""

    __slots__ = ("buffers", "filled", "header", "index")

    def __init__(self, header: dict[str, Any], sizes: list[int]) -> None:
        self.header = header
        self.buffers = [bytearray(size) for size in sizes]
        self.index = 0
        self.filled = 0
        self._skip_empty()

    def _skip_empty(self) -> None:
        while self.index < len(self.buffers) and self.filled == len(self.buffers[self.index]):
            self.index += 1
            self.filled = 0

    @property
    def complete(self) -> bool:
        return self.index >= len(self.buffers)

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        view = memoryview(chunk)
        while view.nbytes:
            if self.complete:
                raise ProtocolError("binary frame carries more bytes than the message's attachments declare")
            buffer = self.buffers[self.index]
            take = min(view.nbytes, len(buffer) - self.filled)
            buffer[self.filled : self.filled + take] = view[:take]
            self.filled += take
            view = view[take:]
            self._skip_empty()


class BusProtocol:
    """One side of a bus connection."""

    def __init__(
        self,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_text: int = DEFAULT_MAX_TEXT,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
    ) -> None:
        self.chunk_size = chunk_size
        self.max_text = max_text
        self.max_attachments = max_attachments
        self._next_id = 1
        self._outgoing: list[Frame] = []
        self._pending: dict[int, float | None] = {}  # request id -> deadline
        self._partial: _Partial | None = None

    # -- sending ----------------------------------------------------------------------------------
    def send_request(self, name: str, body: Any, attachments: Sequence[memoryview] = (), deadline: float | None = None) -> int:
        request_id = self._next_id
        self._next_id += 1
        self._pending[request_id] = deadline
        self._queue({"t": "req", "id": request_id, "name": name, "body": body}, attachments)
        return request_id

    def send_response(self, request_id: int, ok: bool, body: Any, attachments: Sequence[memoryview] = ()) -> None:
        self._queue({"t": "res", "id": request_id, "ok": ok, "body": body}, attachments)

    def send_cancel(self, request_id: int) -> None:
        """Ask the peer to cancel request ``request_id``; its answer is no longer awaited."""
        if self._pending.pop(request_id, _MISSING) is not _MISSING:
            self._outgoing.append(json.dumps({"t": "cancel", "id": request_id}))

    def forget(self, request_id: int) -> None:
        """Stop waiting for ``request_id`` without telling the peer (it is gone)."""
        self._pending.pop(request_id, None)

    def _queue(self, header: dict[str, Any], attachments: Sequence[memoryview]) -> None:
        header["sizes"] = [a.nbytes for a in attachments]
        self._outgoing.append(json.dumps(header, separators=(",", ":")))
        step = self.chunk_size
        for attachment in attachments:
            for start in range(0, attachment.nbytes, step):
                self._outgoing.append(attachment[start : start + step])

    def data_to_send(self) -> list[Frame]:
        frames, self._outgoing = self._outgoing, []
        return frames

    # -- receiving --------------------------------------------------------------------------------
    def receive(self, frame: Frame) -> list[Event]:
        """Process one frame from the peer. Raises ProtocolError for a frame that breaks the protocol.

        After a ProtocolError the connection is still usable: the bad frame, and the partial
        message it belonged to, are dropped.
        """
        if isinstance(frame, str):
            return self._receive_text(frame)
        if self._partial is None:
            raise ProtocolError("binary frame without a message header announcing attachments")
        try:
            self._partial.feed(frame)
        except ProtocolError:
            self._partial = None
            raise
        if self._partial.complete:
            partial, self._partial = self._partial, None
            return [self._event(partial.header, partial.buffers)]
        return []

    def _receive_text(self, frame: str) -> list[Event]:
        if self._partial is not None:
            self._partial = None
            raise ProtocolError("text frame arrived while the previous message's attachments were incomplete")
        if len(frame) > self.max_text:
            raise ProtocolError(f"text frame of {len(frame)} characters exceeds the limit of {self.max_text}")
        try:
            header = json.loads(frame)
        except ValueError as exc:
            raise ProtocolError(f"text frame is not JSON: {exc}") from None
        if not isinstance(header, dict):
            raise ProtocolError("message must be a JSON object")
        kind = header.get("t")
        request_id = header.get("id")
        if type(request_id) is not int or request_id <= 0:
            raise ProtocolError(f"message id must be a positive integer, got {request_id!r}")
        if kind == "cancel":
            return [IncomingCancel(request_id)]
        if kind not in ("req", "res"):
            raise ProtocolError(f"unknown message type {kind!r}")
        if kind == "req" and not isinstance(header.get("name"), str):
            raise ProtocolError("request without a string 'name'")
        if kind == "res" and type(header.get("ok")) is not bool:
            raise ProtocolError("response without a boolean 'ok'")
        if kind == "res" and request_id not in self._pending:
            raise ProtocolError(f"response to unknown or already answered request {request_id}")
        sizes = header.get("sizes", [])
        if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes):
            raise ProtocolError("'sizes' must be a list of non-negative integers")
        if sum(sizes) > self.max_attachments:
            raise ProtocolError(f"attachments of {sum(sizes)} bytes exceed the limit of {self.max_attachments}")
        partial = _Partial(header, sizes)
        if partial.complete:
            return [self._event(header, partial.buffers)]
        self._partial = partial
        return []

    def _event(self, header: dict[str, Any], buffers: list[bytearray]) -> Event:
        if header["t"] == "req":
            return IncomingRequest(header["id"], header["name"], header.get("body"), buffers)
        if self._pending.pop(header["id"], _MISSING) is _MISSING:
            raise ProtocolError(f"response to unknown or already answered request {header['id']}")
        return IncomingResponse(header["id"], header["ok"], header.get("body"), buffers)

    # -- deadlines --------------------------------------------------------------------------------
    def expire(self, now: float) -> list[int]:
        """Ids of pending requests whose deadline has passed; they are no longer awaited."""
        expired = [rid for rid, deadline in self._pending.items() if deadline is not None and deadline <= now]
        for rid in expired:
            del self._pending[rid]
        return expired

    def next_deadline(self) -> float | None:
        deadlines = [d for d in self._pending.values() if d is not None]
        return min(deadlines) if deadlines else None

    @property
    def pending(self) -> frozenset[int]:
        return frozenset(self._pending)


_MISSING: Any = object()
