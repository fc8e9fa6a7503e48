"""The floor of the editor's latency row: the least a page can do to show a pushed status.

Run by file path (``python -P editor_floor.py``); standard library and websockets only, it never
imports nodeisle. It serves one page on 127.0.0.1 (its port is the first line on stdout) whose
script opens a WebSocket and, on each frame, writes the status into one element, as the editor's
page does with a node's status; each ``go`` from the page is answered with ``{"at": time.time()}``,
the floor's "engine event time", taken just before the frame is sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

PAGE = b"""<!doctype html><meta charset="utf-8"><title>floor</title><div id="status">idle</div><script>
const ws = new WebSocket("ws://" + location.host + "/ws");
const el = document.getElementById("status");
window.go = () => ws.send("go");
window.opened = new Promise((resolve) => ws.addEventListener("open", resolve));
ws.onmessage = (m) => { const e = JSON.parse(m.data); window.lastAt = e.at; el.textContent = e.status + " " + e.n; };
</script>"""


async def main() -> None:
    from websockets.asyncio.server import serve
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    count = 0

    def page(connection: Any, request: Any) -> Any:
        if request.path == "/ws":
            return None
        headers = Headers([("Content-Type", "text/html"), ("Content-Length", str(len(PAGE)))])
        return Response(200, "OK", headers, PAGE)

    async def answer(ws: Any) -> None:
        nonlocal count
        async for _ in ws:
            count += 1
            await ws.send(json.dumps({"at": time.time(), "status": "succeeded", "n": count}))

    async with serve(answer, "127.0.0.1", 0, process_request=page, compression=None) as server:
        print(next(iter(server.sockets)).getsockname()[1], flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
