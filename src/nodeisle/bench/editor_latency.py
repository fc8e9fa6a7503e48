"""The editor's row: how late the page shows a node's status after the engine emitted it.

Measured in the browser, against the engine's own time. A real ``nodeisle editor`` subprocess runs a
one-node flow (the trivial ``Add``, Shared) each time the bench clicks ``Run`` in Debian's chromium
(driven by Playwright). Each ``NodeStatusChanged`` carries ``at``, the engine's ``time.time()`` when
it emitted the event (read from the frames the page receives); a MutationObserver in the page takes
``performance.timeOrigin + performance.now()`` when the node's status text becomes ``succeeded``.
Both are the machine's wall clock in ms. The floor, in the same run and interleaved: a bare page
(``editor_floor.py``) whose script writes a pushed status into one element, timed the same way.

The row is not measured, with the reason, when chromium, Playwright, the editor extra or the built
page is missing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from nodeisle.bench.context import TRIVIAL, BenchFailure, Context
from nodeisle.bench.report import Row, p50, p99
from nodeisle.bench.suite import RowSpec

FLOOR_SCRIPT = Path(__file__).with_name("editor_floor.py")
STATIC_PAGE = Path(__file__).parents[1] / "editor" / "static" / "index.html"
START_TIMEOUT = 60.0
WARMUP = 3

#: Records when an element's text becomes a new "succeeded ..." value, on the page's own clock.
OBSERVE = """([selector, prefix]) => {
  window.__shown = [];
  let last = null;
  new MutationObserver(() => {
    const el = document.querySelector(selector);
    const text = el ? el.textContent : null;
    if (text !== last && text !== null && text.startsWith(prefix))
      window.__shown.push(performance.timeOrigin + performance.now());
    last = text;
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}"""


def chromium_path() -> str | None:
    wanted = os.environ.get("NODEISLE_BENCH_CHROMIUM", "/usr/bin/chromium")
    return wanted if Path(wanted).exists() else shutil.which("chromium")


def missing() -> str | None:
    """Why the row cannot be measured here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install '.[test]'); the row drives a real browser"
    if chromium_path() is None:
        return "no chromium (apt-get install -y chromium, or NODEISLE_BENCH_CHROMIUM=/path/to/chromium)"
    if importlib.util.find_spec("starlette") is None or importlib.util.find_spec("uvicorn") is None:
        return "the editor extra is not installed (pip install '.[editor]')"
    if not STATIC_PAGE.is_file():
        return f"the editor's page is not built ({STATIC_PAGE}): npm ci --prefix editor && npm run build " \
            "--prefix editor"
    return None


async def editor_latency(ctx: Context, row: Row) -> None:
    why = missing()
    if why is not None:
        row.reason = why
        return
    await asyncio.to_thread(_measure, ctx, row)


def _first_line(process: subprocess.Popen[str], what: str) -> str:
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        return lines.get(timeout=START_TIMEOUT).strip()
    except queue.Empty:
        raise BenchFailure(f"{what} printed nothing within {START_TIMEOUT:.0f} s") from None


def _workflow(ctx: Context) -> Path:
    path = ctx.work / "editor_latency.json"
    path.write_text(json.dumps({
        "libraries": [str(ctx.library(TRIVIAL))],
        "library_modes": {TRIVIAL: "shared"},
        "nodes": [{"name": "a", "library": TRIVIAL, "type": "Add", "values": {"x": 1}}],
        "connections": [],
    }))
    return path


def _measure(ctx: Context, row: Row) -> None:
    env = {**os.environ, "NODEISLE_HOME": str(ctx.home), "PYTHONUNBUFFERED": "1"}
    editor = subprocess.Popen([sys.executable, "-m", "nodeisle", "editor", "--no-browser", str(_workflow(ctx))],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                              text=True, env=env)
    floor = subprocess.Popen([sys.executable, "-P", str(FLOOR_SCRIPT)], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        address = _first_line(editor, "nodeisle editor")
        if not address.startswith("nodeisle editor: "):
            raise BenchFailure(f"nodeisle editor's first line is not its address: {address!r}")
        port = int(_first_line(floor, "the floor page"))
        ours, theirs = _in_browser(ctx, address.split(": ", 1)[1], f"http://127.0.0.1:{port}/")
    finally:
        for process in (editor, floor):
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
    ours, theirs = ours[WARMUP:], theirs[WARMUP:]
    row.ours, row.ours_p99, row.reps = p50(ours), p99(ours), len(ours)
    row.floor, row.floor_p99, row.floor_reps = p50(theirs), p99(theirs), len(theirs)
    row.params.update(nodes=1, mode="shared")


def _in_browser(ctx: Context, editor_url: str, floor_url: str) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    reps = (10 if ctx.plan.quick else 60) + WARMUP
    emitted: list[float] = []

    def on_frame(payload: str | bytes) -> None:
        message = json.loads(payload)
        for event in message.get("events", [message]) if isinstance(message, dict) else []:
            fields = event.get("fields") or {}
            if event.get("event") == "NodeStatusChanged" and fields.get("status") == "succeeded":
                emitted.append(float(fields["at"]) * 1e3)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"], timeout=60_000)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
            page.goto(editor_url)
            page.get_by_role("group", name="a", exact=True).wait_for()
            page.evaluate(OBSERVE, ['[aria-label="Status of a"]', "succeeded"])
            bare = browser.new_page()
            bare.goto(floor_url)
            bare.evaluate("() => window.opened")
            bare.evaluate(OBSERVE, ["#status", "succeeded"])
            run = page.get_by_role("button", name="Run", exact=True)
            floor: list[float] = []
            for i in range(reps):
                run.click()
                page.wait_for_function(f"() => window.__shown.length > {i}")
                page.wait_for_function("() => !document.querySelector('.toolbar button').disabled")  # Run again
                bare.evaluate("() => window.go()")
                bare.wait_for_function(f"() => window.__shown.length > {i}")
                floor.append(bare.evaluate("() => window.__shown[window.__shown.length - 1] - window.lastAt * 1000"))
            shown: list[float] = page.evaluate("() => window.__shown")
        finally:
            browser.close()
    if len(emitted) < reps:
        raise BenchFailure(f"the page received {len(emitted)} 'succeeded' events for {reps} runs")
    return [s - e for s, e in zip(shown, emitted, strict=False)], floor


EDITOR_ROW = RowSpec(
    "editor_latency", "editor: engine event emitted → status shown in the page (p50)", editor_latency, "ms",
    "a bare page writing a pushed status into one element", None,
)
