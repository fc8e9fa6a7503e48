"""The editor's bench row: measured in Debian's chromium against the engine's event time, or skipped with why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nodeisle.bench import editor_latency
from nodeisle.bench.context import Context, Plan
from nodeisle.bench.report import Row
from tests.conftest import run


def _row(tmp_path: Path) -> tuple[Context, Row]:
    spec = editor_latency.EDITOR_ROW
    return Context(Plan.for_mode(True), tmp_path, lambda _text: None), Row(spec.id, spec.title, spec.unit,
                                                                          spec.floor_label)


def test_the_row_measures_the_page_against_the_engines_event_time_and_a_bare_page(
    tmp_path: Path, offline_home: Path
) -> None:
    ctx, row = _row(tmp_path)
    try:
        run(editor_latency.editor_latency(ctx, row), timeout=170)
    finally:
        run(ctx.close())
    assert row.reason is None, row.reason
    assert row.ours is not None and row.floor is not None and row.reps == row.floor_reps == 10
    assert 0 < row.floor < row.ours < 2000  # ms: the page does more than the bare page, well under 2 s
    assert row.ratio is not None and row.ratio > 1


@pytest.mark.parametrize("lacking", ["chromium", "playwright"])
def test_without_a_browser_the_row_says_what_to_install(tmp_path: Path, monkeypatch: Any, lacking: str) -> None:
    if lacking == "chromium":
        monkeypatch.setenv("NODEISLE_BENCH_CHROMIUM", str(tmp_path / "no-chromium"))
        monkeypatch.setenv("PATH", str(tmp_path))
    else:
        real = editor_latency.importlib.util.find_spec
        monkeypatch.setattr(editor_latency.importlib.util, "find_spec",
                            lambda name: None if name == "playwright" else real(name))
    ctx, row = _row(tmp_path)
    run(editor_latency.editor_latency(ctx, row))
    assert row.ours is None and row.reason is not None
    assert ("apt-get install -y chromium" if lacking == "chromium" else "Playwright") in row.reason
