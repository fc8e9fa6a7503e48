"""The I/O side of the sandbox: find bubblewrap, open the bus's Unix socket, build the launcher.

The command line itself is decided in :mod:`nodeisle.orchestrator.sandbox`; this module only looks
at the machine (where ``bwrap`` is, where the env's interpreter really lives) and at the hub.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from nodeisle.errors import LibraryError
from nodeisle.orchestrator.launch import Launcher, SandboxLauncher
from nodeisle.orchestrator.sandbox import SandboxChoice, SandboxSpec, missing_bwrap_message
from nodeisle.orchestrator.workers import WorkerHub

_BUS_DIRS: dict[int, Path] = {}  # hub id -> the directory of its Unix socket


def find_bwrap(library: str) -> str:
    found = shutil.which("bwrap")
    if found is None:
        raise LibraryError(library, missing_bwrap_message(library))
    return found


async def _unix_bus(hub: WorkerHub) -> tuple[str, Path]:
    folder = _BUS_DIRS.get(id(hub))
    if folder is None or hub.unix is None:
        folder = _BUS_DIRS[id(hub)] = Path(tempfile.mkdtemp(prefix=f"nodeisle-bus-{os.getpid()}-"))
        atexit.register(shutil.rmtree, folder, True)  # its socket is removed when the hub closes; this, at exit
    return await hub.serve_unix(str(folder / "bus.sock")), folder


async def sandboxed(
    choice: SandboxChoice, library: str, manifest: Path, python: Path, hub: WorkerHub, launcher: Launcher | None
) -> tuple[Launcher, str]:
    """The launcher of a sandboxed worker and the bus URL it connects to (a Unix socket without network)."""
    if launcher is not None:
        raise LibraryError(library, "a sandbox starts workers as subprocesses; this engine uses another launcher "
                                    f"({type(launcher).__name__}); turn the sandbox off for it")
    bwrap = find_bwrap(library)
    url, bus_dir = (hub.url, None) if choice.network else await _unix_bus(hub)
    env = python.parent.parent
    real = python.resolve()
    root = real.parent.parent if any(h == real or h in real.parents for h in choice.hidden) else None
    spec = SandboxSpec(env, manifest.parent, choice.hidden, choice.network, bus_dir, root)
    return SandboxLauncher(bwrap, spec), url
