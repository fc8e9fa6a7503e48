"""Containment through real workers: memory and process limits in a cgroup, attributed failures, GPU variables.

Small limits (128 MiB, 24 processes) keep these fast and harmless on a shared machine; each test
checks no cgroup is left behind.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nodeisle.config.settings import Settings
from nodeisle.orchestrator.cgroups import PARENT, WorkerCgroup, machine_facts, probe_machine, sweep_stale
from nodeisle.orchestrator.containment import Limits, plan
from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.requests import CreateNodeRequest, ExecuteNodeRequest, RegisterLibraryRequest, Result
from tests.conftest import run, write_library

NODES = '''
import os, signal, time
from nodeisle import BaseNode, Parameter, ParameterMode
IN, OUT = {ParameterMode.INPUT}, {ParameterMode.OUTPUT}

class Hog(BaseNode):
    """Allocates (and touches) ``mib`` MiB, one MiB at a time."""
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("mib", type="int", default_value=1, allowed_modes=IN))
        self.add_parameter(Parameter("pid", type="int", allowed_modes=OUT))
    def process(self):
        held = [b"\\x01" * (1 << 20) for _ in range(self.parameter_values["mib"])]
        self.parameter_output_values["pid"] = os.getpid() + 0 * len(held)

class Forks(BaseNode):
    """Starts up to ``count`` sleeping children (a bounded fork bomb); always kills them after."""
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("count", type="int", default_value=1, allowed_modes=IN))
        self.add_parameter(Parameter("started", type="int", allowed_modes=OUT))
    def process(self):
        children = []
        try:
            for _ in range(self.parameter_values["count"]):
                pid = os.fork()
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                children.append(pid)
            self.parameter_output_values["started"] = len(children)
        finally:
            for pid in children:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)

class Env(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("seen", type="any", allowed_modes=OUT))
    def process(self):
        names = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "ZE_AFFINITY_MASK")
        self.parameter_output_values["seen"] = {name: os.environ.get(name) for name in names}
'''
CLASSES = ["Hog", "Forks", "Env"]

needs_cgroups = pytest.mark.usefixtures("_writable_cgroups")


@pytest.fixture
def _writable_cgroups() -> None:
    """A missing requirement fails rather than skips: a skip would count an untested limit as done."""
    if machine_facts().v2_root is None and len(machine_facts().v1_roots) < 3:
        pytest.fail("needs writable cgroups (memory, pids, cpu): run the tests as root on a machine that has them "
                    "(this machine kind has cgroup v1 controllers under /sys/fs/cgroup)")


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


def _worker_cgroups() -> list[Path]:
    facts = machine_facts()
    mounts = [Path(facts.v2_root)] if facts.v2_root else [Path(m) for m in facts.v1_roots.values()]
    return [c for m in mounts if (m / PARENT).is_dir() for c in (m / PARENT).iterdir()
            if c.is_dir() and c.name.startswith(f"{os.getpid()}-")]


async def _contained(lib: Path, home: Path, limits: Limits, **nodes: str) -> Orchestrator:
    settings = Settings.load(home)
    settings.library_limits["Contained"] = limits
    settings.save()
    o = build_orchestrator(config_flags={"execution_timeout": 60})
    await o.__aenter__()
    ok(await o.handle_async(RegisterLibraryRequest(path=str(lib), mode="isolated")))
    for name, node_type in nodes.items():
        ok(await o.handle_async(CreateNodeRequest(node_type=node_type, node_name=name)))
    return o


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    return write_library(tmp_path, "Contained", NODES, CLASSES)


@needs_cgroups
def test_a_node_past_its_memory_limit_fails_attributed_and_the_next_execution_runs(
    lib: Path, offline_home: Path
) -> None:
    async def body() -> None:
        o = await _contained(lib, offline_home, Limits(memory=128 * 1024**2, cpus=1.0), h="Hog")
        try:
            assert len({c.name for c in _worker_cgroups()}) == 1  # one cgroup per worker, while it runs
            small = ok(await o.handle_async(ExecuteNodeRequest(node_name="h", parameter_values={"mib": 8})))
            first_pid = small.parameter_output_values["pid"]
            failed = await o.handle_async(ExecuteNodeRequest(node_name="h", parameter_values={"mib": 400}))
            assert not failed.succeeded and failed.error.type == "WorkerCrashed"
            assert "library 'Contained' exceeded its memory limit of 128 MiB (peak " in failed.message
            assert "killed by SIGKILL" in failed.message
            for _ in range(300):  # the dead worker's cgroup goes once its processes are reaped
                if not _worker_cgroups():
                    break
                await asyncio.sleep(0.05)
            assert _worker_cgroups() == []  # the dead worker's cgroup is gone
            again = ok(await o.handle_async(ExecuteNodeRequest(node_name="h", parameter_values={"mib": 8})))
            assert again.parameter_output_values["pid"] != first_pid  # a fresh, contained worker
            assert len({c.name for c in _worker_cgroups()}) == 1
        finally:
            await o.close()
        assert _worker_cgroups() == []

    run(body(), timeout=120)


@needs_cgroups
def test_a_fork_bomb_past_max_processes_is_stopped_with_a_clear_error(lib: Path, offline_home: Path) -> None:
    async def body() -> None:
        o = await _contained(lib, offline_home, Limits(max_processes=24), f="Forks")
        try:
            fine = ok(await o.handle_async(ExecuteNodeRequest(node_name="f", parameter_values={"count": 2})))
            assert fine.parameter_output_values["started"] == 2
            bomb = await o.handle_async(ExecuteNodeRequest(node_name="f", parameter_values={"count": 200}))
            assert not bomb.succeeded and bomb.error.type == "BlockingIOError"
            assert "library 'Contained' reached its max_processes limit of 24" in bomb.message
            assert "nodeisle libraries limits Contained --max-processes N" in bomb.message
            after = ok(await o.handle_async(ExecuteNodeRequest(node_name="f", parameter_values={"count": 2})))
            assert after.parameter_output_values["started"] == 2  # the worker serves on
        finally:
            await o.close()
        assert _worker_cgroups() == []

    run(body(), timeout=120)


def test_gpu_indices_and_none_reach_the_worker_as_device_variables(lib: Path, offline_home: Path) -> None:
    async def body() -> None:
        for gpus, seen in (((1, 3), "1,3"), ((), "-1")):
            o = await _contained(lib, offline_home, Limits(gpus=gpus), e="Env")
            try:
                result = ok(await o.handle_async(ExecuteNodeRequest(node_name="e")))
                assert set(result.parameter_output_values["seen"].values()) == {seen}
            finally:
                await o.close()

    run(body(), timeout=120)


def test_this_machine_probe_names_the_mechanism_and_why_not_a_stronger_one() -> None:
    facts = probe_machine()
    chosen = plan(Limits(memory=64 * 1024**2), facts)
    assert chosen.mechanism in ("cgroup v2", "cgroup v1", "rlimits")
    if chosen.mechanism != "cgroup v2":
        assert facts.why_not and facts.why_not[0] in chosen.reason


@needs_cgroups
def test_a_cgroup_left_by_a_killed_orchestrator_is_swept_and_a_live_ones_kept(tmp_path: Path) -> None:
    facts = machine_facts()
    mount = Path(facts.v2_root or facts.v1_roots["pids"])
    (mount / PARENT).mkdir(exist_ok=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale, live = mount / PARENT / f"{dead.pid}-dead", mount / PARENT / f"{os.getpid()}-live"
    stale.mkdir()
    live.mkdir()
    try:
        assert sweep_stale(mount) == [stale]
        assert not stale.exists() and live.exists()
    finally:
        for path in (stale, live):
            if path.exists():
                path.rmdir()


@needs_cgroups
def test_a_stale_looking_cgroup_holding_another_pid_namespaces_process_is_left_alone(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another container's orchestrator shares the hierarchy: its pid is dead here, its workers show as 0."""
    import nodeisle.orchestrator.cgroups as cgroups

    facts = machine_facts()
    mount = Path(facts.v2_root or facts.v1_roots["pids"])
    (mount / PARENT).mkdir(exist_ok=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    foreign = mount / PARENT / f"{dead.pid}-elsewhere"
    foreign.mkdir()
    killed: list[int] = []
    monkeypatch.setattr(cgroups, "_procs", lambda path: [0] if path == foreign else [])
    real_kill = os.kill
    monkeypatch.setattr(cgroups.os, "kill", lambda pid, sig: real_kill(pid, sig) if sig == 0 else killed.append(pid))
    try:
        assert sweep_stale(mount) == [] and foreign.exists() and killed == []
    finally:
        foreign.rmdir()


@needs_cgroups
def test_a_worker_cgroup_is_removed_even_if_a_process_is_still_in_it() -> None:
    facts = machine_facts()
    chosen = plan(Limits(max_processes=8), facts)
    group = WorkerCgroup.create(chosen, "rm01")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        Path(group.procs_files[0]).write_text(str(sleeper.pid))
        dirs = [Path(p).parent for p in group.procs_files]
        assert dirs and all(d.is_dir() for d in dirs) and group.readings().pids_refused == 0
        assert group.remove() and not any(d.exists() for d in dirs)
        assert sleeper.wait(timeout=5) == -9  # killed with its cgroup
    finally:
        sleeper.kill()
        group.remove()
