"""Atomic writes: a writer killed at any point leaves the old file or the new one, never a torn one."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from nodeisle.config.files import write_json_atomic

WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from nodeisle.config.files import write_json_atomic
    path = Path(sys.argv[1])
    i = 0
    while True:
        i += 1
        write_json_atomic(path, {"generation": i, "padding": "x" * (i % 7) * 200_000})
""")


def test_writer_killed_at_random_points_always_leaves_a_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    write_json_atomic(target, {"generation": 0, "padding": ""})
    rng = random.Random(1234)
    generations = []
    for _ in range(15):
        before = json.loads(target.read_text())["generation"]
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)])
        deadline = time.monotonic() + 30  # on a loaded machine the writer may take a while to start
        while json.loads(target.read_text())["generation"] == before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        data = json.loads(target.read_text())  # must parse: old or new, never torn
        assert set(data) == {"generation", "padding"}
        assert data["padding"] == "x" * (data["generation"] % 7) * 200_000
        generations.append(data["generation"])
    assert max(generations) > 0, "the writer never completed a write; the test proved nothing"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "settings.json"]
    assert all(name.startswith(".settings.json.") for name in leftovers)


def test_temp_files_left_by_killed_writers_are_swept_by_a_later_write(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    stale = tmp_path / ".config.json.abc123.tmp"
    fresh = tmp_path / ".config.json.def456.tmp"  # may belong to a writer still at work
    other = tmp_path / ".settings.json.zzz.tmp"
    for leftover in (stale, fresh, other):
        leftover.write_text("{")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    write_json_atomic(target, {"ok": True})
    assert not stale.exists() and fresh.exists() and other.exists()


def test_atomic_write_sets_the_mode_and_replaces_in_place(tmp_path: Path) -> None:
    target = tmp_path / "secret.env"
    write_json_atomic(target, {"a": 1}, mode=0o600)
    assert os.stat(target).st_mode & 0o777 == 0o600
    write_json_atomic(target, {"a": 2}, mode=0o600)
    assert json.loads(target.read_text()) == {"a": 2}
