"""Rows of the benchmark table: our figure, the floor measured in the same run, their ratio, the reps.

A row's ``ratio`` is always ``ours / floor`` in the row's unit. Whether lower or higher is better
follows from the target: ``<=`` rows are costs (time, memory), ``>=`` rows are rates (throughput).
A row that could not be measured has no figures and says why in ``reason``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

JSON_FORMAT = 1


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty sample."""
    if not samples:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def p50(samples: Sequence[float]) -> float:
    return float(statistics.median(samples))


def p99(samples: Sequence[float]) -> float:
    return percentile(samples, 0.99)


@dataclass(frozen=True)
class Target:
    op: str  # "<=" or ">=" (ratio) or "<" (absolute figure, when there is no floor)
    value: float
    absolute: bool = False  # compare ``ours`` itself, not the ratio

    def met(self, ours: float | None, ratio: float | None) -> bool | None:
        figure = ours if self.absolute else ratio
        if figure is None:
            return None
        if self.op == "<=":
            return figure <= self.value
        if self.op == ">=":
            return figure >= self.value
        return figure < self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}" + (" (absolute)" if self.absolute else "")


@dataclass
class Row:
    id: str
    title: str
    unit: str
    floor_label: str
    ours: float | None = None
    floor: float | None = None
    ours_p99: float | None = None
    floor_p99: float | None = None
    reps: int = 0
    floor_reps: int = 0
    target: Target | None = None
    reason: str | None = None
    note: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.floor is None or self.floor == 0:
            return None
        return self.ours / self.floor

    @property
    def met(self) -> bool | None:
        return self.target.met(self.ours, self.ratio) if self.target is not None else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = str(self.target) if self.target else None
        data["ratio"] = self.ratio
        data["met"] = self.met
        return data


def _figure(value: float | None, tail: float | None, unit: str) -> str:
    if value is None:
        return "-"
    text = f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    if tail is not None:
        text += f" (p99 {tail:,.3g})" if abs(tail) < 100 else f" (p99 {tail:,.0f})"
    return f"{text} {unit}"


def _ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:,.0f}" if ratio >= 100 else f"{ratio:.3g}"


def table(rows: Sequence[Row]) -> str:
    """A Markdown table of the rows, the form ``docs/performance.md`` shows."""
    lines = [
        "| row | ours | floor | ratio | target | met | reps (ours/floor) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row.reason is not None and row.ours is None:
            lines.append(f"| {row.title} | - | {row.floor_label} | - | {row.target or '-'} | n/a | "
                         f"not measured: {row.reason} |")
            continue
        ratio = _ratio(row.ratio)
        met = {True: "yes", False: "**no**", None: "-"}[row.met]
        floor = _figure(row.floor, row.floor_p99, row.unit) + f" — {row.floor_label}" if row.floor is not None \
            else row.floor_label
        lines.append(f"| {row.title} | {_figure(row.ours, row.ours_p99, row.unit)} | {floor} | {ratio} | "
                     f"{row.target or 'record'} | {met} | {row.reps}/{row.floor_reps or '-'} |")
    return "\n".join(lines)


def report(rows: Sequence[Row], machine: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The JSON document ``--json-out`` writes."""
    return {"format": JSON_FORMAT, "machine": machine, "options": options, "rows": [r.to_json() for r in rows]}


__all__ = ["JSON_FORMAT", "Row", "Target", "p50", "p99", "percentile", "report", "table"]
