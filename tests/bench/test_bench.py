"""``nodeisle bench --quick`` runs end to end, so the benchmarks never rot. No figure is asserted on.

The suite's numbers are ratios to floors measured in the same run; whether they meet their targets
is for docs/performance.md, never for the test suite (a loaded CI machine would fail it at random).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nodeisle.bench import ALL_ROWS, ROW_IDS
from nodeisle.bench.report import Row, Target, p50, p99, table

NUMBER = (int, float)


def bench(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.run([sys.executable, "-m", "nodeisle.cli", "bench", *args], capture_output=True, text=True,
                          env=env, timeout=170)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path, uv_cache: Path) -> dict[str, Any]:
    """One offline ``--quick`` run shared by the tests below (engine home, wheelhouse and uv cache of the suite)."""
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "bench.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NODEISLE_HOME", str(tmp / "home"))
        patch.setenv("NODEISLE_FIND_LINKS", str(wheelhouse))
        patch.setenv("NODEISLE_OFFLINE", "1")
        patch.setenv("NODEISLE_UV_CACHE", str(uv_cache))
        done = bench("--quick", "--json-out", str(out), tmp=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"json": json.loads(out.read_text()), "stdout": done.stdout, "stderr": done.stderr, "tmp": tmp}


def test_quick_run_writes_every_row_with_figures_or_a_reason(quick_run: dict[str, Any]) -> None:
    document = quick_run["json"]
    assert document["format"] == 1 and document["options"]["quick"] is True
    assert {"python", "cpus", "platform"} <= set(document["machine"])
    rows = {row["id"]: row for row in document["rows"]}
    assert list(rows) == list(ROW_IDS)
    for row in rows.values():
        if row["reason"] is not None:
            assert row["ours"] is None and row["reason"].strip(), row
            continue
        assert isinstance(row["ours"], NUMBER) and row["reps"] > 0, row
        if row["floor_label"] != "-":  # every row but the absolute one has a floor from the same run
            assert isinstance(row["floor"], NUMBER) and row["floor_reps"] > 0, row
            assert row["ratio"] == pytest.approx(row["ours"] / row["floor"]), row


def test_quick_run_measures_every_quick_row_and_says_why_it_skips_the_rest(quick_run: dict[str, Any]) -> None:
    rows = {row["id"]: row for row in quick_run["json"]["rows"]}
    skipped = {spec.id for spec in ALL_ROWS if not spec.quick}
    assert skipped == {"payload_bytes_100mb", "payload_array_100mb", "scale_16", "pyisolate_trivial",
                       "pyisolate_array_16mb"}
    failed = {i: r["reason"] for i, r in rows.items() if i not in skipped and r["reason"] is not None}
    assert failed == {}
    assert all("--quick" in rows[i]["reason"] for i in skipped)


def test_quick_run_prints_the_table_and_leaves_no_work_directory(quick_run: dict[str, Any]) -> None:
    assert quick_run["stdout"].startswith("| row | ours | floor | ratio |")
    assert quick_run["stdout"].count("\n") >= len(ROW_IDS) + 1
    assert not list(quick_run["tmp"].glob("nodeisle-bench-*"))


def test_unknown_row_is_refused_with_the_row_names(tmp_path: Path) -> None:
    done = bench("--only", "no_such_row", tmp=tmp_path)
    assert done.returncode == 2 and "no_such_row" in done.stderr and "isolated_sequential" in done.stderr


def test_rows_report_ratio_against_the_floor_and_judge_the_target() -> None:
    cost = Row("r", "cost", "ms", "floor", ours=3.0, floor=2.0, reps=5, floor_reps=5, target=Target("<=", 1.5))
    rate = Row("t", "rate", "req/s", "floor", ours=30.0, floor=100.0, reps=5, floor_reps=5, target=Target(">=", 0.6))
    absolute = Row("a", "abs", "ms", "-", ours=4.0, reps=5, target=Target("<", 50, absolute=True))
    skipped = Row("s", "skipped", "ms", "floor", reason="left out of --quick")
    assert (cost.ratio, cost.met, rate.ratio, rate.met, absolute.ratio, absolute.met) == (1.5, True, 0.3, False, None,
                                                                                          True)
    text = table([cost, rate, absolute, skipped])
    assert "**no**" in text and "not measured: left out of --quick" in text


def test_percentiles_are_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert (p50(samples), p99(samples), p99([5.0])) == (50.5, 99.0, 5.0)
