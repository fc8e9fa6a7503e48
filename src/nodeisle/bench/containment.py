"""Containment rows: what a sandbox and cgroup limits add to a worker's start, against a plain start.

Both sides start the same trivial library Isolated, in the same run, alternating: the floor is
the plain start (no limits, no sandbox), so the ratio is the containment's own cost.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Awaitable, Callable

from nodeisle.bench.context import TRIVIAL, BenchFailure, Context
from nodeisle.bench.report import Row, Target, p50, p99
from nodeisle.bench.suite import MS, RowSpec
from nodeisle.config.settings import Settings
from nodeisle.orchestrator.cgroups import machine_facts
from nodeisle.orchestrator.containment import Limits, plan
from nodeisle.orchestrator.engine import build_orchestrator

LIMITS = Limits(memory=512 * 1024**2, max_processes=256)


async def _start(ctx: Context, settings: Settings) -> float:
    """Seconds from registering the trivial library Isolated to its schema, on ``settings``."""
    async with build_orchestrator(ctx.home, settings) as orchestrator:
        await orchestrator.hub.ensure_started()
        started = time.perf_counter()
        await ctx.register(orchestrator, TRIVIAL, "isolated")
        return time.perf_counter() - started


def _settings(ctx: Context, *, sandbox: bool, limits: bool) -> Settings:
    settings = Settings.load(ctx.home)
    if sandbox:
        settings.library_sandbox[TRIVIAL] = {"enabled": True, "network": False}
    if limits:
        settings.library_limits[TRIVIAL] = LIMITS
    return settings


def started_with(*, sandbox: bool, limits: bool) -> Callable[[Context, Row], Awaitable[None]]:
    async def measure(ctx: Context, row: Row) -> None:
        if sandbox and shutil.which("bwrap") is None:
            raise BenchFailure("bubblewrap is not installed (apt-get install bubblewrap)")
        chosen = plan(LIMITS, machine_facts())
        if limits and not chosen.cgroup_files:
            raise BenchFailure(f"no cgroup on this machine: {chosen.reason}")
        await ctx.trivial_python()  # the env is built before anything is timed
        ours: list[float] = []
        floor: list[float] = []
        for _ in range(ctx.plan.cold_reps):
            ours.append(await _start(ctx, _settings(ctx, sandbox=sandbox, limits=limits)))
            floor.append(await _start(ctx, _settings(ctx, sandbox=False, limits=False)))
        row.ours, row.ours_p99, row.reps = p50(ours) * MS, p99(ours) * MS, len(ours)
        row.floor, row.floor_p99, row.floor_reps = p50(floor) * MS, p99(floor) * MS, len(floor)
        row.params.update(mechanism=chosen.mechanism if limits else "none", sandbox=sandbox)

    return measure


CONTAINMENT_ROWS: tuple[RowSpec, ...] = (
    RowSpec("sandbox_start", "worker start in a bubblewrap sandbox (spawn → schema registered)",
            started_with(sandbox=True, limits=False), "ms", "the same start, no sandbox", Target("<=", 1.5)),
    RowSpec("limits_start", "worker start in a cgroup with memory and process limits",
            started_with(sandbox=False, limits=True), "ms", "the same start, no limits", Target("<=", 1.2)),
)
