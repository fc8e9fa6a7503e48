"""What to contain a library's worker with: a pure plan from its limits and the machine's facts.

A library's limits (``memory``, ``cpus``, ``max_processes``, ``gpus``) live in nodeisle's own
settings (``nodeisle libraries limits``), never in its manifest. :func:`plan` turns them, with
what this machine offers (:class:`MachineFacts`, probed by :mod:`nodeisle.orchestrator.cgroups`),
into a :class:`ContainmentPlan`: which mechanism enforces them (a cgroup v2, else v1 controllers,
else rlimits) and why, the cgroup files to write, the rlimits the guard sets, and the GPU
variables of the worker's environment. :func:`attribute` turns what a cgroup counted after a
worker died into the sentence its node fails with. No I/O here: every decision is testable alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ContainmentPlan",
    "Limits",
    "MachineFacts",
    "Readings",
    "attribute",
    "format_bytes",
    "gpu_environment",
    "parse_memory",
    "plan",
]

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}
_MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")
MIN_MEMORY = 16 * 1024**2  # below this an interpreter cannot even start: refused as a typo
CPU_PERIOD_US = 100_000
GPU_VARIABLES = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "ZE_AFFINITY_MASK")
NO_GPU = "-1"  # an index no runtime has: CUDA, ROCm and oneAPI then show no device at all


def parse_memory(text: str) -> int:
    """``4GiB``, ``512MiB``, ``1.5G`` or plain bytes: a byte count (ValueError naming the forms)."""
    match = _MEMORY.fullmatch(text)
    unit = match[2].lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ValueError(f"memory {text!r} is not a size; write it like 4GiB, 512MiB or 2G")
    size = int(float(match[1]) * _UNITS[unit])
    if size < MIN_MEMORY:
        raise ValueError(f"memory {text!r} is below {format_bytes(MIN_MEMORY)}, too little to start a worker")
    return size


def format_bytes(size: int) -> str:
    """A byte count as people write it: ``4 GiB``, ``64 MiB``, ``1.5 GiB``."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} B"


def _peak(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


def parse_gpus(text: str) -> tuple[int, ...]:
    """``0,2`` -> (0, 2); ``none`` -> () (no device visible). ValueError otherwise."""
    if text.strip().lower() == "none":
        return ()
    try:
        found = tuple(int(part) for part in text.split(","))
    except ValueError:
        found = (-1,)
    if not found or any(index < 0 for index in found):
        raise ValueError(f"gpus {text!r} must be device indices like 0 or 0,1, or none")
    return found


@dataclass(frozen=True)
class Limits:
    """One library's containment settings; None is "not limited" (``gpus`` None: the worker sees all)."""

    memory: int | None = None  # bytes
    cpus: float | None = None
    max_processes: int | None = None
    gpus: tuple[int, ...] | None = None  # () is none

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> Limits:
        """As ``settings.json`` keeps them: ``{"memory": "4GiB", "cpus": 1.5, "max_processes": 64, "gpus": "0,1"}``."""
        unknown = sorted(set(data) - {"memory", "cpus", "max_processes", "gpus"})
        if unknown:
            raise ValueError(f"{where}: unknown limit {unknown[0]!r}; the limits are memory, cpus, max_processes, gpus")
        try:
            memory = parse_memory(str(data["memory"])) if data.get("memory") is not None else None
            gpus = parse_gpus(str(data["gpus"])) if data.get("gpus") is not None else None
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        cpus, procs = data.get("cpus"), data.get("max_processes")
        if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or cpus <= 0):
            raise ValueError(f"{where}: cpus must be a positive number like 1.5, found {cpus!r}")
        if procs is not None and (isinstance(procs, bool) or not isinstance(procs, int) or procs < 4):
            raise ValueError(f"{where}: max_processes must be a whole number of at least 4, found {procs!r}")
        return cls(memory, float(cpus) if cpus is not None else None, procs, gpus)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.memory is not None:
            out["memory"] = format_bytes(self.memory).replace(" ", "")
        if self.cpus is not None:
            out["cpus"] = self.cpus
        if self.max_processes is not None:
            out["max_processes"] = self.max_processes
        if self.gpus is not None:
            out["gpus"] = ",".join(map(str, self.gpus)) or "none"
        return out

    @property
    def limits_resources(self) -> bool:
        return self.memory is not None or self.cpus is not None or self.max_processes is not None

    def describe(self) -> str:
        parts = [f"memory {format_bytes(self.memory)}" if self.memory is not None else "",
                 f"cpus {self.cpus:g}" if self.cpus is not None else "",
                 f"max_processes {self.max_processes}" if self.max_processes is not None else ""]
        return ", ".join(part for part in parts if part) or "none"


@dataclass(frozen=True)
class MachineFacts:
    """What this machine lets nodeisle use; each None comes with the reason in ``why_not``."""

    v2_root: str | None = None  # a writable cgroup2 mount whose subtree has memory, pids and cpu
    v1_roots: Mapping[str, str] = field(default_factory=dict)  # controller -> writable v1 mount
    why_not: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainmentPlan:
    mechanism: str  # "cgroup v2" | "cgroup v1" | "rlimits" | "none"
    reason: str
    cgroup_files: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # mount -> {file: value}
    rlimits: Mapping[str, int] = field(default_factory=dict)  # resource name -> soft and hard limit
    env: Mapping[str, str] = field(default_factory=dict)
    unenforced: tuple[str, ...] = ()  # limits the mechanism cannot enforce

    def to_dict(self) -> dict[str, Any]:
        return {"mechanism": self.mechanism, "reason": self.reason, "unenforced": list(self.unenforced)}


def gpu_environment(gpus: tuple[int, ...] | None) -> dict[str, str]:
    """The variables that choose the devices CUDA, ROCm (HIP and ROCr) and oneAPI (Level Zero) show."""
    if gpus is None:
        return {}
    value = ",".join(map(str, gpus)) or NO_GPU
    return {name: value for name in GPU_VARIABLES}


def _v2_files(limits: Limits) -> dict[str, str]:
    files: dict[str, str] = {}
    if limits.memory is not None:
        files["memory.max"] = str(limits.memory)
        files["memory.swap.max"] = "0"  # the limit is of memory, not moved to swap to go on
    if limits.max_processes is not None:
        files["pids.max"] = str(limits.max_processes)
    if limits.cpus is not None:
        files["cpu.max"] = f"{round(limits.cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}"
    return files


def _v1_files(limits: Limits) -> dict[str, dict[str, str]]:
    files: dict[str, dict[str, str]] = {}
    if limits.memory is not None:
        size = str(limits.memory)
        files["memory"] = {"memory.limit_in_bytes": size, "memory.memsw.limit_in_bytes": size}
    if limits.max_processes is not None:
        files["pids"] = {"pids.max": str(limits.max_processes)}
    if limits.cpus is not None:
        quota = str(round(limits.cpus * CPU_PERIOD_US))
        files["cpu"] = {"cpu.cfs_period_us": str(CPU_PERIOD_US), "cpu.cfs_quota_us": quota}
    return files


def plan(limits: Limits, facts: MachineFacts) -> ContainmentPlan:
    """How ``limits`` are enforced on a machine with ``facts``: the strongest mechanism it allows."""
    env = gpu_environment(limits.gpus)
    if not limits.limits_resources:
        return ContainmentPlan("none", "no memory, cpus or max_processes limit is set", env=env)
    if facts.v2_root is not None:
        return ContainmentPlan("cgroup v2", f"a cgroup per worker under {facts.v2_root}",
                               {facts.v2_root: _v2_files(limits)}, env=env)
    wanted = _v1_files(limits)
    if wanted and all(controller in facts.v1_roots for controller in wanted):
        mounts = ", ".join(facts.v1_roots[c] for c in sorted(wanted))
        why = "; ".join(facts.why_not) or "no cgroup v2 with these controllers"
        return ContainmentPlan("cgroup v1", f"{why}; a cgroup per worker in {mounts}",
                               {facts.v1_roots[c]: files for c, files in wanted.items()}, env=env)
    rlimits: dict[str, int] = {}
    unenforced = []
    if limits.memory is not None:
        rlimits["RLIMIT_AS"] = limits.memory  # address space: allocations fail (MemoryError), nothing is killed
    if limits.max_processes is not None:
        rlimits["RLIMIT_NPROC"] = limits.max_processes  # counts the user's processes, and not for root
        unenforced.append("max_processes is per user with rlimits, and root is exempt")
    if limits.cpus is not None:
        unenforced.append("cpus needs a cgroup")
    why = "; ".join(facts.why_not) or "no writable cgroup"
    return ContainmentPlan("rlimits", why, rlimits=rlimits, env=env, unenforced=tuple(unenforced))


@dataclass(frozen=True)
class Readings:
    """What a worker's cgroup counted: OOM kills, peak memory in bytes, forks refused at pids.max."""

    oom_kills: int = 0
    peak_memory: int | None = None
    pids_refused: int = 0


def attribute(library: str, limits: Limits, readings: Readings) -> str | None:
    """Why a worker died, when its cgroup says a limit did it; None when no limit was reached."""
    if readings.oom_kills and limits.memory is not None:
        peak = f" (peak {_peak(readings.peak_memory)})" if readings.peak_memory else ""
        return f"library {library!r} exceeded its memory limit of {format_bytes(limits.memory)}{peak}"
    return None


def process_limit_note(library: str, limits: Limits, refused: int) -> str | None:
    """The sentence added to a failure when forks were refused at the library's ``max_processes``."""
    if refused <= 0 or limits.max_processes is None:
        return None
    return (f"library {library!r} reached its max_processes limit of {limits.max_processes} "
            f"({refused} process start(s) refused); raise it with "
            f"`nodeisle libraries limits {library} --max-processes N`")
