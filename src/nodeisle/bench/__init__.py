"""``nodeisle bench``: the cost of isolation, as ratios to floors measured in the same run.

Run it with ``nodeisle bench [--quick] [--json-out PATH] [--only ROW...]``; ``docs/performance.md``
explains the rows, the floors and the latest results. The suite lives under ``orchestrator/`` so the
env builder never copies it into a worker's runtime.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nodeisle.bench.containment import CONTAINMENT_ROWS
from nodeisle.bench.context import Context, Plan, machine_facts
from nodeisle.bench.peer import PEER_ROWS
from nodeisle.bench.report import Row, Target, report, table
from nodeisle.bench.suite import ROWS, RowSpec

ALL_ROWS: tuple[RowSpec, ...] = (*ROWS, *PEER_ROWS, *CONTAINMENT_ROWS)
ROW_IDS: tuple[str, ...] = tuple(spec.id for spec in ALL_ROWS)


def _selected(spec: RowSpec, only: Sequence[str]) -> bool:
    return not only or any(spec.id == item or spec.id.startswith(item) for item in only)


def unknown_rows(only: Sequence[str]) -> list[str]:
    """The entries of ``--only`` that select no row."""
    return [item for item in only if not any(spec.id.startswith(item) for spec in ALL_ROWS)]


async def run_suite(
    *, quick: bool = False, only: Sequence[str] = (), work_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    """Measure the selected rows; a row that cannot be measured carries the reason instead of figures."""
    say = progress or (lambda text: print(f"bench: {text}", file=sys.stderr, flush=True))
    work = Path(tempfile.mkdtemp(prefix="nodeisle-bench-", dir=work_dir))
    ctx = Context(Plan.for_mode(quick), work, say)
    rows: list[Row] = []
    try:
        for spec in ALL_ROWS:
            if not _selected(spec, only):
                continue
            row = Row(spec.id, spec.title, spec.unit, spec.floor_label, target=spec.target)
            rows.append(row)
            if quick and not spec.quick:
                row.reason = spec.why_not_quick
                continue
            say(f"{spec.id}: measuring")
            started = time.perf_counter()
            try:
                await spec.measure(ctx, row)
            except Exception as exc:  # a row that fails says why; the others still run
                row.ours = row.floor = row.ours_p99 = row.floor_p99 = None
                row.reason = f"{type(exc).__name__}: {exc}"
            say(f"{spec.id}: done in {time.perf_counter() - started:.1f} s"
                + (f" (not measured: {row.reason})" if row.reason else ""))
    finally:
        await ctx.close()
        shutil.rmtree(work, ignore_errors=True)
    return rows


def to_json(rows: Sequence[Row], *, quick: bool, only: Sequence[str], command: str) -> dict[str, Any]:
    return report(rows, machine_facts(), {"quick": quick, "only": list(only), "command": command})


__all__ = ["ALL_ROWS", "ROW_IDS", "Row", "Target", "run_suite", "table", "to_json", "unknown_rows"]
