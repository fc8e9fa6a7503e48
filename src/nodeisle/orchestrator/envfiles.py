"""The files of an env directory: the build lock (``fcntl.flock``), atomic JSON writes, and cleaning
up what interrupted refreshes leave behind. POSIX only."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MARKER_NAME = "nodeisle-env.json"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _try_lock(lock_path: Path, blocking: bool) -> int | None:
    """An fd holding an exclusive flock on ``lock_path``, or None if busy and not ``blocking``."""
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:  # prune may have unlinked the file while we waited on it: retry on the live one
            if os.stat(lock_path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextlib.contextmanager
def locked(lock_path: Path, *, blocking: bool = True) -> Iterator[bool]:
    fd = _try_lock(lock_path, blocking)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


def clean_temp(env: Path) -> list[Path]:
    """Remove leftovers of interrupted runtime refreshes and marker writes from a valid env (lock held)."""
    link = env / "runtime"
    current = os.readlink(link) if link.is_symlink() else None
    stale = [p for p in (*env.glob(".runtime-*"), *env.glob("runtime-*")) if p.name != current]
    stale += env.glob(f".{MARKER_NAME}.*.tmp")
    for path in stale:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return stale
