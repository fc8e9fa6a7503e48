"""Floors that need WebSockets: a bare websockets server and bare websockets client processes.

nodeisle itself imports websockets in one module only (``nodeisle.bus.ws``), so the floors run as
scripts in subprocesses, never through nodeisle's bus:

- the *harness* runs on the orchestrator's interpreter. It listens on 127.0.0.1 with compression
  off and no keepalive pings (as the bus does), spawns floor children and times them, and answers
  one JSON command per stdin line with one JSON line on stdout.
- a *floor child* runs on a library env's interpreter by absolute path, with the environment a
  worker gets: it imports websockets, connects, sends one message, then answers each JSON request
  with a JSON response of the size the request asks for (an echo with our message sizes).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FLOOR_CHILD = r"""
import asyncio, json, sys

async def main():
    try:
        from websockets.asyncio.client import connect
    except ImportError:  # websockets < 13
        from websockets import connect
    async with connect(sys.argv[1], compression=None, max_size=None, ping_interval=None) as ws:
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

asyncio.run(main())
"""

HARNESS = r"""
import asyncio, json, os, sys, time
from websockets.asyncio.server import serve

CHILD = sys.argv[1]
CONFIG = json.loads(sys.argv[2])


def message(i, size, pad_for_reply):
    base = json.dumps({"t": "req", "id": i, "pad": pad_for_reply, "body": ""}, separators=(",", ":"))
    return json.dumps({"t": "req", "id": i, "pad": pad_for_reply, "body": "y" * max(0, size - len(base))},
                      separators=(",", ":"))


def reply_pad(size):
    return max(0, size - len(json.dumps({"t": "res", "id": 1000, "ok": True, "body": ""}, separators=(",", ":"))))


async def main():
    arrivals = asyncio.Queue()

    async def handler(connection):
        await connection.recv()
        await arrivals.put((connection, time.perf_counter()))
        await connection.wait_closed()

    server = await serve(handler, "127.0.0.1", 0, compression=None, max_size=None, ping_interval=None)
    url = "ws://127.0.0.1:%d/floor" % next(iter(server.sockets)).getsockname()[1]
    kept = []  # (process, connection)

    async def spawn(count, keep):
        started = time.perf_counter()
        procs = [await asyncio.create_subprocess_exec(
            CONFIG["python"], "-I", "-c", CHILD, url, env=CONFIG["env"], stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL) for _ in range(count)]
        ready = []
        for _ in range(count):
            connection, at = await asyncio.wait_for(arrivals.get(), 60)
            ready.append((connection, at - started))
        if keep:
            # pair processes with their connections by order of arrival: any pairing serves the echo and RSS
            kept.extend(zip(procs, [c for c, _ in ready]))
        else:
            for proc in procs:
                proc.kill()
                await proc.wait()
        return {"ready_s": [t for _, t in ready], "all_s": max(t for _, t in ready), "pids": [p.pid for p in procs]}

    async def echo(n, req, res, depth):
        connection = kept[0][1]
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
        pending = {}

        async def reader():
            for _ in range(n):
                answer = json.loads(await connection.recv())
                pending.pop(answer["id"]).set_result(None)

        async def sender(first):
            for i in range(first, n, depth):
                future = pending[i] = loop.create_future()
                await connection.send(message(i, req, pad))
                await future

        started = time.perf_counter()
        await asyncio.gather(reader(), *(sender(k) for k in range(depth)))
        return {"elapsed_s": time.perf_counter() - started}

    async def blob(n, size, chunk):
        connection = kept[0][1]
        data = memoryview(os.urandom(size))
        samples = []
        for i in range(n):
            started = time.perf_counter()
            await connection.send(json.dumps({"t": "req", "id": i, "pad": 4, "blob": size}, separators=(",", ":")))
            for offset in range(0, size, chunk):
                await connection.send(data[offset:offset + chunk])
            json.loads(await connection.recv())
            samples.append(time.perf_counter() - started)
        return {"samples_s": samples}

    async def release():
        for proc, connection in kept:
            proc.kill()
            await proc.wait()
        kept.clear()
        return {}

    print(json.dumps({"url": url}), flush=True)
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        try:
            if command["cmd"] == "spawn":
                answer = await spawn(command["count"], command.get("keep", False))
            elif command["cmd"] == "echo":
                answer = await echo(command["n"], command["req"], command["res"], command.get("depth", 1))
            elif command["cmd"] == "blob":
                answer = await blob(command["n"], command["size"], command["chunk"])
            elif command["cmd"] == "release":
                answer = await release()
            else:
                break
        except Exception as exc:
            answer = {"error": "%s: %s" % (type(exc).__name__, exc)}
        print(json.dumps(answer), flush=True)
    await release()
    server.close()

asyncio.run(main())
"""


class FloorError(RuntimeError):
    """The floor harness failed; the message says which command and why."""


class FloorHarness:
    """Drives the harness subprocess: ``await start()``, then commands, then ``await close()``."""

    def __init__(self, child_python: Path, child_env: Mapping[str, str]) -> None:
        self.child_python = child_python
        self.child_env = dict(child_env)
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        config = json.dumps({"python": str(self.child_python), "env": self.child_env})
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-c", HARNESS, FLOOR_CHILD, config,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 26,
        )
        await self._read("start")

    async def _read(self, what: str) -> dict[str, Any]:
        assert self._process is not None and self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 300)
        if not line:
            raise FloorError(f"floor harness exited during {what!r} (code {await self._process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise FloorError(f"floor harness failed during {what!r}: {answer['error']}")
        return answer

    async def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self._process is not None and self._process.stdin is not None, "call start() first"
        self._process.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
        await self._process.stdin.drain()
        return await self._read(cmd)

    async def spawn(self, count: int, keep: bool = False) -> dict[str, Any]:
        """Spawn ``count`` floor children at once; seconds from spawn until each sent its message."""
        return await self.command("spawn", count=count, keep=keep)

    async def echo(self, n: int, req: int, res: int, depth: int = 1) -> dict[str, Any]:
        """``n`` requests of ``req`` characters answered with ``res``; needs one kept child."""
        return await self.command("echo", n=n, req=req, res=res, depth=depth)

    async def blob(self, n: int, size: int, chunk: int) -> dict[str, Any]:
        """``n`` times: ``size`` bytes in binary frames of ``chunk`` bytes, then a short answer."""
        return await self.command("blob", n=n, size=size, chunk=chunk)

    async def release(self) -> None:
        await self.command("release")

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


__all__ = ["FLOOR_CHILD", "HARNESS", "FloorError", "FloorHarness"]
