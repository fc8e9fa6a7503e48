"""Side by side with a peer: the same trivial call and 16 MB float32 array through ``pyisolate`` (PyPI).

pyisolate is installed into a uv venv under the bench's work directory, never next to nodeisle. It
runs its extension as a ``sealed_worker`` (its own interpreter and venv, like our Isolated mode)
with its sandbox disabled (bubblewrap is not assumed). Without torch, pyisolate sends a numpy array
as a JSON list of floats; the driver turns the answer back into a float32 array inside the timing,
so both sides hand the caller the same value.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from nodeisle.bench.context import BenchFailure, Context, uv_binary
from nodeisle.bench.report import Row, p50, p99
from nodeisle.bench.suite import ROWS, RowSpec, measure_payload

PEER = "pyisolate"
TRIVIAL_CALLS = 1000

#: The extension pyisolate loads and the driver that times it: scripts of their own, run by file path in
#: pyisolate's venv (never imported here).
EXTENSION = Path(__file__).with_name("peer_extension.py")
DRIVER = Path(__file__).with_name("peer_driver.py")


async def _peer_figures(ctx: Context) -> dict[str, Any]:
    """Install pyisolate in its own venv and run the driver once; cached for both peer rows."""
    if "peer" in ctx.results:
        cached: dict[str, Any] = ctx.results["peer"]
        if "error" in cached:
            raise BenchFailure(cached["error"])
        return cached
    try:
        figures = await asyncio.to_thread(_run_peer, ctx.work / "pyisolate", ctx.payload_pins()[0])
    except BenchFailure as exc:
        ctx.results["peer"] = {"error": str(exc)}
        raise
    ctx.results["peer"] = figures
    return figures


def _run_peer(root: Path, numpy_pin: str) -> dict[str, Any]:
    uv = uv_binary()
    venv = root / "venv"
    ext = root / "extension"
    ext.mkdir(parents=True, exist_ok=True)
    (ext / "__init__.py").write_text("")
    shutil.copyfile(EXTENSION, ext / "bench_extension.py")
    env = {**os.environ, "UV_NO_PROGRESS": "1", "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("VIRTUAL_ENV", None)
    links = [a for link in os.environ.get("NODEISLE_FIND_LINKS", "").split(os.pathsep) if link
             for a in ("--find-links", link)]
    steps = [[uv, "venv", "--python", sys.executable, str(venv)],
             [uv, "pip", "install", "--python", str(venv / "bin" / "python"), PEER, numpy_pin, *links]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False,
                              timeout=600)
        if done.returncode != 0:
            raise BenchFailure(f"cannot install {PEER} into its own venv (`uv {step[1]}` failed, it needs PyPI): "
                               f"{done.stderr.strip()[-400:]}")
    try:
        done = subprocess.run([str(venv / "bin" / "python"), "-P", str(DRIVER), str(ext), str(root / "venvs"),
                               str(TRIVIAL_CALLS), "16", numpy_pin],
                              capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False,
                              timeout=1800, cwd=root)
    except subprocess.TimeoutExpired:
        raise BenchFailure(f"the {PEER} driver did not finish within 30 minutes") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise BenchFailure(f"the {PEER} driver failed (exit {done.returncode}): {done.stderr.strip()[-600:]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    if not figures.get("array_ok"):
        raise BenchFailure(f"{PEER} did not return the 16 MB array intact")
    return figures


async def peer_trivial(ctx: Context, row: Row) -> None:
    figures = await _peer_figures(ctx)
    if "isolated_sequential" not in ctx.results:
        await _spec("isolated_sequential").measure(ctx, Row("isolated_sequential", "", "", ""))
    row.ours, row.ours_p99, row.reps = ctx.results["isolated_sequential"]
    samples = figures["trivial_s"][20:]
    row.floor, row.floor_p99, row.floor_reps = p50(samples) * 1e6, p99(samples) * 1e6, len(samples)
    row.floor_label = f"pyisolate {figures['version']}, one async method call (sealed_worker)"
    row.note = "ours runs a node (hydration, process in a thread, outputs); pyisolate calls a bare method"
    row.params.update(pyisolate_load_s=round(figures["load_s"], 2))


async def peer_array(ctx: Context, row: Row) -> None:
    figures = await _peer_figures(ctx)
    if "array_16mb" in ctx.results:
        row.ours, row.reps = ctx.results["array_16mb"]
    else:
        ours, _ = await measure_payload(ctx, 16, "array", 3)
        row.ours, row.reps = p50(ours) * 1e3, len(ours)
    row.floor, row.floor_reps = p50(figures["array_s"]) * 1e3, len(figures["array_s"])
    row.floor_label = f"pyisolate {figures['version']}: the array as a JSON list of floats"


def _spec(row_id: str) -> RowSpec:
    return next(spec for spec in ROWS if spec.id == row_id)


WHY_NOT_QUICK = "the pyisolate comparison is left out of --quick: it installs pyisolate from PyPI and takes minutes"
PEER_ROWS = (
    RowSpec("pyisolate_trivial", "peer: trivial call, nodeisle Isolated vs pyisolate (p50)", peer_trivial, "µs",
            "pyisolate", None, quick=False, why_not_quick=WHY_NOT_QUICK),
    RowSpec("pyisolate_array_16mb", "peer: 16 MB float32 array there and back, nodeisle vs pyisolate", peer_array,
            "ms", "pyisolate", None, quick=False, why_not_quick=WHY_NOT_QUICK),
)
