"""The bus protocol as a state machine, with no I/O.

Feed frames received from the peer to :meth:`BusProtocol.receive`, which returns events; queue
messages with ``send_*`` and drain the frames to write with :meth:`BusProtocol.data_to_send`.
Timeouts belong to the caller (``bus/peer.py``): a request it stops awaiting, because its time ran
out or it was cancelled, is cancelled here with :meth:`BusProtocol.send_cancel`.

Wire format (protocol version :data:`PROTOCOL_VERSION`). Every message is one JSON text frame,
followed by its attachments as binary frames of at most ``chunk_size`` bytes:

    {"t":"req","id":7,"name":"ExecuteNodeRequest","body":<tree>,"sizes":[n, ...]}
    {"t":"res","id":7,"ok":true,"body":<tree>,"sizes":[...]}
    {"t":"cancel","id":7}

``sizes`` lists each attachment's byte length (omitted means ``[]``). A header whose sizes add up
to more than ``max_attachments`` is refused before anything is allocated; the receiver's buffers
grow as the bytes arrive (a header alone never makes it allocate what it declares), from the binary
frames, which must follow their header with nothing in between. An attachment may span several
frames, and a frame may finish one attachment and start the next; zero-length attachments take no
bytes. Ids are positive integers chosen by the sender of a request, strictly increasing per
direction on one connection: a request whose id is not above the last one seen (a replay, or a
reordered frame) is a protocol error.

Every request is answered exactly once, also when it was cancelled (then ``ok`` is false). A
request whose sender cancelled it (also when its timeout passed) is no longer awaited: its late response, with
its attachments, is consumed silently. A response to an id that is neither awaited nor abandoned
(a replayed or duplicate response) is a protocol error, like any malformed frame. After a
:class:`~nodeisle.errors.ProtocolError` the protocol stays usable: the bad frame, and the
partial message it belonged to, are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nodeisle.errors import ProtocolError

PROTOCOL_VERSION = 2  # 2: typed messages (nodeisle.wire.messages) instead of string-named dicts
TOKEN_HEADER = "X-Nodeisle-Token"
VERSION_HEADER = "X-Nodeisle-Protocol"
WORKER_HEADER = "X-Nodeisle-Worker"

DEFAULT_CHUNK_SIZE = 1 << 20
DEFAULT_MAX_TEXT = 16 << 20
DEFAULT_MAX_ATTACHMENTS = 4 << 30
MAX_ATTACHMENT_COUNT = 1 << 16  # attachments in one message: more is a protocol error, before allocation

# How many abandoned (cancelled) request ids are remembered to absorb late responses.
_MAX_ABANDONED = 4096

Frame = str | bytes | bytearray | memoryview


class OversizedMessage(ProtocolError):
    """A message to send is larger than the limits the receiving side enforces: nothing was queued."""


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
    """A message whose header arrived and whose attachments are still coming.

    With ``discard`` the bytes are counted, not stored: the message is not wanted any more.
    """

    __slots__ = ("buffers", "discard", "filled", "header", "index", "sizes")

    def __init__(self, header: dict[str, Any], sizes: list[int], discard: bool = False) -> None:
        self.header = header
        self.sizes = sizes
        self.discard = discard
        # Empty buffers that grow with the bytes: what a header declares is not trusted with memory.
        self.buffers = [] if discard else [bytearray() for _ in sizes]
        self.index = 0
        self.filled = 0
        self._skip_full()

    def _skip_full(self) -> None:
        while self.index < len(self.sizes) and self.filled == self.sizes[self.index]:
            self.index += 1
            self.filled = 0

    @property
    def complete(self) -> bool:
        return self.index >= len(self.sizes)

    def feed(self, view: memoryview) -> None:
        while view.nbytes:
            if self.complete:
                raise ProtocolError("binary frame carries more bytes than the message's attachments declare")
            take = min(view.nbytes, self.sizes[self.index] - self.filled)
            if not self.discard:
                self.buffers[self.index] += view[:take]
            self.filled += take
            view = view[take:]
            self._skip_full()


class BusProtocol:
    """One side of a bus connection."""

    def __init__(
        self,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_text: int = DEFAULT_MAX_TEXT,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        first_id: int = 1,
    ) -> None:
        for name, value in (("chunk_size", chunk_size), ("max_text", max_text), ("max_attachments", max_attachments)):
            if type(value) is not int or value < 1:
                raise ValueError(f"BusProtocol: {name} must be a positive int, got {value!r}")
        self.chunk_size = chunk_size
        self.max_text = max_text
        self.max_attachments = max_attachments
        self._next_id = first_id
        self._outgoing: list[Frame] = []
        self._pending: set[int] = set()  # our request ids awaiting a response
        self._abandoned: dict[int, None] = {}  # our request ids no longer awaited, oldest first
        self._incoming: set[int] = set()  # the peer's request ids not answered yet
        self._last_incoming = 0  # the peer's highest request id so far: ids only grow on a connection
        self._partial: _Partial | None = None

    # -- sending ----------------------------------------------------------------------------------
    def send_request(self, name: str, body: Any, attachments: Sequence[memoryview] = ()) -> int:
        """Queue a request; returns its id."""
        request_id = self._next_id
        self._queue({"t": "req", "id": request_id, "name": name, "body": body}, attachments)
        self._next_id += 1
        self._pending.add(request_id)
        return request_id

    def send_response(self, request_id: int, ok: bool, body: Any, attachments: Sequence[memoryview] = ()) -> None:
        """Queue the answer to the peer's request ``request_id``."""
        self._queue({"t": "res", "id": request_id, "ok": ok, "body": body}, attachments)
        self._incoming.discard(request_id)

    def send_cancel(self, request_id: int) -> None:
        """Ask the peer to cancel request ``request_id``; its answer is no longer awaited."""
        if request_id in self._pending:
            self._pending.discard(request_id)
            self._abandon(request_id)
            self._outgoing.append(json.dumps({"t": "cancel", "id": request_id}, separators=(",", ":")))

    def forget(self, request_id: int) -> None:
        """Stop waiting for ``request_id`` without telling the peer (it is gone)."""
        self._pending.discard(request_id)

    def _queue(self, header: dict[str, Any], attachments: Sequence[memoryview]) -> None:
        """Serialize first, then queue: a body json cannot write, or a message over the limits the peer
        enforces (:class:`OversizedMessage`), leaves the protocol unchanged."""
        views = [a if a.format == "B" and a.ndim == 1 else a.cast("B") for a in attachments]
        header["sizes"] = [view.nbytes for view in views]
        total = sum(header["sizes"])
        if len(views) > MAX_ATTACHMENT_COUNT:
            raise OversizedMessage(f"it has {len(views)} values of bytes, over the limit of {MAX_ATTACHMENT_COUNT}")
        if total > self.max_attachments:
            raise OversizedMessage(f"its values take {total} bytes, over the limit of {self.max_attachments}")
        text = json.dumps(header, separators=(",", ":"))
        if len(text) > self.max_text:
            raise OversizedMessage(
                f"its JSON part is {len(text)} characters, over the limit of {self.max_text} (too many small values)"
            )
        frames: list[Frame] = [text]
        step = self.chunk_size
        for view in views:
            frames.extend(view[start : start + step] for start in range(0, view.nbytes, step))
        self._outgoing.extend(frames)

    def requeue(self, frames: Sequence[Frame]) -> None:
        """Put frames taken from :meth:`data_to_send` but not written back in front, in order."""
        self._outgoing[:0] = frames

    def data_to_send(self) -> list[Frame]:
        """The frames to write, in order; each message's frames are contiguous."""
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
        partial = self._partial
        if partial is None:
            raise ProtocolError("binary frame without a message header announcing attachments")
        try:
            view = memoryview(frame).cast("B")
            partial.feed(view)
        except (ProtocolError, TypeError, ValueError) as exc:
            self._partial = None
            if isinstance(exc, ProtocolError):
                raise
            raise ProtocolError(f"frame of type {type(frame).__name__} is not a binary frame") from None
        if not partial.complete:
            return []
        self._partial = None
        return self._complete(partial)

    def _receive_text(self, frame: str) -> list[Event]:
        if self._partial is not None:
            # The incomplete message is dropped; the frame that interrupted it is a message of its own.
            self._partial = None
            problem = "text frame arrived while the previous message's attachments were incomplete"
            try:
                events = self._receive_text(frame)
            except ProtocolError as exc:
                raise ProtocolError(f"{problem}; and that frame: {exc}") from None
            raise ProtocolError(problem, events)
        if len(frame) > self.max_text:
            raise ProtocolError(f"text frame of {len(frame)} characters exceeds the limit of {self.max_text}")
        try:
            header = json.loads(frame)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(f"text frame is not JSON: {exc}") from None
        if not isinstance(header, dict):
            raise ProtocolError("message must be a JSON object")
        kind = header.get("t")
        request_id = header.get("id")
        if type(request_id) is not int or request_id <= 0:
            raise ProtocolError(f"message id must be a positive integer, got {request_id!r}")
        if kind == "cancel":
            return [IncomingCancel(request_id)] if request_id in self._incoming else []
        if kind not in ("req", "res"):
            raise ProtocolError(f"unknown message type {kind!r}")
        if kind == "req" and not isinstance(header.get("name"), str):
            raise ProtocolError("request without a string 'name'")
        if kind == "req" and request_id <= self._last_incoming:
            raise ProtocolError(
                f"request id {request_id} is not above the last one ({self._last_incoming}): a replayed or "
                "reordered request"
            )
        if kind == "res" and type(header.get("ok")) is not bool:
            raise ProtocolError("response without a boolean 'ok'")
        if kind == "res" and request_id not in self._pending and request_id not in self._abandoned:
            raise ProtocolError(f"response to unknown or already answered request {request_id}")
        sizes = header.get("sizes", [])
        if type(sizes) is list and len(sizes) > MAX_ATTACHMENT_COUNT:  # before looking at each one
            raise ProtocolError(f"{len(sizes)} attachments in one message exceed the limit of {MAX_ATTACHMENT_COUNT}")
        if type(sizes) is not list or not all(type(s) is int and s >= 0 for s in sizes):
            raise ProtocolError("'sizes' must be a list of non-negative integers")
        if sum(sizes) > self.max_attachments:
            raise ProtocolError(f"attachments of {sum(sizes)} bytes exceed the limit of {self.max_attachments}")
        if kind == "req":
            self._last_incoming = request_id  # taken even if the message turns out bad: never reusable
        partial = _Partial(header, sizes, discard=kind == "res" and request_id not in self._pending)
        if partial.complete:
            return self._complete(partial)
        self._partial = partial
        return []

    def _complete(self, partial: _Partial) -> list[Event]:
        header = partial.header
        if header["t"] == "req":
            self._incoming.add(header["id"])  # only a delivered request awaits an answer
            return [IncomingRequest(header["id"], header["name"], header.get("body"), partial.buffers)]
        if header["id"] not in self._pending:
            # Cancelled meanwhile: the late answer is not wanted.
            self._abandoned.pop(header["id"], None)
            return []
        self._pending.discard(header["id"])
        return [IncomingResponse(header["id"], header["ok"], header.get("body"), partial.buffers)]

    def _abandon(self, request_id: int) -> None:
        self._abandoned[request_id] = None
        if len(self._abandoned) > _MAX_ABANDONED:
            del self._abandoned[next(iter(self._abandoned))]

    @property
    def pending(self) -> frozenset[int]:
        """Ids of our requests still awaiting a response."""
        return frozenset(self._pending)

