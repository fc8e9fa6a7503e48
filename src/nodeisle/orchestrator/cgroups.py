"""The I/O side of containment: probe the machine's cgroups; create, read and remove a worker's cgroup.

Each contained worker gets its own cgroup, ``nodeisle/<orchestrator pid>-<worker id>`` under every
controller its plan (:mod:`nodeisle.orchestrator.containment`) uses. The guard process joins it
before it forks the runtime (``nodeisle.worker.guard``), so everything the library starts is
counted. It is removed when the worker has exited; one left by an orchestrator that was killed is
removed by the next one that creates a cgroup (its pid is gone and it holds no process).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import time
from pathlib import Path

from nodeisle.orchestrator.containment import (
    ContainmentPlan,
    Limits,
    MachineFacts,
    Readings,
    attribute,
    process_limit_note,
)
from nodeisle.requests import RemoteError

LOGGER = logging.getLogger("nodeisle.containment")
CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "nodeisle"
_V2_CONTROLLERS = ("memory", "pids", "cpu")
_V1_CONTROLLERS = ("memory", "pids", "cpu")


def _cgroup2_mounts() -> list[Path]:
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    return [Path(parts[1]) for parts in (line.split() for line in lines) if len(parts) > 2 and parts[2] == "cgroup2"]


def probe_machine(root: Path = CGROUP_ROOT) -> MachineFacts:
    """Which cgroups this process can create worker cgroups in, and why not the stronger ones."""
    why: list[str] = []
    v2: str | None = None
    for mount in _cgroup2_mounts():
        try:
            available = set((mount / "cgroup.controllers").read_text().split())
        except OSError:
            continue
        missing = [c for c in _V2_CONTROLLERS if c not in available]
        if missing:
            why.append(f"cgroup v2 at {mount} has no {'/'.join(missing)} controller (they are bound to v1)")
        elif not os.access(mount, os.W_OK):
            why.append(f"cgroup v2 at {mount} is not writable by this user")
        else:
            v2 = str(mount)
            break
    if v2 is None and not why:
        why.append("no cgroup v2 is mounted")
    v1: dict[str, str] = {}
    for controller in _V1_CONTROLLERS:
        mount = root / controller
        if (mount / "cgroup.procs").exists() and os.access(mount, os.W_OK):
            v1[controller] = str(mount)
    if v2 is None and len(v1) < len(_V1_CONTROLLERS):
        absent = [c for c in _V1_CONTROLLERS if c not in v1]
        why.append(f"no writable cgroup v1 {'/'.join(absent)} under {root}")
    return MachineFacts(v2, v1, tuple(why))


@functools.cache
def machine_facts() -> MachineFacts:
    """This machine's facts, probed once per process (mounts do not change under a running engine)."""
    return probe_machine()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _procs(path: Path) -> list[int]:
    try:
        return [int(line) for line in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _remove(path: Path, attempts: int = 50) -> bool:
    """Kill what is left in the cgroup and remove it; False if it could not be removed."""
    for _ in range(attempts):
        for pid in _procs(path):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        try:
            path.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.02)  # the killed processes are still exiting
    LOGGER.warning("could not remove cgroup %s: processes are still in it", path)
    return False


def sweep_stale(mount: Path) -> list[Path]:
    """Remove worker cgroups under ``mount`` whose orchestrator is gone (killed before it cleaned up).

    A group holding a process of another PID namespace (``cgroup.procs`` shows it as 0) is left alone:
    its orchestrator may be alive in another container sharing this cgroup hierarchy, where its pid
    means nothing here.
    """
    removed = []
    parent = mount / PARENT
    with contextlib.suppress(OSError):
        for child in parent.iterdir():
            owner = child.name.partition("-")[0]
            if not (child.is_dir() and owner.isdigit()) or _alive(int(owner)) or 0 in _procs(child):
                continue
            if _remove(child):
                removed.append(child)
    return removed


class WorkerCgroup:
    """One worker's cgroup, in each mount its plan names."""

    def __init__(self, plan: ContainmentPlan, paths: list[Path]) -> None:
        self.plan = plan
        self.paths = paths

    @classmethod
    def create(cls, plan: ContainmentPlan, worker_id: str) -> WorkerCgroup:
        """Create and configure the cgroup; OSError (naming the file) if the machine refuses."""
        paths: list[Path] = []
        group = cls(plan, paths)
        try:
            for mount_text, files in plan.cgroup_files.items():
                mount = Path(mount_text)
                sweep_stale(mount)
                parent = mount / PARENT
                parent.mkdir(exist_ok=True)
                if plan.mechanism == "cgroup v2":
                    _enable_controllers(mount, parent)
                path = parent / f"{os.getpid()}-{worker_id}"
                path.mkdir()
                paths.append(path)
                for name, value in files.items():
                    target = path / name
                    if target.exists():  # memsw (swap accounting) is absent on kernels booted without it
                        target.write_text(value)
        except OSError:
            group.remove()
            raise
        return group

    @property
    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.paths]

    def _by_controller(self, controller: str) -> Path | None:
        for path in self.paths:
            if self.plan.mechanism == "cgroup v2" or path.parent.parent.name == controller:
                return path
        return None

    def readings(self) -> Readings:
        """What the cgroup counted so far (zeros where a file cannot be read)."""
        memory, pids = self._by_controller("memory"), self._by_controller("pids")
        v2 = self.plan.mechanism == "cgroup v2"
        oom = peak = refused = 0
        if memory is not None:
            events = _keyed(memory / ("memory.events" if v2 else "memory.oom_control"))
            oom = events.get("oom_kill", 0)
            peak = _number(memory / ("memory.peak" if v2 else "memory.max_usage_in_bytes"))
        if pids is not None:
            refused = _keyed(pids / "pids.events").get("max", 0)
        return Readings(oom, peak or None, refused)

    def reset_peak(self) -> None:
        """Start a fresh peak (v1: write 0 to max_usage_in_bytes); v2's peak stays the worker's."""
        memory = self._by_controller("memory")
        if memory is not None and self.plan.mechanism == "cgroup v1":
            with contextlib.suppress(OSError):
                (memory / "memory.max_usage_in_bytes").write_text("0")

    def remove(self) -> bool:
        """Kill what is left and remove the cgroup. Up to 10 s: after a fork bomb, hundreds of killed
        processes must be reaped before the kernel lets the cgroup go (called off the event loop)."""
        done = all([_remove(path, attempts=500) for path in self.paths])
        if done:
            self.paths.clear()
        return done


def _enable_controllers(mount: Path, parent: Path) -> None:
    for level in (mount, parent):
        control = level / "cgroup.subtree_control"
        enabled = set(control.read_text().split())
        for controller in _V2_CONTROLLERS:
            if controller not in enabled:
                control.write_text(f"+{controller}")


def _keyed(path: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                found[key] = int(value)
    return found


def _number(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


class Containment:
    """One worker's containment: its plan, its cgroup while it runs, and what the cgroup counted at its end."""

    def __init__(self, library: str, limits: Limits, plan: ContainmentPlan) -> None:
        self.library = library
        self.limits = limits
        self.plan = plan
        self.cgroup: WorkerCgroup | None = None
        self.final: Readings | None = None  # read just before the cgroup was removed

    def prepare(self, worker_id: str) -> dict[str, object]:
        """Create the worker's cgroup; the launch line's ``containment`` field the guard applies."""
        if self.plan.cgroup_files:
            self.cgroup = WorkerCgroup.create(self.plan, worker_id)
        return {"cgroup_procs": self.cgroup.procs_files if self.cgroup else [], "rlimits": dict(self.plan.rlimits)}

    def readings(self) -> Readings:
        if self.final is not None:
            return self.final
        return self.cgroup.readings() if self.cgroup is not None else Readings()

    def close(self) -> Readings | None:
        """The worker has exited: keep what its cgroup counted, then remove it (idempotent); what it counted."""
        cgroup, self.cgroup = self.cgroup, None  # taken first: the watcher and stop() may both close it
        if cgroup is not None:
            self.final = cgroup.readings()
            cgroup.remove()
        return self.final

    def begin_execution(self) -> int:
        """Start the execution's memory peak; the count of forks refused so far (by max_processes)."""
        if self.cgroup is None:
            return 0
        self.cgroup.reset_peak()
        return self.readings().pids_refused

    def annotate(self, error: RemoteError | None, before: int) -> RemoteError | None:
        """The node's error, saying so when the library's max_processes refused a process start meanwhile."""
        if error is None:
            return None
        note = process_limit_note(self.library, self.limits, self.readings().pids_refused - before)
        if note is None:
            return error
        return RemoteError(type=error.type, message=f"{error.message}; {note}", traceback=error.traceback)

    def crash_reason(self) -> str | None:
        return attribute(self.library, self.limits, self.readings())
