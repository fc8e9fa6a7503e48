"""The sandbox through real workers under bubblewrap: what a sandboxed node can and cannot reach.

A sandboxed node cannot read the engine home or the orchestrator's ``/proc/<pid>/environ``, cannot
open a TCP connection, and still runs its work and talks to the orchestrator (over a Unix socket).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from nodeisle.config.settings import Settings
from nodeisle.orchestrator.containment import Limits
from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.requests import CreateNodeRequest, ExecuteNodeRequest, RegisterLibraryRequest, Result
from tests.conftest import run, write_library

NODES = '''
import os, socket
from nodeisle import BaseNode, Parameter, ParameterMode
IN, OUT = {ParameterMode.INPUT}, {ParameterMode.OUTPUT}

def attempt(action):
    try:
        return "ok: " + str(action())
    except Exception as exc:
        return "refused: " + type(exc).__name__

class Probe(BaseNode):
    """Tries what a sandbox must refuse, and does ordinary work."""
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        for name in ("secret_file", "orchestrator_pid", "port", "other_library"):
            self.add_parameter(Parameter(name, type="any", allowed_modes=IN))
        self.add_parameter(Parameter("text", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("seen", type="any", allowed_modes=OUT))
    def process(self):
        v = self.parameter_values
        def scratch():
            with open("/tmp/scratch.txt", "w") as handle:
                handle.write("mine")
            return open("/tmp/scratch.txt").read()
        def into_library():
            with open(os.path.join(os.path.dirname(__file__), "written.txt"), "w") as handle:
                handle.write("x")
        self.parameter_output_values["seen"] = {
            "secret": attempt(lambda: open(v["secret_file"]).read()),
            "environ": attempt(lambda: open(f"/proc/{v['orchestrator_pid']}/environ", "rb").read()[:10]),
            "tcp": attempt(lambda: socket.create_connection(("127.0.0.1", v["port"]), timeout=2).close()),
            "other_library": attempt(lambda: os.listdir(v["other_library"])),
            "scratch": attempt(scratch),
            "library_write": attempt(into_library),
            "own_source": attempt(lambda: len(open(__file__).read()) > 0),
            "pid": os.getpid(),
            "work": v["text"].upper(),
        }
'''

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap: apt-get install bubblewrap "
                                 "(scripts/containment-deps.sh installs it)")


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


async def _boxed(lib: Path, home: Path, *, network: bool = False, limits: Limits | None = None) -> Orchestrator:
    settings = Settings.load(home)
    settings.library_sandbox["Boxed"] = {"enabled": True, "network": network}
    if limits is not None:
        settings.library_limits["Boxed"] = limits
    settings.save()
    o = build_orchestrator(config_flags={"execution_timeout": 60})
    await o.__aenter__()
    ok(await o.handle_async(RegisterLibraryRequest(path=str(lib), mode="isolated")))
    ok(await o.handle_async(CreateNodeRequest(node_type="Probe", node_name="p")))
    return o


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    return write_library(tmp_path / "libs", "Boxed", NODES, ["Probe"])


def _probe_values(o: Orchestrator, home: Path, other: Path) -> dict[str, Any]:
    (home / ".env").write_text("NODEISLE_SECRET=hunter2\n")
    port = int(o.hub.url.rsplit(":", 1)[1].split("/")[0]) if o.hub.url.startswith("ws://") else 1
    return {"secret_file": str(home / ".env"), "orchestrator_pid": os.getpid(), "port": port,
            "other_library": str(other), "text": "still works"}


@needs_bwrap
def test_a_sandboxed_node_cannot_read_the_home_or_the_orchestrator_nor_connect_yet_works(
    lib: Path, tmp_path: Path, offline_home: Path
) -> None:
    other = write_library(tmp_path / "elsewhere", "Other", "", [])

    async def body() -> None:
        o = await _boxed(lib, offline_home)
        try:
            await o.hub.ensure_started()
            result = ok(await o.handle_async(ExecuteNodeRequest(node_name="p", parameter_values=_probe_values(
                o, offline_home, other))))
            seen = result.parameter_output_values["seen"]
            assert seen["work"] == "STILL WORKS"  # ran, and its output crossed the bus (a Unix socket)
            assert seen["secret"] == "refused: FileNotFoundError"  # the engine home is an empty folder
            assert seen["environ"] == "refused: FileNotFoundError"  # no orchestrator in its PID namespace
            assert seen["tcp"].startswith("refused: ")  # no network namespace of the host's
            # Another library's folder: an empty tmpfs over it, or absent where /tmp (its private scratch) is.
            assert seen["other_library"] in ("ok: []", "refused: FileNotFoundError")
            assert seen["scratch"] == "ok: mine" and seen["own_source"] == "ok: True"
            assert seen["library_write"] == "refused: OSError"  # its own folder is read-only
            assert seen["pid"] < 10  # its own PID namespace
            assert not (tmp_path / "libs" / "boxed" / "written.txt").exists()
        finally:
            await o.close()

    run(body(), timeout=120)


@needs_bwrap
def test_a_sandbox_with_network_reaches_the_bus_port_over_tcp(lib: Path, tmp_path: Path, offline_home: Path) -> None:
    async def body() -> None:
        o = await _boxed(lib, offline_home, network=True)
        try:
            await o.hub.ensure_started()
            values = _probe_values(o, offline_home, tmp_path)
            seen = ok(await o.handle_async(ExecuteNodeRequest(node_name="p", parameter_values=values)))
            assert seen.parameter_output_values["seen"]["tcp"] == "ok: None"
            assert seen.parameter_output_values["seen"]["secret"] == "refused: FileNotFoundError"
        finally:
            await o.close()

    run(body(), timeout=120)


@needs_bwrap
def test_a_sandboxed_library_keeps_its_memory_limit_and_its_attribution(lib: Path, offline_home: Path) -> None:
    from nodeisle.orchestrator.cgroups import machine_facts

    if machine_facts().v2_root is None and "memory" not in machine_facts().v1_roots:
        pytest.skip("needs a writable memory cgroup")
    hog = lib / "nodes.py"
    hog.write_text(hog.read_text() + '''
class Hog(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("mib", type="int", default_value=1, allowed_modes=IN))
    def process(self):
        held = [b"\\\\x01" * (1 << 20) for _ in range(self.parameter_values["mib"])]
        assert held
''')
    manifest = lib / "griptape-nodes-library.json"
    manifest.write_text(manifest.read_text().replace('"nodes": [', '"nodes": [{"class_name": "Hog", "file_path": '
                                                     '"nodes.py", "metadata": {"category": "test", "description": '
                                                     '"Hog", "display_name": "Hog"}}, ', 1))

    async def body() -> None:
        o = await _boxed(lib, offline_home, limits=Limits(memory=128 * 1024**2))
        try:
            ok(await o.handle_async(CreateNodeRequest(node_type="Hog", node_name="h")))
            ok(await o.handle_async(ExecuteNodeRequest(node_name="h", parameter_values={"mib": 8})))
            failed = await o.handle_async(ExecuteNodeRequest(node_name="h", parameter_values={"mib": 400}))
            assert "library 'Boxed' exceeded its memory limit of 128 MiB" in failed.message
            ok(await o.handle_async(ExecuteNodeRequest(node_name="h", parameter_values={"mib": 8})))
        finally:
            await o.close()

    run(body(), timeout=120)


def test_a_machine_without_bubblewrap_gets_an_error_naming_the_package(
    lib: Path, offline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)

    async def body() -> None:
        settings = Settings.load(offline_home)
        settings.library_sandbox["Boxed"] = {"enabled": True}
        settings.save()
        async with build_orchestrator() as o:
            result = await o.handle_async(RegisterLibraryRequest(path=str(lib), mode="isolated"))
            text = result.message
            assert "bubblewrap (bwrap) is not installed" in text and "apt-get install bubblewrap" in text
            assert "nodeisle libraries sandbox Boxed off" in text

    run(body(), timeout=120)


@needs_bwrap
def test_check_reports_what_a_sandboxed_init_tried_that_was_refused_with_its_call_site(
    tmp_path: Path, offline_home: Path
) -> None:
    from nodeisle.check.observe import check_library

    source = f'''
import socket
from nodeisle import BaseNode

class Nosy(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        try:
            open({str(offline_home / ".env")!r}).read()
        except OSError:
            pass
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=1).close()
        except OSError:
            pass
    def process(self):
        pass
'''
    lib = write_library(tmp_path / "libs", "Nosy", source, ["Nosy"])
    settings = Settings.load(offline_home)
    settings.library_sandbox["Nosy"] = {"enabled": True, "network": False}

    async def body() -> None:
        report = await check_library(lib, home=offline_home, settings=settings)
        refused = {(e.event, why.split(" ")[-1] if "hidden" in why else "network") for e, why in report.observed.refused}
        assert ("open", "sandbox") in refused  # the engine home
        assert refused & {("socket.getaddrinfo", "network"), ("socket.connect", "network")}  # the connection
        text = "\n".join(report.lines())
        assert f"sandbox refused: Nosy.__init__ open {offline_home / '.env'} at " in text
        assert "nodes.py:9: " in text and "nodes.py:13: its sandbox has no network" in text  # the call sites
        assert "sandbox_refused" in report.to_json()

    run(body(), timeout=120)
