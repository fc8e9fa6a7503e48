"""The I/O audit of ``__init__`` during the schema probe: what it records, where, and only when asked."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from nodeisle.manifest import load_manifest
from nodeisle.node import audit as _audit
from nodeisle.node import hosting as _hosting
from nodeisle.strict.rules import Context
from tests.conftest import run, write_library

NODES = '''
import os, socket, subprocess, sys, time
from pathlib import Path
from nodeisle import BaseNode, Parameter

HERE = Path(__file__).parent

class ReadsFile(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        for _ in range(3):
            (HERE / "data.txt").read_text()
        self.add_parameter(Parameter("x"))

class Connects(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        with socket.socket() as s:
            s.settimeout(1)
            s.connect_ex(("127.0.0.1", 9))

class Spawns(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        os.system("true")

class ImportsLazily(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        import email.mime.text, xml.dom.minidom  # reading modules is not the I/O the rule is about

class SlowAfterRead(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        (HERE / "data.txt").read_text()
        time.sleep(3)

class Quiet(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("x", default_value=len("no io here")))
'''
CLASSES = ["ReadsFile", "Connects", "Spawns", "ImportsLazily", "Quiet"]


def load(root: Path, classes: list[str], name: str = "Audit") -> _hosting.LibraryCode:
    folder = write_library(root, name, NODES, classes)
    (folder / "data.txt").write_text("data")
    return _hosting.import_library(load_manifest(folder))


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> _hosting.LibraryCode:
    return load(tmp_path_factory.mktemp("audit"), CLASSES)


def events(report: _hosting.ProbeReport) -> list[tuple[str, str, str, int]]:
    return [(e.class_name, e.event, e.target, e.line) for e in report.io_events]


def test_io_in_init_is_recorded_with_its_library_call_site_once_per_line(code: _hosting.LibraryCode) -> None:
    report = _hosting.probe_library(code, Context.WORKER, timeout=10, audit_io=True)
    data = str(code.manifest.directory / "data.txt")
    assert events(report) == [
        ("ReadsFile", "open", data, 12),
        ("Connects", "socket.connect", "('127.0.0.1', 9)", 20),
        ("Spawns", "subprocess.Popen", f"{Path(sys.executable).name} -c pass", 25),
        ("Spawns", "os.system", "true", 26),
    ]
    assert {e.file for e in report.io_events} == {str(code.manifest.directory / "nodes.py")}
    assert sorted(report.schemas) == sorted(CLASSES), "recording I/O never changes what the probe keeps"


def test_nothing_is_recorded_unless_the_probe_is_asked_to_audit(code: _hosting.LibraryCode) -> None:
    assert _hosting.probe_library(code, Context.ORCHESTRATOR, timeout=10).io_events == []


def test_a_context_that_asks_for_auditing_turns_it_on_for_probes_in_threads(code: _hosting.LibraryCode) -> None:
    async def probe_in_thread() -> _hosting.ProbeReport:
        with _audit.auditing_construction():
            return await asyncio.to_thread(_hosting.probe_library, code, Context.ORCHESTRATOR, 10)

    report = run(probe_in_thread(), timeout=30)
    assert [e.class_name for e in report.io_events] == ["ReadsFile", "Connects", "Spawns", "Spawns"]
    assert not _audit.construction_audited(), "the request ends with its block"


def test_io_outside_construction_is_not_recorded(code: _hosting.LibraryCode, tmp_path: Path) -> None:
    recorder = _audit.recorder("Quiet", code.manifest.directory)
    with _audit.recording(recorder):
        pass
    (tmp_path / "after.txt").write_text("written after the recording ended")
    assert recorder.events == []


def test_io_before_a_probe_timeout_is_still_reported(tmp_path: Path) -> None:
    slow = load(tmp_path, ["SlowAfterRead"], name="Audit Slow")
    report = _hosting.probe_library(slow, Context.WORKER, timeout=0.5, audit_io=True)
    assert [d.class_name for d in report.dropped] == ["SlowAfterRead"]
    assert [(e.class_name, e.event) for e in report.io_events] == [("SlowAfterRead", "open")]


def test_io_events_survive_the_trip_from_worker_to_orchestrator_as_dicts() -> None:
    event = _audit.IOEvent("C", "open", "/x", "/lib/nodes.py", 3)
    assert _audit.IOEvent.from_dict(event.to_dict()) == event
