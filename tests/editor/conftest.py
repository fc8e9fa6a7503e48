"""A real `nodeisle editor` subprocess on a random port, offline, and a Chromium page driven by Playwright."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

CHROMIUM = os.environ.get("NODEISLE_TEST_CHROMIUM", "/usr/bin/chromium")
STATIC = REPO / "src" / "nodeisle" / "editor" / "static"
START_TIMEOUT = 30.0


@dataclass
class EditorProcess:
    process: subprocess.Popen[str]
    url: str
    home: Path
    env: dict[str, str]
    stderr: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.url.split(":")[2].split("/")[0])

    @property
    def token(self) -> str:
        return self.url.split("token=")[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise AssertionError("the editor did not stop within 20 s of Ctrl-C:\n" + "".join(self.stderr)) from None


def editor_env(home: Path, wheelhouse: Path, uv_cache: Path) -> dict[str, str]:
    """The offline settings the engine tests use (tests/conftest.py offline_home), for a subprocess."""
    env = dict(os.environ)
    env.update({
        "NODEISLE_HOME": str(home),
        "NODEISLE_FIND_LINKS": str(wheelhouse),
        "NODEISLE_OFFLINE": "1",
        "NODEISLE_UV_CACHE": str(uv_cache),
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def start_editor(env: dict[str, str], *args: str, cwd: Path | None = None) -> EditorProcess:
    """Start ``nodeisle editor --no-browser ARGS`` and wait for its address line (its first stdout line)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "nodeisle", "editor", "--no-browser", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd or REPO,
    )
    lines: queue.Queue[str] = queue.Queue()
    stderr: list[str] = []
    assert process.stdout is not None and process.stderr is not None
    stdout, errors = process.stdout, process.stderr
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    threading.Thread(target=lambda: [stderr.append(line) for line in errors], daemon=True).start()
    try:
        first = lines.get(timeout=START_TIMEOUT)
    except queue.Empty:
        process.kill()
        raise AssertionError("nodeisle editor printed no address within 30 s:\n" + "".join(stderr)) from None
    assert first.startswith("nodeisle editor: http://127.0.0.1:"), first
    return EditorProcess(process, first.split(": ", 1)[1].strip(), Path(env["NODEISLE_HOME"]), env, stderr)


@pytest.fixture
def editor_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def offline_env(editor_home: Path, wheelhouse: Path, uv_cache: Path) -> dict[str, str]:
    return editor_env(editor_home, wheelhouse, uv_cache)


@pytest.fixture
def editor(offline_env: dict[str, str]) -> Iterator[EditorProcess]:
    running = start_editor(offline_env)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium (apt-get install chromium; scripts/test.sh does it), never a browser Playwright downloads.

    Per module: Playwright's sync API keeps an event loop running in this thread while it is open,
    and the other modules' async tests (asyncio.run) need none running.
    """
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(f"no {CHROMIUM}: install Debian's chromium (apt-get install -y chromium), as .ci/run does")
    if not (STATIC / "index.html").is_file():
        pytest.fail(f"the editor's page is not built in {STATIC}: run `npm ci --prefix editor && npm run build "
                    "--prefix editor` (scripts/test.sh does)")
    from playwright.sync_api import expect, sync_playwright

    # The engine behind the page builds envs and starts workers: on a busy 2-core machine an answer can
    # take longer than Playwright's 5 s default, which is a wait, not a failure (no test asserts a time).
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], timeout=30_000)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, editor: EditorProcess) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(30_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.goto(editor.url)
    try:
        yield opened
    finally:
        context.close()
    csp = [e for e in errors if "Content Security Policy" in e]
    assert not csp, csp
