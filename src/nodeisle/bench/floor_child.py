"""A floor child: a bare websockets client, the floor of a worker's start and of its bus traffic.

Run by file path on a library env's interpreter, with the environment a worker gets
(``<env python> -I floor_child.py URL``): that env has websockets but no nodeisle bench, and ``-I``
keeps this file's folder off ``sys.path``. Standard library and websockets only; it never imports
nodeisle. It connects, sends one message, then answers each JSON request with a JSON response of
the size the request asks for (an echo with our message sizes); a request with ``blob`` is followed
by that many bytes in binary frames, read into one preallocated buffer like the bus does.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any


def _connect() -> Any:
    try:
        from websockets.asyncio.client import connect
    except ImportError:  # websockets < 13
        from websockets import connect
    return connect


async def serve_echo(url: str) -> None:
    async with _connect()(url, compression=None, max_size=None, ping_interval=None) as ws:
        await ws.send('{"t":"ready"}')
        async for message in ws:
            request = json.loads(message)
            if request.get("blob"):  # binary frames follow: into one preallocated buffer, like the bus
                buffer, filled = bytearray(request["blob"]), 0
                while filled < len(buffer):
                    chunk = await ws.recv()
                    buffer[filled:filled + len(chunk)] = chunk
                    filled += len(chunk)
            await ws.send(json.dumps({"t": "res", "id": request["id"], "ok": True, "body": "x" * request["pad"]},
                                     separators=(",", ":")))


if __name__ == "__main__":
    asyncio.run(serve_echo(sys.argv[1]))
