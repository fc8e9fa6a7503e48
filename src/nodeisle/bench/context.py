"""What the rows share: the work directory, the bench libraries, their envs, orchestrators, floors.

Everything is built lazily, so ``--only ROW`` sets up just what that row needs. All engine state
lives under the work directory; the user's engine home is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nodeisle
from nodeisle.bench import libraries
from nodeisle.bench.floors import FloorHarness
from nodeisle.config.settings import Settings
from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.orchestrator.hosts import RUNTIME_REQUIREMENTS
from nodeisle.orchestrator.workers import worker_environment
from nodeisle.requests import CreateNodeRequest, ExecuteNodeRequest, LibraryMode, RegisterLibraryRequest, Result

TRIVIAL = "Bench Trivial"
PAYLOAD = "Bench Payload"


class BenchFailure(RuntimeError):
    """A step of the benchmark failed; the row that hit it reports the message as its reason."""


def ok(result: Result) -> Any:
    if not result.succeeded:
        raise BenchFailure(f"{type(result).__name__}: {result.message}")
    return result


@dataclass(frozen=True)
class Plan:
    """How much to measure: the full run or the seconds-long ``--quick`` smoke run."""

    quick: bool
    seq_reps: int
    seq_rounds: int
    flight_requests: int
    flight_rounds: int
    flow_nodes: int
    flow_chains: int
    flow_reps: int
    cold_reps: int
    reuse_reps: int
    build_reps: int
    payload_sizes: tuple[tuple[int, int], ...]  # (MB, reps)
    scale_counts: tuple[int, ...]
    scale_reps: int
    peer: bool

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls(quick=True, seq_reps=150, seq_rounds=2, flight_requests=320, flight_rounds=1, flow_nodes=100,
                       flow_chains=10, flow_reps=1, cold_reps=2, reuse_reps=5, build_reps=1,
                       payload_sizes=((1, 3), (16, 1)), scale_counts=(1, 4), scale_reps=1, peer=False)
        return cls(quick=False, seq_reps=500, seq_rounds=6, flight_requests=3200, flight_rounds=3, flow_nodes=1000,
                   flow_chains=20, flow_reps=3, cold_reps=10, reuse_reps=50, build_reps=5,
                   payload_sizes=((1, 20), (16, 5), (100, 3)), scale_counts=(1, 4, 16), scale_reps=3, peer=True)


@dataclass
class Context:
    plan: Plan
    work: Path
    progress: Callable[[str], None] = print
    _orchestrators: dict[str, Orchestrator] = field(default_factory=dict)
    _libraries: dict[str, Path] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)  # figures one row hands to another

    # -- engine ---------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        home = self.work / "home"
        home.mkdir(parents=True, exist_ok=True)
        return home

    def new_orchestrator(self) -> Orchestrator:
        """A fresh orchestrator on the bench's engine home (envs built there are reused)."""
        return build_orchestrator(self.home, Settings.load(self.home))

    @contextlib.asynccontextmanager
    async def orchestrator(self) -> AsyncIterator[Orchestrator]:
        """A fresh orchestrator whose bus already listens, closed (workers stopped) on exit."""
        async with self.new_orchestrator() as orchestrator:
            await orchestrator.hub.ensure_started()
            yield orchestrator

    async def shared(self, key: str, build: Callable[[Orchestrator], Awaitable[None]]) -> Orchestrator:
        """A long-lived orchestrator, set up once by ``build``; all are closed by :meth:`close`."""
        if key not in self._orchestrators:
            orchestrator = self.new_orchestrator()
            await orchestrator.__aenter__()
            self._orchestrators[key] = orchestrator
            await build(orchestrator)
        return self._orchestrators[key]

    async def close(self) -> None:
        for orchestrator in self._orchestrators.values():
            with contextlib.suppress(Exception):
                await orchestrator.__aexit__(None, None, None)
        self._orchestrators.clear()

    # -- libraries ------------------------------------------------------------------------------
    def library(self, name: str) -> Path:
        if name not in self._libraries:
            root = self.work / "libraries"
            if name == PAYLOAD:
                path = libraries.write_library(root, name, libraries.PAYLOAD_NODES, libraries.PAYLOAD_CLASSES,
                                               self.payload_pins())
            else:  # the trivial library, also under the names of the scale rows
                path = libraries.write_library(root, name, libraries.TRIVIAL_NODES, libraries.TRIVIAL_CLASSES)
            self._libraries[name] = path
        return self._libraries[name]

    @staticmethod
    def payload_pins() -> list[str]:
        """numpy, at the orchestrator's version when it has one (that wheel is in the test wheelhouse)."""
        try:
            return [f"numpy=={importlib.metadata.version('numpy')}"]
        except importlib.metadata.PackageNotFoundError:
            return ["numpy"]

    def ensure_env(self, orchestrator: Orchestrator, name: str) -> Any:
        """Build (or reuse) the env of library ``name`` exactly as registering it Isolated would."""
        pins = self.payload_pins() if name == PAYLOAD else []
        return orchestrator.envs.ensure(name, pins, [], list(RUNTIME_REQUIREMENTS), runtime_source())

    async def register(self, orchestrator: Orchestrator, name: str, mode: str) -> None:
        request = RegisterLibraryRequest(path=str(self.library(name)), mode=LibraryMode(mode))
        ok(await orchestrator.handle_async(request))

    async def trivial(self, mode: str) -> Orchestrator:
        """An orchestrator with the trivial library in ``mode`` and one ``Add`` node named ``a``."""

        async def build(orchestrator: Orchestrator) -> None:
            self.progress(f"registering {TRIVIAL!r} {mode} (builds its env the first time)")
            await self.register(orchestrator, TRIVIAL, mode)
            ok(await orchestrator.handle_async(CreateNodeRequest(node_type="Add", node_name="a", library_name=TRIVIAL)))

        return await self.shared(f"trivial-{mode}", build)

    async def payload(self) -> Orchestrator:
        """An orchestrator with the numpy library Isolated and one ``Echo`` node named ``e``."""

        async def build(orchestrator: Orchestrator) -> None:
            self.progress(f"registering {PAYLOAD!r} isolated (builds its env with numpy the first time)")
            await self.register(orchestrator, PAYLOAD, "isolated")
            request = CreateNodeRequest(node_type="Echo", node_name="e", library_name=PAYLOAD)
            ok(await orchestrator.handle_async(request))

        return await self.shared("payload", build)

    # -- floors ---------------------------------------------------------------------------------
    async def trivial_python(self) -> Path:
        """The interpreter of the trivial library's env: the floor children run on it too."""
        orchestrator = await self.trivial("isolated")
        return Path(self.ensure_env(orchestrator, TRIVIAL).python)

    @contextlib.asynccontextmanager
    async def harness(self) -> AsyncIterator[FloorHarness]:
        python = await self.trivial_python()
        harness = FloorHarness(python, worker_environment(python))
        await harness.start()
        try:
            yield harness
        finally:
            await harness.close()


def runtime_source() -> Path:
    return Path(nodeisle.__file__).parent


async def execute_timed(orchestrator: Orchestrator, node: str, values: dict[str, Any]) -> tuple[float, Any]:
    """Seconds one ExecuteNodeRequest took, and its result (which must have succeeded)."""
    started = time.perf_counter()
    result = await orchestrator.handle_async(ExecuteNodeRequest(node_name=node, parameter_values=values))
    elapsed = time.perf_counter() - started
    return elapsed, ok(result)


def worker_pid(orchestrator: Orchestrator, library: str) -> int:
    """The pid of ``library``'s worker process."""
    worker = getattr(orchestrator.libraries[library].host, "worker", None)
    process = getattr(worker, "process", None)
    if process is None:
        raise BenchFailure(f"library {library!r} has no worker process")
    return int(process.pid)


def rss_mib(pid: int) -> tuple[float, float | None]:
    """Resident set size and proportional set size (MiB) of ``pid``, from /proc (Linux)."""
    rss = pss = None
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    if rss is None:
        raise BenchFailure(f"no VmRSS for pid {pid}")
    return rss, pss


def uv_binary() -> str:
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        import shutil

        found = shutil.which("uv")
        if found is None:
            raise BenchFailure("uv is not available: install it with `pip install uv`") from None
        return found


def machine_facts() -> dict[str, Any]:
    import platform
    import sys

    facts: dict[str, Any] = {
        "python": sys.version.split()[0], "implementation": sys.implementation.name,
        "platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "nodeisle": nodeisle.__version__,
    }
    for dist in ("websockets", "uv", "numpy"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            facts[dist] = importlib.metadata.version(dist)
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
        facts["cpu"] = names[0] if names else None
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        facts["memory_gib"] = round(int(meminfo.readline().split()[1]) / 1024 / 1024, 1)
    with contextlib.suppress(OSError):
        facts["load_average"] = list(os.getloadavg())
    return facts


async def gather_timed(*coroutines: Awaitable[Any]) -> float:
    started = time.perf_counter()
    await asyncio.gather(*coroutines)
    return time.perf_counter() - started
