"""SaveStaticFileRequest: files node code makes go into its library's folder of the engine home, written by the
orchestrator (a worker's request crosses the bus), atomically, with checked names and a size bound."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from nodeisle.orchestrator import authority
from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.orchestrator.static_files import StaticFileError, StaticFiles, check_file_name, library_folder
from nodeisle.requests import (
    CreateFlowRequest,
    CreateNodeRequest,
    ExecuteNodeRequest,
    RegisterLibraryRequest,
    Result,
    SaveStaticFileRequest,
    SaveStaticFileResult,
)
from nodeisle.testing.inprocess import build_in_process_orchestrator
from tests.conftest import run, write_library


def ok(result: Result) -> Any:
    assert result.succeeded, result.message
    return result


# -- names and writes, without an engine ------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "is empty"),
        ("../escape.png", "no path traversal"),
        ("a/../../b.png", "no path traversal"),
        ("a//b.png", "no path traversal"),
        ("/etc/passwd", "is absolute"),
        ("..\\up.png", "backslash"),
        ("a\x00b", "control character"),
        (".hidden", "starting with '.'"),
        ("x/.a.png.1234.tmp", "starting with '.'"),
        ("n" * 256, "longer than 255 bytes"),
    ],
)
def test_a_bad_file_name_is_refused_with_the_reason_never_rewritten(name: str, why: str) -> None:
    with pytest.raises(StaticFileError, match="use a relative name") as caught:
        check_file_name(name)
    assert why in str(caught.value) and caught.value.reason == "invalid_name"


def test_each_library_gets_one_folder_and_no_name_is_a_path_or_dots() -> None:
    names = ["Text Tools", "Text-Tools", "Text_Tools", "Text.Tools", "a/b", "..", ".", "%2E."]
    folders = [library_folder(n) for n in names]
    assert len(set(folders)) == len(names)
    assert all("/" not in f and f not in (".", "..") and not f.startswith(".") for f in folders)
    assert library_folder("Text Tools") == "Text Tools" and library_folder("a/b") == "a%2Fb"
    with pytest.raises(StaticFileError, match="library_name is empty"):
        library_folder("")


def test_overwrite_create_new_and_fail_policies(tmp_path: Path) -> None:
    files = StaticFiles(tmp_path / "static_files")
    first = files.save("Lib", "shots/a.png", b"one", "overwrite", 100)
    assert first.path == tmp_path / "static_files" / "Lib" / "shots" / "a.png" and first.path.read_bytes() == b"one"
    assert files.save("Lib", "shots/a.png", b"two", "overwrite", 100).path.read_bytes() == b"two"
    numbered = [files.save("Lib", "shots/a.png", b"n", "CREATE_NEW", 100).file_name for _ in range(2)]
    assert numbered == ["shots/a_1.png", "shots/a_2.png"]
    with pytest.raises(StaticFileError, match="exists") as caught:
        files.save("Lib", "shots/a.png", b"three", "fail", 100)
    assert caught.value.reason == "exists" and first.path.read_bytes() == b"two"
    with pytest.raises(StaticFileError, match="data must be bytes, not str"):
        files.save("Lib", "b.png", "text", "overwrite", 100)  # type: ignore[arg-type]
    with pytest.raises(StaticFileError, match="not one of overwrite, create_new, fail"):
        files.save("Lib", "b.png", b"", "sometimes", 100)
    # no temp file is left behind by any of them
    assert sorted(p.name for p in (first.path.parent).iterdir()) == ["a.png", "a_1.png", "a_2.png"]


def test_a_file_over_the_limit_is_not_written(tmp_path: Path) -> None:
    files = StaticFiles(tmp_path)
    with pytest.raises(StaticFileError, match="at most 3 are allowed \\(the max_value_bytes setting\\)") as caught:
        files.save("Lib", "big.bin", b"1234", "overwrite", 3)
    assert caught.value.reason == "too_large" and not (tmp_path / "Lib" / "big.bin").exists()


def test_a_symlinked_folder_cannot_lead_a_save_out_of_the_library_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "static" / "Lib").mkdir(parents=True)
    (tmp_path / "static" / "Lib" / "link").symlink_to(outside)
    with pytest.raises(StaticFileError, match="would leave its library's folder"):
        StaticFiles(tmp_path / "static").save("Lib", "link/x.png", b"x", "overwrite", 10)
    assert list(outside.iterdir()) == []


def test_concurrent_overwrites_leave_one_whole_file_and_concurrent_create_new_never_share_a_name(
    tmp_path: Path,
) -> None:
    files = StaticFiles(tmp_path)
    payloads = [bytes([i]) * 200_000 for i in range(8)]
    names: list[str] = []

    def overwrite(data: bytes) -> None:
        files.save("Lib", "same.bin", data, "overwrite", len(data))

    def create(data: bytes) -> None:
        names.append(files.save("Lib", "new.bin", data, "create_new", len(data)).file_name)

    threads = [threading.Thread(target=f, args=(p,)) for p in payloads for f in (overwrite, create)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (tmp_path / "Lib" / "same.bin").read_bytes() in payloads  # one writer's bytes, whole
    assert len(set(names)) == len(payloads)
    assert not [p for p in (tmp_path / "Lib").iterdir() if p.name.startswith(".")]


def test_the_static_files_rule_refuses_another_librarys_folder() -> None:
    facts = authority.GraphFacts(lambda _n: None, lambda _t, _l: None, lambda _f: [], lambda _l: None)
    own = SaveStaticFileRequest(library_name="A", file_name="x.png", data=b"x")
    other = SaveStaticFileRequest(library_name="B", file_name="x.png", data=b"x")
    assert authority.judge("A", own, facts) is None
    refusal = authority.judge("A", other, facts)
    assert refusal is not None and "(rule static-files)" in refusal and "library_name='A'" in refusal
    assert "data=" not in repr(own) or "<1 bytes>" in repr(own)


# -- through the orchestrator: Shared, and forwarded from real workers -----------------------------
NODES = '''
import nodeisle
from nodeisle import BaseNode, Parameter, ParameterMode
from nodeisle.requests import SaveStaticFileRequest

class Saver(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("library", type="str", default_value="Saving Lib", allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("file_name", type="str", default_value="out.txt", allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("report", type="str", allowed_modes={ParameterMode.OUTPUT}))

    def process(self):
        request = SaveStaticFileRequest(library_name=self.parameter_values["library"],
                                        file_name=self.parameter_values["file_name"], data=b"made by " + self.name.encode())
        try:
            result = nodeisle.handle_request(request)
            report = {"succeeded": result.succeeded, "path": result.path, "url": result.url,
                      "reason": result.failure_reason, "message": result.message}
        except nodeisle.RequestRefused as exc:
            report = {"refused": str(exc)}
        self.parameter_output_values["report"] = __import__("json").dumps(report)
'''


@pytest.fixture(params=["shared", "isolated", "isolated-subprocess"])
def mode(request: pytest.FixtureRequest, offline_home: Path) -> str:
    return str(request.param)


async def _start(library: Path, mode: str) -> Orchestrator:
    orchestrator = build_in_process_orchestrator() if mode == "isolated" else build_orchestrator()
    await orchestrator.__aenter__()
    ok(await orchestrator.handle_async(RegisterLibraryRequest(path=str(library), mode=mode.removesuffix("-subprocess"))))
    ok(await orchestrator.handle_async(CreateFlowRequest(flow_name="main")))
    ok(await orchestrator.handle_async(CreateNodeRequest(node_type="Saver", node_name="saver", flow_name="main")))
    return orchestrator


async def _report(o: Orchestrator, **inputs: Any) -> dict[str, Any]:
    result = ok(await o.handle_async(ExecuteNodeRequest(node_name="saver", parameter_values=inputs)))
    # a service of the engine, not flow state: no worker-reach-into-orchestrator warning for it
    assert result.violations == [], result.violations
    return dict(json.loads(result.parameter_output_values["report"]))


def test_node_code_saves_into_its_librarys_folder_in_every_mode(tmp_path: Path, offline_home: Path, mode: str) -> None:
    library = write_library(tmp_path / "libs", "Saving Lib", NODES, ["Saver"])

    async def body() -> None:
        o = await _start(library, mode)
        try:
            report = await _report(o)
            expected = offline_home / "static_files" / "Saving Lib" / "out.txt"
            assert report["succeeded"] and report["path"] == str(expected), report
            assert report["url"] == expected.as_uri() and expected.read_bytes() == b"made by saver"
            traversal = await _report(o, file_name="../../config.json")
            assert not traversal["succeeded"] and traversal["reason"] == "invalid_name"
            assert "no path traversal" in traversal["message"] and not (offline_home / "config.json").exists()
            foreign = await _report(o, library="Other Lib")
            if mode == "shared":  # Shared code runs in the orchestrator and is not judged (docs/workers.md)
                assert foreign["succeeded"], foreign
            else:
                assert "(rule static-files)" in foreign["refused"], foreign
                assert not (offline_home / "static_files" / "Other Lib").exists()
        finally:
            await o.close()

    run(body(), timeout=180)


def test_the_size_bound_is_the_max_value_bytes_setting(home: Path) -> None:
    async def body() -> None:
        o = build_orchestrator(config_flags={"max_value_bytes": 4})
        async with o:
            small = await o.handle_async(SaveStaticFileRequest(library_name="L", file_name="a.bin", data=b"1234"))
            big = await o.handle_async(SaveStaticFileRequest(library_name="L", file_name="b.bin", data=b"12345"))
        assert small.succeeded and isinstance(big, SaveStaticFileResult) and big.failure_reason == "too_large"
        assert "max_value_bytes" in big.message and not (home / "static_files" / "L" / "b.bin").exists()
        assert os.listdir(home / "static_files" / "L") == ["a.bin"]

    run(body())
