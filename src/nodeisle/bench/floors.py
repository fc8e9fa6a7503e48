"""Floors that need WebSockets: a bare websockets server and bare websockets client processes.

nodeisle itself imports websockets in one module only (``nodeisle.bus.ws``), so the floors are
scripts of their own, run in subprocesses by file path, never through nodeisle's bus:

- the *harness* (:mod:`nodeisle.bench.floor_harness`) runs on the orchestrator's interpreter. It
  listens on 127.0.0.1 with compression off and no keepalive pings (as the bus does), spawns floor
  children and times them, and answers one JSON command per stdin line with one JSON line on stdout.
- a *floor child* (:mod:`nodeisle.bench.floor_child`) runs on a library env's interpreter by absolute
  path, with the environment a worker gets: it imports websockets, connects, sends one message, then
  answers each JSON request with a JSON response of the size the request asks for (an echo with our
  message sizes).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The floor scripts, run by file path (never imported here: they import websockets, which nodeisle
#: imports in ``nodeisle.bus.ws`` only). ``-I`` keeps their folder off ``sys.path``.
FLOOR_CHILD = Path(__file__).with_name("floor_child.py")
HARNESS = Path(__file__).with_name("floor_harness.py")


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
            sys.executable, "-I", str(HARNESS), str(FLOOR_CHILD), config,
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
