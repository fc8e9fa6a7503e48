"""The floor harness: a bare websockets server that spawns floor children and times them.

Run by file path on the orchestrator's interpreter (``python -I floor_harness.py CHILD CONFIG``, see
:class:`nodeisle.bench.floors.FloorHarness`); ``CHILD`` is the path of ``floor_child.py`` and
``CONFIG`` a JSON object with the children's ``python`` and ``env``. Standard library and websockets
only: it never imports nodeisle, whose one websockets importer is ``nodeisle.bus.ws``. It listens on
127.0.0.1 with compression off and no keepalive pings (as the bus does), and answers one JSON
command per stdin line with one JSON line on stdout: ``spawn``, ``echo``, ``blob``, ``release``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

_COMPACT = (",", ":")


def message(i: int, size: int, pad_for_reply: int) -> str:
    """A request of ``size`` characters asking for a reply padded by ``pad_for_reply``."""
    base = json.dumps({"t": "req", "id": i, "pad": pad_for_reply, "body": ""}, separators=_COMPACT)
    return json.dumps({"t": "req", "id": i, "pad": pad_for_reply, "body": "y" * max(0, size - len(base))},
                      separators=_COMPACT)


def reply_pad(size: int) -> int:
    """The pad that makes a child's reply ``size`` characters long."""
    return max(0, size - len(json.dumps({"t": "res", "id": 1000, "ok": True, "body": ""}, separators=_COMPACT)))


class Harness:
    """The server, the children it keeps, and the commands."""

    def __init__(self, child: str, config: dict[str, Any]) -> None:
        self.child = child
        self.config = config
        self.url = ""
        self.arrivals: asyncio.Queue[tuple[ServerConnection, float]] = asyncio.Queue()
        self.kept: list[tuple[asyncio.subprocess.Process, ServerConnection]] = []

    async def handler(self, connection: ServerConnection) -> None:
        await connection.recv()
        await self.arrivals.put((connection, time.perf_counter()))
        await connection.wait_closed()

    async def spawn(self, count: int, keep: bool) -> dict[str, Any]:
        started = time.perf_counter()
        procs = [await asyncio.create_subprocess_exec(
            self.config["python"], "-I", self.child, self.url, env=self.config["env"],
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            for _ in range(count)]
        ready = []
        for _ in range(count):
            connection, at = await asyncio.wait_for(self.arrivals.get(), 60)
            ready.append((connection, at - started))
        if keep:
            # pair processes with their connections by order of arrival: any pairing serves the echo and RSS
            self.kept.extend(zip(procs, [c for c, _ in ready], strict=True))
        else:
            for proc in procs:
                proc.kill()
                await proc.wait()
        return {"ready_s": [t for _, t in ready], "all_s": max(t for _, t in ready), "pids": [p.pid for p in procs]}

    async def echo(self, n: int, req: int, res: int, depth: int) -> dict[str, Any]:
        connection = self.kept[0][1]
        pad = reply_pad(res)
        if depth == 1:
            samples = []
            for i in range(n):
                started = time.perf_counter()
                await connection.send(message(i, req, pad))
                json.loads(await connection.recv())
                samples.append(time.perf_counter() - started)
            return {"samples_s": samples}
        loop = asyncio.get_running_loop()
        pending: dict[int, asyncio.Future[None]] = {}

        async def reader() -> None:
            for _ in range(n):
                answer = json.loads(await connection.recv())
                pending.pop(answer["id"]).set_result(None)

        async def sender(first: int) -> None:
            for i in range(first, n, depth):
                future = pending[i] = loop.create_future()
                await connection.send(message(i, req, pad))
                await future

        started = time.perf_counter()
        await asyncio.gather(reader(), *(sender(k) for k in range(depth)))
        return {"elapsed_s": time.perf_counter() - started}

    async def blob(self, n: int, size: int, chunk: int) -> dict[str, Any]:
        connection = self.kept[0][1]
        data = memoryview(os.urandom(size))
        samples = []
        for i in range(n):
            started = time.perf_counter()
            await connection.send(json.dumps({"t": "req", "id": i, "pad": 4, "blob": size}, separators=_COMPACT))
            for offset in range(0, size, chunk):
                await connection.send(data[offset:offset + chunk])
            json.loads(await connection.recv())
            samples.append(time.perf_counter() - started)
        return {"samples_s": samples}

    async def release(self) -> dict[str, Any]:
        for proc, _connection in self.kept:
            proc.kill()
            await proc.wait()
        self.kept.clear()
        return {}

    async def answer(self, command: dict[str, Any]) -> dict[str, Any] | None:
        """The answer to one command; None for an unknown one (the harness stops)."""
        if command["cmd"] == "spawn":
            return await self.spawn(command["count"], command.get("keep", False))
        if command["cmd"] == "echo":
            return await self.echo(command["n"], command["req"], command["res"], command.get("depth", 1))
        if command["cmd"] == "blob":
            return await self.blob(command["n"], command["size"], command["chunk"])
        if command["cmd"] == "release":
            return await self.release()
        return None

    async def run(self) -> None:
        server = await serve(self.handler, "127.0.0.1", 0, compression=None, max_size=None, ping_interval=None)
        self.url = f"ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}/floor"
        print(json.dumps({"url": self.url}), flush=True)
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            try:
                answer = await self.answer(json.loads(line))
            except Exception as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            if answer is None:
                break
            print(json.dumps(answer), flush=True)
        await self.release()
        server.close()


if __name__ == "__main__":
    asyncio.run(Harness(sys.argv[1], json.loads(sys.argv[2])).run())
