"""The worker's guard: every process node code starts is gone once its worker is stopped, on every ending."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from nodeisle.orchestrator.engine import build_orchestrator
from nodeisle.requests import CreateNodeRequest, ExecuteNodeRequest, RegisterLibraryRequest
from nodeisle.worker import guard
from tests.conftest import REPO, run, write_library

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the guard is Linux only")

# Starts a child, a grandchild, a forked copy of itself, a setsid daemon and a double-forked daemon,
# writes their pids, then returns or holds the GIL in one C call until its deadline.
TREE_NODES = '''
import json, os, subprocess, time
from nodeisle import BaseNode, Parameter, ParameterMode
class Spawn(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("pidfile", type="str", default_value="", allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("hang", type="bool", default_value=False, allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("done", type="bool", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        path = self.parameter_values["pidfile"]
        pids = {"worker": os.getpid()}
        pids["child"] = subprocess.Popen(["sleep", "300"]).pid
        pids["daemon"] = subprocess.Popen(["sleep", "301"], start_new_session=True).pid
        subprocess.run(["sh", "-c", f"sleep 302 & echo $! > {path}.grandchild; setsid sleep 303 & echo $! > {path}.orphan"])
        forked = os.fork()
        if forked == 0:
            time.sleep(300)
            os._exit(0)
        pids["fork"] = forked
        for name in ("grandchild", "orphan"):
            with open(f"{path}.{name}") as f:
                pids[name] = int(f.read())
        with open(path + ".tmp", "w") as f:
            json.dump(pids, f)
        os.replace(path + ".tmp", path)
        if self.parameter_values["hang"]:
            sum(range(10 ** 13))  # one C call holding the GIL: no bytecode runs in this process until it ends
        self.parameter_output_values["done"] = True
'''


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _stat(pid: int) -> str:
    """State and parent of a process, for the failure message."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return f"state {fields[0]}, parent {fields[1]}"
    except (FileNotFoundError, IndexError):
        return "gone"


def wait_for_pids(pidfile: Path, timeout: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while not pidfile.exists():
        assert time.monotonic() < deadline, "the node never wrote its pids"
        time.sleep(0.05)
    pids: dict[str, int] = json.loads(pidfile.read_text())
    return pids


def assert_all_gone(pids: dict[str, int], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = {name: (pid, _stat(pid)) for name, pid in pids.items() if alive(pid)}
    for pid, _ in left.values():
        os.kill(pid, signal.SIGKILL)  # leave nothing behind for the next test, then fail
    assert not left, f"processes outlived their worker: {left}"


@pytest.fixture
def tree_library(tmp_path: Path) -> Path:
    return write_library(tmp_path, "Tree", TREE_NODES, ["Spawn"])


def test_processes_a_node_started_are_gone_when_its_worker_stops_normally(
    tree_library: Path, tmp_path: Path, offline_home: Path
) -> None:
    pidfile = tmp_path / "pids.json"

    async def body() -> dict[str, int]:
        async with build_orchestrator() as o:
            assert (await o.handle_async(RegisterLibraryRequest(path=str(tree_library), mode="isolated"))).succeeded
            assert (await o.handle_async(CreateNodeRequest(node_type="Spawn", node_name="s"))).succeeded
            result = await o.handle_async(ExecuteNodeRequest(node_name="s", parameter_values={"pidfile": str(pidfile)}))
            assert result.succeeded, result.message
            pids = wait_for_pids(pidfile)
            assert all(alive(p) for p in pids.values())  # they run while the worker does
            return pids

    pids = run(body(), timeout=120)
    assert_all_gone(pids)


def test_a_node_holding_the_gil_is_terminated_at_its_deadline_with_everything_it_started(
    tree_library: Path, tmp_path: Path, offline_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: a node stuck in a C call took 15 s to stop for a 2 s deadline, and its children lived on."""
    pidfile = tmp_path / "pids.json"

    async def body() -> tuple[Any, dict[str, int], float]:
        async with build_orchestrator() as o:
            assert (await o.handle_async(RegisterLibraryRequest(path=str(tree_library), mode="isolated"))).succeeded
            assert (await o.handle_async(CreateNodeRequest(node_type="Spawn", node_name="s"))).succeeded
            started = time.monotonic()
            result = await o.handle_async(ExecuteNodeRequest(
                node_name="s", parameter_values={"pidfile": str(pidfile), "hang": True}, node_metadata={"timeout": 1}))
            elapsed = time.monotonic() - started
            pids = wait_for_pids(pidfile, timeout=1)
            gone = {name: not alive(pid) for name, pid in pids.items()}
            assert all(gone.values()), f"still running when the result came back: {gone}"
            again = await o.handle_async(ExecuteNodeRequest(node_name="s", parameter_values={"pidfile": str(tmp_path / "again.json")}))
            assert again.succeeded, again.message  # a fresh worker serves the next execution
            return result, pids, elapsed

    result, pids, elapsed = run(body(), timeout=120)
    assert not result.succeeded and result.error.type == "DeadlineExceeded"
    assert "ran past its deadline of 1 s" in result.message and "was terminated" in result.message
    assert_all_gone(pids)
    with capsys.disabled():  # the measured worst case is documented in docs/reliability.md
        print(f"\n[measure] deadline 1 s, GIL held in C: result after {elapsed:.2f} s")


def _run_cli_flow(tmp_path: Path, tree_library: Path, pidfile: Path) -> subprocess.Popen[str]:
    workflow = tmp_path / "flow.json"
    workflow.write_text(json.dumps({
        "libraries": [str(tree_library)], "library_modes": {"Tree": "isolated"},
        "nodes": [{"name": "s", "library": "Tree", "type": "Spawn",
                   "values": {"pidfile": str(pidfile), "hang": True}}],
    }))
    return subprocess.Popen([sys.executable, "-m", "nodeisle.cli", "run", str(workflow)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_ctrl_c_in_nodeisle_run_leaves_no_process_a_node_started(
    tree_library: Path, tmp_path: Path, offline_home: Path
) -> None:
    pidfile = tmp_path / "pids.json"
    proc = _run_cli_flow(tmp_path, tree_library, pidfile)
    try:
        pids = wait_for_pids(pidfile)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, output
    assert_all_gone(pids)


def test_an_orchestrator_killed_with_sigkill_leaves_no_process_a_node_started(
    tree_library: Path, tmp_path: Path, offline_home: Path
) -> None:
    pidfile = tmp_path / "pids.json"
    proc = _run_cli_flow(tmp_path, tree_library, pidfile)
    try:
        pids = wait_for_pids(pidfile)
        proc.kill()  # SIGKILL: the orchestrator cleans up nothing
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert_all_gone(pids, timeout=40)  # the guard's parent-death signal, on a loaded machine


def test_the_guard_exits_with_the_runtimes_own_code_or_signal(tmp_path: Path) -> None:
    """The orchestrator's crash report reads the guard's exit status: it must be the runtime's."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(REPO / "src")!r})
        from nodeisle.worker import guard
        how = sys.argv[1]
        def worker(line, guard_pid):
            assert guard_pid == os.getppid()
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            return 7
        raise SystemExit(guard.main(worker))
    """)
    for how, expected in (("code", 7), ("kill", -signal.SIGKILL)):
        done = subprocess.run([sys.executable, "-c", script, how], input='{"parent_pid": null}\n', text=True,
                              capture_output=True, timeout=30)
        assert done.returncode == expected, done.stderr


def test_children_of_reads_the_parent_of_every_process() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert child.pid in guard.children_of(os.getpid())
    finally:
        child.kill()
        child.wait()


HOSTILE_NODES = '''
import ctypes, json, os, signal, subprocess, time
from nodeisle import BaseNode, Parameter, ParameterMode
IN, OUT = {ParameterMode.INPUT}, {ParameterMode.OUTPUT}
class Introspect(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("report", type="str", allowed_modes=OUT))
    def process(self):
        dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
        with open("/proc/self/environ", "rb") as f:
            started_with = f.read().decode("utf-8", "replace")
        self.parameter_output_values["report"] = json.dumps({
            "dumpable": dumpable, "secret_in_exec_env": "sealed-secret-value" in started_with,
            "secret_in_os_environ": os.environ.get("SEALED_KEY") == "sealed-secret-value"})
class Rogue(BaseNode):
    # Starts a setsid daemon and a plain child holding the worker's pipes, then signals its own guard.
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("pidfile", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("how", type="str", default_value="SIGSTOP", allowed_modes=IN))
        self.add_parameter(Parameter("done", type="bool", allowed_modes=OUT))
    def process(self):
        pids = {"daemon": subprocess.Popen(["sleep", "613"], start_new_session=True).pid,
                "child": subprocess.Popen(["sleep", "614"]).pid}
        with open(self.parameter_values["pidfile"], "w") as f:
            json.dump(pids, f)
        os.kill(os.getppid(), getattr(signal, self.parameter_values["how"]))
        self.parameter_output_values["done"] = True
'''


def test_the_worker_is_sealed_before_its_credential_and_secrets_arrive(tmp_path: Path, offline_home: Path) -> None:
    """Regression: another library's code read a starting worker's launch line from /proc/<pid>/fd/0."""
    library = write_library(tmp_path, "Hostile", HOSTILE_NODES, ["Introspect", "Rogue"],
                            declarations=[{"type": "required_secrets", "keys": ["SEALED_KEY"]}])
    (offline_home / ".env").write_text("SEALED_KEY=sealed-secret-value\n")

    async def body() -> dict[str, Any]:
        async with build_orchestrator() as o:
            assert (await o.handle_async(RegisterLibraryRequest(path=str(library), mode="isolated"))).succeeded
            assert (await o.handle_async(CreateNodeRequest(node_type="Introspect", node_name="i"))).succeeded
            result = await o.handle_async(ExecuteNodeRequest(node_name="i"))
            assert result.succeeded, result.message
            report: dict[str, Any] = json.loads(result.parameter_output_values["report"])
            return report

    report = run(body(), timeout=60)
    assert report == {"dumpable": 0, "secret_in_exec_env": False, "secret_in_os_environ": True}


@pytest.mark.parametrize("how", ["SIGSTOP", "SIGKILL"])
def test_a_node_that_signals_its_own_guard_leaves_no_worker_stuck_and_no_child_behind(
    tmp_path: Path, offline_home: Path, how: str
) -> None:
    """Regression: a stopped guard ignored the SIGTERM, and a killed one left the library wedged on open pipes."""
    library = write_library(tmp_path, "Hostile", HOSTILE_NODES, ["Introspect", "Rogue"])
    pidfile = tmp_path / "pids.json"

    async def body() -> tuple[dict[str, int], Any]:
        async with build_orchestrator() as o:
            assert (await o.handle_async(RegisterLibraryRequest(path=str(library), mode="isolated"))).succeeded
            assert (await o.handle_async(CreateNodeRequest(node_type="Rogue", node_name="r"))).succeeded
            assert (await o.handle_async(CreateNodeRequest(node_type="Introspect", node_name="i"))).succeeded
            await o.handle_async(ExecuteNodeRequest(node_name="r", parameter_values={"pidfile": str(pidfile), "how": how}))
            pids = wait_for_pids(pidfile)
            worker = o.libraries["Hostile"].host.worker  # type: ignore[union-attr]
            deadline = time.monotonic() + 20
            while how == "SIGKILL" and worker.alive:  # its runtime dies with its guard (parent-death signal)
                assert time.monotonic() < deadline, "a worker whose guard was killed was never seen dead"
                await asyncio.sleep(0.05)
            later = await o.handle_async(ExecuteNodeRequest(node_name="i"))
            if how == "SIGKILL":  # out of reach once its guard is killed (docs/workers.md): end it here
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pids["daemon"], signal.SIGKILL)
            return pids, later

    pids, later = run(body(), timeout=90)
    assert later.succeeded, later.message  # SIGKILL: a fresh worker; SIGSTOP: the same one, still serving
    assert_all_gone({"child": pids["child"]})
    if how == "SIGSTOP":  # a setsid daemon is in the tree while the guard lives (docs/workers.md)
        assert_all_gone({"daemon": pids["daemon"]})


# -- containment: the guard joins the worker's cgroup and sets its rlimits before the runtime forks ----
def test_the_guard_refuses_to_run_a_library_it_cannot_contain_and_sets_rlimits(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2] / "src")!r})
        from nodeisle.worker.guard import contain
        print(contain({{"cgroup_procs": [{str(tmp_path / "missing" / "cgroup.procs")!r}]}}))
        print(contain({{"rlimits": {{"RLIMIT_NOFILE": 64}}}}), resource.getrlimit(resource.RLIMIT_NOFILE))
        print(contain({{"rlimits": {{"RLIMIT_BOGUS": 1}}}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    first, second, third = out.stdout.splitlines()
    assert first.startswith("could not join cgroup ") and "missing/cgroup.procs" in first
    assert second == "None (64, 64)"
    assert third.startswith("could not set RLIMIT_BOGUS to 1")
