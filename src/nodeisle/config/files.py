"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never a torn one.

:class:`FileLock` serializes writers of one file, across threads and processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    _sweep_stale_temps(path)


STALE_TEMP_SECONDS = 60.0


def _sweep_stale_temps(path: Path) -> None:
    """Remove temp files that writers killed mid-write left behind (no live write takes a minute)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def write_json_atomic(path: Path, value: Any, mode: int = 0o644) -> None:
    write_atomic(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8"), mode)


class FileLock:
    """Serializes read-modify-write cycles on one file, across threads and across processes.

    ``with lock:`` holds a threading lock (other threads of this process) and then an exclusive
    ``fcntl.flock`` on ``<file>.lock`` (other processes, and other ``FileLock`` objects for the same
    file in this process: each acquisition opens its own descriptor). Hold it from the read to the
    atomic rename.
    """

    def __init__(self, path: Path) -> None:
        self.lock_path = path.with_name(path.name + ".lock")
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        self._thread_lock.acquire()
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        fd, self._fd = self._fd, None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        finally:
            self._thread_lock.release()
