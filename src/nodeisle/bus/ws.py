"""WebSocket transport: the only module that imports ``websockets``.

The orchestrator side (:func:`serve`) needs websockets >= 13. The worker side (:func:`connect`)
supports a wide range (10 and newer), because a library may pin its own websockets version and the
worker runtime must still run in that library's environment.

Admission happens in the opening handshake, before any frame is read: a connection must present
a credential the server accepts for the worker id it names (compared in constant time) and this
protocol version in request headers; otherwise it is answered with HTTP 401 or 426 and a body that
says why. The orchestrator's hub issues one single-use credential per worker (see
:class:`nodeisle.orchestrator.workers.WorkerHub`).

The worker side never goes through an HTTP proxy, whatever the environment says: the bus is
loopback only, and websockets >= 15 would otherwise honour ``HTTP_PROXY``/``ALL_PROXY`` even for
127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hmac
import http
import inspect
import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.exceptions import ConnectionClosed

from nodeisle.bus.peer import TransportClosed
from nodeisle.bus.protocol import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_TEXT,
    PROTOCOL_VERSION,
    TOKEN_HEADER,
    VERSION_HEADER,
    WORKER_HEADER,
    Frame,
)
from nodeisle.errors import HandshakeRefused

LOGGER = logging.getLogger("nodeisle.bus")
# websockets' DEBUG lines show handshake headers (the worker's credential) and frame contents (secret
# values in refreshes): never at any verbosity. Its INFO and above still show.
logging.getLogger("websockets").setLevel(logging.INFO)
MAX_FRAME = max(DEFAULT_MAX_TEXT, DEFAULT_CHUNK_SIZE) + 1024
UNIX_SCHEME = "ws+unix://"  # the bus on a Unix socket: ws+unix:///path/to/bus.sock

class WebSocketTransport:
    """A :class:`~nodeisle.bus.peer.FrameTransport` over one websockets connection (any API generation)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def send(self, frame: Frame) -> None:
        try:
            await self._connection.send(frame)
        except ConnectionClosed as exc:
            raise TransportClosed(_closed_reason(exc)) from None

    async def recv(self) -> str | bytes:
        try:
            frame: str | bytes = await self._connection.recv()
        except ConnectionClosed as exc:
            raise TransportClosed(_closed_reason(exc)) from None
        return frame

    async def close(self) -> None:
        await self._connection.close()


def _closed_reason(exc: ConnectionClosed) -> str:
    rcvd = getattr(exc, "rcvd", None)
    if rcvd is not None:
        return f"connection closed by the peer (code {rcvd.code}{', ' + rcvd.reason if rcvd.reason else ''})"
    return "connection lost"


Admitted = Callable[[WebSocketTransport, str], Awaitable[None]]
#: ``authorize(worker_id, offered_credential)``: True if the credential is valid for that worker id.
#: It must not consume the credential: ``on_connect`` claims it once the handshake has completed.
Authorize = Callable[[str, str], bool]


def shared_token(token: str) -> Authorize:
    """An authorizer that admits any worker id presenting ``token`` (tests and benchmarks)."""
    if not token:
        raise ValueError("bus: an empty token would admit anyone; pass a secret token")
    expected = token.encode()

    def authorize(_worker_id: str, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), expected)

    return authorize


class BusServer:
    """The orchestrator's bus endpoint on a loopback address."""

    def __init__(self, server: Any, port: int, host: str = "127.0.0.1", unix_path: str | None = None) -> None:
        self._server = server
        self.port = port
        self.url = f"ws://{host if ':' not in host else f'[{host}]'}:{port}/bus"
        self.unix_path = unix_path
        if unix_path is not None:  # a worker without network (a sandbox) reaches the bus through this socket
            self.url = f"{UNIX_SCHEME}{unix_path}"

    @property
    def addresses(self) -> list[tuple[Any, ...]]:
        """The socket addresses the server listens on."""
        return [sock.getsockname() for sock in self._server.sockets]

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()
        if self.unix_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.unix_path)


async def serve(
    token: str | Authorize, on_connect: Admitted, *, host: str = "127.0.0.1", unix_path: str | None = None
) -> BusServer:
    """Listen on ``host`` (loopback) at a free port, or on the Unix socket ``unix_path``; admit connections
    ``token`` authorizes.

    ``token`` is either one shared secret (:func:`shared_token`) or an authorizer called with the
    worker id and the credential a connection offers.
    """
    from websockets.asyncio.server import serve as ws_serve
    from websockets.asyncio.server import unix_serve

    if not _is_loopback(host):
        raise ValueError(f"bus: refusing to listen on {host!r}; pass a loopback address such as 127.0.0.1")
    authorize = shared_token(token) if isinstance(token, str) else token

    def admit(connection: Any, request: Any) -> Any:
        peer = connection.remote_address
        offered = request.headers.get(TOKEN_HEADER, "")
        if not offered or not authorize(request.headers.get(WORKER_HEADER, ""), offered):
            LOGGER.warning("bus: refused a connection from %s: %s", peer, "no token" if not offered else "wrong token")
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "nodeisle bus: missing or wrong token\n")
        version = request.headers.get(VERSION_HEADER, "")
        if version != str(PROTOCOL_VERSION):
            LOGGER.warning("bus: refused worker %s: protocol version %r, expected %s",
                           request.headers.get(WORKER_HEADER, "?"), version, PROTOCOL_VERSION)
            return connection.respond(
                http.HTTPStatus.UPGRADE_REQUIRED,
                f"nodeisle bus: protocol version {version or '(none)'} is not supported; this orchestrator speaks "
                f"version {PROTOCOL_VERSION}. Rebuild the library's environment (nodeisle envs rebuild NAME).\n",
            )
        return None

    async def handler(connection: Any) -> None:
        worker_id = connection.request.headers.get(WORKER_HEADER, "")
        await on_connect(WebSocketTransport(connection), worker_id)

    options: dict[str, Any] = {"process_request": admit, "compression": None, "max_size": MAX_FRAME,
                               "ping_interval": None, "max_queue": 64}
    if unix_path is not None:
        server = await unix_serve(handler, unix_path, **options)
        return BusServer(server, 0, host, unix_path)
    server = await ws_serve(handler, host, 0, **options)
    port = next(iter(server.sockets)).getsockname()[1]
    return BusServer(server, port, host)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def connect(url: str, token: str, worker_id: str, *, version: int = PROTOCOL_VERSION) -> WebSocketTransport:
    """Connect a worker to the orchestrator's bus. Raises HandshakeRefused with the server's reason."""
    headers = {TOKEN_HEADER: token, VERSION_HEADER: str(version), WORKER_HEADER: worker_id}
    options: dict[str, Any] = {"compression": None, "max_size": MAX_FRAME, "ping_interval": None}
    try:
        from websockets.asyncio.client import connect as ws_connect
        from websockets.asyncio.client import unix_connect

        options["additional_headers"] = headers
        if "proxy" in inspect.signature(ws_connect.__init__).parameters:  # websockets >= 15 reads proxy variables
            options["proxy"] = None
    except ImportError:  # websockets < 13: the legacy client
        from websockets.legacy.client import connect as ws_connect  # type: ignore[assignment]
        from websockets.legacy.client import unix_connect  # type: ignore[assignment]

        options["extra_headers"] = headers
    try:
        if url.startswith(UNIX_SCHEME):
            connection = await unix_connect(url[len(UNIX_SCHEME):], "ws://localhost/bus", **options)
        else:
            connection = await ws_connect(url, **options)
    except Exception as exc:
        status, body = _refusal(exc)
        if status is None:
            raise
        # The legacy client does not read the response body: say what the status means instead.
        reason = body.strip() or _STATUS_REASONS.get(status, "").format(version=version)
        raise HandshakeRefused(f"the orchestrator refused the connection: HTTP {status}: {reason}") from None
    return WebSocketTransport(connection)


_STATUS_REASONS = {
    401: "nodeisle bus: missing or wrong token",
    426: "nodeisle bus: protocol version {version} is not supported by this orchestrator",
}


def _refusal(exc: Exception) -> tuple[int | None, str]:
    response = getattr(exc, "response", None)
    if response is not None and hasattr(response, "status_code"):
        body = response.body.decode("utf-8", "replace") if getattr(response, "body", None) else ""
        return int(response.status_code), body
    status = getattr(exc, "status_code", None)
    return (int(status), "") if status is not None else (None, "")
