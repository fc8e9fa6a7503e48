"""The rows of the suite. Each measures ours and its floor in the same run, interleaved where it can.

Latency rows alternate rounds of ours and of the floor, so load from anything else on the machine
lands on both. The first requests of a connection are warm-up and are dropped from both samples.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nodeisle.bench import libraries
from nodeisle.bench.context import (
    PAYLOAD,
    TRIVIAL,
    BenchFailure,
    Context,
    execute_timed,
    ok,
    rss_mib,
    runtime_source,
    uv_binary,
    worker_pid,
)
from nodeisle.bench.report import Row, Target, p50, p99
from nodeisle.bus.protocol import DEFAULT_CHUNK_SIZE
from nodeisle.orchestrator.envs import EnvManager
from nodeisle.orchestrator.hosts import RUNTIME_REQUIREMENTS
from nodeisle.orchestrator.workers import WorkerProcess
from nodeisle.requests import CreateConnectionRequest, CreateFlowRequest, CreateNodeRequest, RunFlowRequest
from nodeisle.wire.messages import Ping

US, MS = 1e6, 1e3
WARMUP = 20
ECHO_FLOOR = "websockets JSON echo, same sizes"


@dataclass(frozen=True)
class RowSpec:
    id: str
    title: str
    measure: Callable[[Context, Row], Awaitable[None]]
    unit: str
    floor_label: str
    target: Target | None
    quick: bool = True  # part of --quick
    why_not_quick: str = ""


# -- trivial execute --------------------------------------------------------------------------------
async def shared_execute(ctx: Context, row: Row) -> None:
    orchestrator = await ctx.trivial("shared")
    ours: list[float] = []
    floor: list[float] = []
    for _ in range(ctx.plan.seq_rounds):
        for i in range(ctx.plan.seq_reps):
            ours.append((await execute_timed(orchestrator, "a", {"x": i}))[0])
        for i in range(ctx.plan.seq_reps):
            started = time.perf_counter()
            libraries.plain_add(i)
            floor.append(time.perf_counter() - started)
    _latency(row, ours[WARMUP:], floor[WARMUP:], US)


def _latency(row: Row, ours: list[float], floor: list[float], scale: float) -> None:
    row.ours, row.ours_p99, row.reps = p50(ours) * scale, p99(ours) * scale, len(ours)
    row.floor, row.floor_p99, row.floor_reps = p50(floor) * scale, p99(floor) * scale, len(floor)


class _SizeRecorder:
    """Wraps a bus transport to record the size of each text frame (our request and response)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sent: list[int] = []
        self.received: list[int] = []

    async def send(self, frame: Any) -> None:
        if isinstance(frame, str):
            self.sent.append(len(frame.encode()))
        await self.inner.send(frame)

    async def recv(self) -> Any:
        frame = await self.inner.recv()
        if isinstance(frame, str):
            self.received.append(len(frame.encode()))
        return frame

    async def close(self) -> None:
        await self.inner.close()


async def frame_sizes(ctx: Context) -> tuple[int, int]:
    """Bytes of the text frames one trivial Isolated execution puts on the bus, each way."""
    if "frame_sizes" not in ctx.results:
        orchestrator = await ctx.trivial("isolated")
        worker: WorkerProcess = orchestrator.libraries[TRIVIAL].host.worker  # type: ignore[union-attr]
        peer = worker.peer
        assert peer is not None
        recorder = _SizeRecorder(peer.transport)
        peer.transport = recorder
        try:  # the receive loop already waits in the old transport: the second answer comes through ours
            for i in range(3):
                await execute_timed(orchestrator, "a", {"x": i})
        finally:
            peer.transport = recorder.inner
        if not recorder.sent or not recorder.received:
            raise BenchFailure("could not observe the frames of one execution")
        ctx.results["frame_sizes"] = (max(recorder.sent), max(recorder.received))
    sizes: tuple[int, int] = ctx.results["frame_sizes"]
    return sizes


async def _against_echo(ctx: Context, row: Row, once: Callable[[int], Awaitable[Any]]) -> None:
    """Rounds of ``once`` (timed one by one) alternating with rounds of the echo floor."""
    request, response = await frame_sizes(ctx)
    ours: list[float] = []
    floor: list[float] = []
    async with ctx.harness() as harness:
        await harness.spawn(1, keep=True)
        for _ in range(ctx.plan.seq_rounds):
            for i in range(ctx.plan.seq_reps):
                started = time.perf_counter()
                await once(i)
                ours.append(time.perf_counter() - started)
            floor += (await harness.echo(ctx.plan.seq_reps, request, response))["samples_s"]
    _latency(row, ours[WARMUP:], floor[WARMUP:], US)
    row.params.update(request_bytes=request, response_bytes=response)


async def isolated_sequential(ctx: Context, row: Row) -> None:
    orchestrator = await ctx.trivial("isolated")
    await _against_echo(ctx, row, lambda i: execute_timed(orchestrator, "a", {"x": i}))
    ctx.results["isolated_sequential"] = (row.ours, row.ours_p99, row.reps)


async def bus_round_trip(ctx: Context, row: Row) -> None:
    """The bus alone: codec, protocol, peer and WebSocket transport, with no node and no engine around it."""
    orchestrator = await ctx.trivial("isolated")
    worker: WorkerProcess = orchestrator.libraries[TRIVIAL].host.worker  # type: ignore[union-attr]
    peer = worker.peer
    assert peer is not None
    await _against_echo(ctx, row, lambda i: peer.request("Ping", Ping()))


async def isolated_in_flight(ctx: Context, row: Row) -> None:
    orchestrator = await ctx.trivial("isolated")
    request, response = await frame_sizes(ctx)
    depth, total = 32, ctx.plan.flight_requests

    async def lane(first: int) -> None:
        for i in range(first, total, depth):
            await execute_timed(orchestrator, "a", {"x": i})

    ours: list[float] = []
    floor: list[float] = []
    async with ctx.harness() as harness:
        await harness.spawn(1, keep=True)
        await harness.echo(depth * 4, request, response, depth)  # warm-up
        await asyncio.gather(*(lane(k) for k in range(depth)))
        for _ in range(ctx.plan.flight_rounds):
            started = time.perf_counter()
            await asyncio.gather(*(lane(k) for k in range(depth)))
            ours.append(total / (time.perf_counter() - started))
            floor.append(total / (await harness.echo(total, request, response, depth))["elapsed_s"])
    row.ours, row.floor = p50(ours), p50(floor)
    row.reps, row.floor_reps = total * len(ours), total * len(floor)
    row.params.update(in_flight=depth, requests_per_round=total, rounds=len(ours))


async def bus_payload(ctx: Context, row: Row) -> None:
    """The bus alone with a payload: 16 MB of bytes to the worker (no node), against raw websockets."""
    orchestrator = await ctx.trivial("isolated")
    worker: WorkerProcess = orchestrator.libraries[TRIVIAL].host.worker  # type: ignore[union-attr]
    peer = worker.peer
    assert peer is not None
    size, reps = 16_000_000, dict(ctx.plan.payload_sizes)[16]
    data = os.urandom(size)
    ours: list[float] = []
    floor: list[float] = []
    async with ctx.harness() as harness:
        await harness.spawn(1, keep=True)
        await harness.blob(1, size, DEFAULT_CHUNK_SIZE)  # warm-up, both sides
        await peer.request("Ping", Ping(data))
        for _ in range(reps):
            started = time.perf_counter()
            await peer.request("Ping", Ping(data))
            ours.append(time.perf_counter() - started)
            floor += (await harness.blob(1, size, DEFAULT_CHUNK_SIZE))["samples_s"]
    _latency(row, ours, floor, MS)
    row.ours_p99 = row.floor_p99 = None
    row.params.update(bytes=size, frame_bytes=DEFAULT_CHUNK_SIZE)


# -- flows ------------------------------------------------------------------------------------------
async def flow_1000(ctx: Context, row: Row) -> None:
    nodes, chains = ctx.plan.flow_nodes, ctx.plan.flow_chains
    walls: dict[str, list[float]] = {"shared": [], "isolated": []}
    for mode in ("shared", "isolated"):
        async with ctx.orchestrator() as orchestrator:
            await ctx.register(orchestrator, TRIVIAL, mode)
            ok(await orchestrator.handle_async(CreateFlowRequest(flow_name="bench")))
            length = nodes // chains
            for chain in range(chains):
                for k in range(length):
                    ok(await orchestrator.handle_async(CreateNodeRequest(
                        node_type="Add", library_name=TRIVIAL, node_name=f"n{chain}_{k}", flow_name="bench")))
                    if k:
                        ok(await orchestrator.handle_async(CreateConnectionRequest(
                            source_node_name=f"n{chain}_{k - 1}", source_parameter_name="y",
                            target_node_name=f"n{chain}_{k}", target_parameter_name="x")))
            for _ in range(ctx.plan.flow_reps):
                started = time.perf_counter()
                result = ok(await orchestrator.handle_async(RunFlowRequest(flow_name="bench")))
                walls[mode].append(time.perf_counter() - started)
                last = result.nodes[f"n0_{length - 1}"].outputs.get("y")
                if last != length:
                    raise BenchFailure(f"the {mode} flow computed {last!r} at the end of a chain, expected {length}")
    row.ours, row.floor = p50(walls["isolated"]) * MS, p50(walls["shared"]) * MS
    row.reps, row.floor_reps = len(walls["isolated"]), len(walls["shared"])
    row.params.update(nodes=nodes, chains=chains, nodes_per_chain=nodes // chains)


# -- workers ----------------------------------------------------------------------------------------
async def cold_start(ctx: Context, row: Row) -> None:
    await ctx.trivial_python()  # the env is built before anything is timed
    ours: list[float] = []
    floor: list[float] = []
    rss: list[float] = []
    floor_rss: list[float] = []
    pss: list[float] = []
    floor_pss: list[float] = []
    async with ctx.harness() as harness:
        for _ in range(ctx.plan.cold_reps):
            async with ctx.orchestrator() as orchestrator:
                started = time.perf_counter()
                await ctx.register(orchestrator, TRIVIAL, "isolated")
                ours.append(time.perf_counter() - started)
                await asyncio.sleep(0.3)
                resident, proportional = rss_mib(worker_pid(orchestrator, TRIVIAL))
                rss.append(resident)
                pss += [proportional] if proportional is not None else []
            spawned = await harness.spawn(1, keep=True)
            floor.append(spawned["ready_s"][0])
            await asyncio.sleep(0.3)
            resident, proportional = rss_mib(spawned["pids"][0])
            floor_rss.append(resident)
            floor_pss += [proportional] if proportional is not None else []
            await harness.release()
    _latency(row, ours, floor, MS)
    ctx.results["idle_rss"] = (rss, floor_rss, pss, floor_pss)


async def idle_rss(ctx: Context, row: Row) -> None:
    if "idle_rss" not in ctx.results:
        await cold_start(ctx, Row("cold_start", "", "", ""))
    rss, floor_rss, pss, floor_pss = ctx.results["idle_rss"]
    row.ours, row.floor, row.reps, row.floor_reps = p50(rss), p50(floor_rss), len(rss), len(floor_rss)
    if pss and floor_pss:
        row.params.update(pss_mib=round(p50(pss), 1), floor_pss_mib=round(p50(floor_pss), 1))


def scale(count: int) -> Callable[[Context, Row], Awaitable[None]]:
    async def measure(ctx: Context, row: Row) -> None:
        names = [f"Bench Scale {i:02d}" for i in range(count)]
        orchestrator = await ctx.trivial("isolated")
        for name in names:  # every library's env is built before anything is timed
            await asyncio.to_thread(ctx.ensure_env, orchestrator, name)
        ours: list[float] = []
        floor: list[float] = []
        async with ctx.harness() as harness:
            for _ in range(ctx.plan.scale_reps):
                async with ctx.orchestrator() as fresh:
                    started = time.perf_counter()
                    await asyncio.gather(*(ctx.register(fresh, name, "isolated") for name in names))
                    ours.append(time.perf_counter() - started)
                floor.append((await harness.spawn(count))["all_s"])
        _latency(row, ours, floor, MS)
        row.ours_p99 = row.floor_p99 = None
        row.params.update(libraries=count)

    return measure


# -- environments -----------------------------------------------------------------------------------
async def env_reuse(ctx: Context, row: Row) -> None:
    orchestrator = await ctx.trivial("isolated")
    samples = []
    for _ in range(ctx.plan.reuse_reps):
        started = time.perf_counter()
        info = ctx.ensure_env(orchestrator, TRIVIAL)
        samples.append(time.perf_counter() - started)
        if not info.reused:
            raise BenchFailure("an unchanged library's env was rebuilt instead of reused")
    row.ours, row.ours_p99, row.reps = p50(samples) * MS, p99(samples) * MS, len(samples)


async def env_build(ctx: Context, row: Row) -> None:
    orchestrator = await ctx.payload()  # its env is built first: from here on the pins are in the uv cache
    envs: EnvManager = orchestrator.envs
    uv = uv_binary()
    pins = ctx.payload_pins()
    requirements = [*pins, *RUNTIME_REQUIREMENTS]
    cache = ["--cache-dir", str(envs.cache_dir)]
    sources = [arg for link in envs.find_links for arg in ("--find-links", link)]
    sources += ["--offline"] if envs.offline else []
    child_env = {**os.environ, "UV_NO_PROGRESS": "1", "NO_COLOR": "1"}
    base = ctx.work / "env-build"
    ours: list[float] = []
    floor: list[float] = []
    for rep in range(ctx.plan.build_reps):
        manager = EnvManager(base / f"ours-{rep}", cache_dir=envs.cache_dir, find_links=envs.find_links,
                             offline=envs.offline)
        started = time.perf_counter()
        info = await asyncio.to_thread(manager.ensure, PAYLOAD, pins, [], list(RUNTIME_REQUIREMENTS), runtime_source())
        ours.append(time.perf_counter() - started)
        if info.reused:
            raise BenchFailure("the env-build row found an env where it expected to build one")
        target = base / f"floor-{rep}"
        started = time.perf_counter()
        for args in (["venv", "--python", sys.executable, *cache, str(target)],
                     ["pip", "install", "--python", str(target / "bin" / "python"), *requirements, *cache, *sources]):
            done = await asyncio.to_thread(subprocess.run, [uv, *args], capture_output=True, text=True, env=child_env,
                                           stdin=subprocess.DEVNULL, check=False)
            if done.returncode != 0:
                raise BenchFailure(f"floor `uv {args[0]}` failed: {done.stderr.strip()[-500:]}")
        floor.append(time.perf_counter() - started)
    _latency(row, ours, floor, MS)
    row.ours_p99 = row.floor_p99 = None
    row.params.update(requirements=requirements, offline=envs.offline)


# -- payloads ---------------------------------------------------------------------------------------
def payload(megabytes: int, kind: str) -> Callable[[Context, Row], Awaitable[None]]:
    async def measure(ctx: Context, row: Row) -> None:
        reps = dict(ctx.plan.payload_sizes)[megabytes]
        ours, floor = await measure_payload(ctx, megabytes, kind, reps)
        _latency(row, ours, floor, MS)
        row.ours_p99 = row.floor_p99 = None
        size = megabytes * 1_000_000
        row.params.update(bytes=size, ours_mb_per_s=round(size / p50(ours) / 1e6, 1),
                          floor_mb_per_s=round(size / p50(floor) / 1e6, 1))
        if megabytes == 16 and kind == "array":
            ctx.results["array_16mb"] = (row.ours, len(ours))

    return measure


def make_value(megabytes: int, kind: str) -> Any:
    size = megabytes * 1_000_000
    if kind == "bytes":
        return os.urandom(size)
    import numpy

    return numpy.random.default_rng(0).random(size // 4, dtype=numpy.float32)


def copy_twice(value: Any) -> Any:
    """The payload floor: the buffer copied in memory twice into fresh memory, once in and once out.

    numpy copies for bytes too where it is installed: it is the fastest copy in Python here (it
    backs large arrays with huge pages), about 3x faster than ``bytes(bytearray(value))``, and a
    floor must not flatter us.
    """
    try:
        import numpy
    except ImportError:
        return bytes(bytearray(value)) if isinstance(value, bytes) else value.copy().copy()
    return numpy.frombuffer(value, dtype=numpy.uint8).copy().copy()


async def measure_payload(ctx: Context, megabytes: int, kind: str, reps: int) -> tuple[list[float], list[float]]:
    orchestrator = await ctx.payload()
    value = make_value(megabytes, kind)
    await execute_timed(orchestrator, "e", {"data": value})  # warm-up: first numpy import in the worker
    ours: list[float] = []
    floor: list[float] = []
    for _ in range(reps):
        elapsed, result = await execute_timed(orchestrator, "e", {"data": value})
        back = result.parameter_output_values["data_out"]
        if type(back) is not type(value) or len(back) != len(value):
            raise BenchFailure(f"the {kind} payload came back as {type(back).__name__} of length {len(back)}")
        del back, result
        ours.append(elapsed)
        started = time.perf_counter()
        copy_twice(value)
        floor.append(time.perf_counter() - started)
    return ours, floor


ROWS: tuple[RowSpec, ...] = (
    RowSpec("shared_execute", "trivial node execute, Shared", shared_execute, "µs", "plain function call", None),
    RowSpec("isolated_sequential", "trivial node execute, Isolated, sequential (p50)", isolated_sequential, "µs",
            ECHO_FLOOR, Target("<=", 1.5)),
    RowSpec("bus_round_trip", "bus round trip alone: worker ping, no node (p50)", bus_round_trip, "µs",
            f"{ECHO_FLOOR} (the execution's sizes)", Target("<=", 1.5)),
    RowSpec("isolated_in_flight", "same, 32 executions in flight (throughput)", isolated_in_flight, "req/s",
            f"{ECHO_FLOOR}, 32 in flight", Target(">=", 0.6)),
    RowSpec("flow_1000", "1,000-node flow, Isolated vs Shared (wall)", flow_1000, "ms", "the same flow Shared", None),
    RowSpec("cold_start", "worker cold start, env built (spawn → schema registered)", cold_start, "ms",
            "python -c: import websockets, connect, send one message", Target("<=", 1.5)),
    RowSpec("env_reuse", "env reuse (unchanged library re-registered)", env_reuse, "ms", "-", Target("<", 50, True)),
    RowSpec("env_build", "env build, warm uv cache", env_build, "ms", "uv venv + uv pip install, same pins",
            Target("<=", 1.5)),
    *(RowSpec(f"payload_{kind}_{mb}mb", f"payload {mb} MB {'bytes' if kind == 'bytes' else 'float32 array'}, "
              "into an isolated node and back", payload(mb, kind), "ms", "two in-memory copies", Target("<=", 2),
              quick=mb <= 16, why_not_quick="100 MB payloads are left out of --quick")
      for mb in (1, 16, 100) for kind in ("bytes", "array")),
    RowSpec("bus_payload_16mb", "bus alone: 16 MB bytes to the worker, short answer, no node", bus_payload, "ms",
            "raw websockets: the same bytes in 1 MiB frames into a preallocated buffer", Target("<=", 1.5)),
    RowSpec("idle_rss", "idle worker memory (RSS)", idle_rss, "MiB", "bare python + websockets, connected",
            Target("<=", 1.3)),
    *(RowSpec(f"scale_{n}", f"scale: {n} isolated {'library' if n == 1 else 'libraries'} until all ready", scale(n),
              "ms", f"{n} floor {'process' if n == 1 else 'processes'}", Target("<=", 1.5), quick=n <= 4,
              why_not_quick="16-library scale is left out of --quick") for n in (1, 4, 16)),
)
