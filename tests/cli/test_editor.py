"""`nodeisle editor` as a command: its first line, bad input, and Ctrl-C stopping it with no worker left."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.conftest import run, write_library
from tests.editor.conftest import EditorProcess, editor_env, start_editor

NODES = '''
import os
from nodeisle import BaseNode, Parameter, ParameterMode

class Where(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("pid", type="int", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        self.parameter_output_values["pid"] = os.getpid()
'''


@pytest.fixture
def editor_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def offline_env(editor_home: Path, wheelhouse: Path, uv_cache: Path) -> dict[str, str]:
    return editor_env(editor_home, wheelhouse, uv_cache)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _snapshot_until_ready(editor: EditorProcess, library: str) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{editor.port}/ws?token={editor.token}"
    async with websockets.connect(url, origin=editor.origin) as ws:  # type: ignore[arg-type]
        for attempt in range(600):
            await ws.send(json.dumps({"id": attempt, "editor": "snapshot"}))
            while True:
                message = json.loads(await ws.recv())
                if message.get("id") == attempt:
                    break
            for view in message["reply"]["libraries"]:
                if view["info"]["name"] == library and view["info"]["worker_state"] == "ready":
                    return dict(view)
            await asyncio.sleep(0.1)
    raise AssertionError(f"{library} never got a ready worker")


def test_the_first_line_is_the_address_with_a_token(offline_env: dict[str, str]) -> None:
    editor = start_editor(offline_env, "--port", "0")
    try:
        first = f"nodeisle editor: {editor.url}\n"
        assert re.fullmatch(r"nodeisle editor: http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]{32}\n", first), first
    finally:
        assert editor.stop() == 0


def test_ctrl_c_stops_the_editor_and_its_workers(offline_env: dict[str, str], editor_home: Path, tmp_path: Path) -> None:
    library = write_library(tmp_path / "libs", "Worker Lib", NODES, ["Where"], pins=["tinyver==1.0"])
    manifest = str(library / "griptape-nodes-library.json")
    (editor_home / "settings.json").write_text(json.dumps({"libraries": [manifest],
                                                           "library_modes": {"Worker Lib": "isolated"}}))
    editor = start_editor(offline_env)
    try:
        view = run(_snapshot_until_ready(editor, "Worker Lib"), timeout=150)
        workers = _children(editor.process.pid)
        assert workers, "the isolated library's worker runs as a child of the editor"
        assert view["info"]["effective_mode"] == "isolated" and view["mode_reason"].startswith("your choice")
    finally:
        code = editor.stop()
    assert code == 0, "".join(editor.stderr)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)], "a worker outlived the editor"
    assert "nodeisle editor: stopped" in "".join(editor.stderr)


def test_a_missing_workflow_or_a_taken_port_is_bad_input(offline_env: dict[str, str], tmp_path: Path) -> None:
    missing = subprocess.run([sys.executable, "-m", "nodeisle", "editor", "--no-browser", str(tmp_path / "nope.json")],
                             capture_output=True, text=True, env=offline_env, timeout=60)
    assert missing.returncode == 2 and "nope.json: no such workflow file" in missing.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run([sys.executable, "-m", "nodeisle", "editor", "--no-browser", "--port", str(port)],
                              capture_output=True, text=True, env=offline_env, timeout=60)
    assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr, busy.stderr
    assert busy.stdout == "" and os.environ.get("NODEISLE_HOME") != offline_env["NODEISLE_HOME"]
