"""The editor's page in a real browser: outputs by kind (images as images), the inspector, refused
connections at their port, port colours, and strict-mode violations pushed as they are found.

Debian's chromium, driven by Playwright, against a real ``nodeisle editor`` (tests/editor/conftest.py).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import write_library
from tests.editor.conftest import EditorProcess

PICTURE_NODES = '''
import struct, zlib
from nodeisle import BaseNode, Options, Parameter, ParameterMode, handle_request
from nodeisle.requests import SaveStaticFileRequest

OUT = {ParameterMode.OUTPUT}


def png(width=2, height=2):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\\x00" + b"\\xff\\x00\\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Pictures(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("style", type="str", default_value="a", tooltip="a trait: dropped at load",
                                     traits=[Options(choices=["a", "b"])],
                                     allowed_modes={ParameterMode.INPUT, ParameterMode.PROPERTY}))
        for name in ("raw", "artifact", "saved_url", "outside", "data", "count", "word"):
            self.add_parameter(Parameter(name, type="any", allowed_modes=OUT))

    def process(self):
        saved = handle_request(SaveStaticFileRequest(library_name="Pics Lib", file_name="red.png", data=png(4, 4)))
        out = self.parameter_output_values
        out["raw"] = png()
        out["artifact"] = {"type": "ImageUrlArtifact", "value": saved.url}
        out["saved_url"] = saved.url
        out["outside"] = "file://" + OUTSIDE
        out["data"] = {"b": [1, 2], "a": {"nested": True}}
        out["count"] = 7
        out["word"] = "plain words"
'''


def _pictures_library(root: Path) -> Path:
    outside = root / "outside.png"  # a real PNG, but not in the static-files area: never served
    library = write_library(root / "libs", "Pics Lib", "OUTSIDE = " + repr(str(outside)) + "\n" + PICTURE_NODES,
                            ["Pictures"])
    outside.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    return library


def _node(page: Any, name: str) -> Any:
    return page.get_by_role("group", name=name, exact=True)


def _add_library(page: Any, path: Path, name: str) -> None:
    page.get_by_role("textbox", name="Library path").fill(str(path))
    page.get_by_role("button", name="Add library").click()
    expect(page.get_by_role("combobox", name=f"Mode for {name}")).to_be_visible()


def _loaded(page: Any, name: str) -> int:
    """The image's natural width once the browser decoded it (0: it did not load)."""
    return int(page.get_by_role("img", name=name).evaluate("img => img.complete ? img.naturalWidth : 0"))


def test_outputs_by_kind_images_as_images_and_the_inspector(page: Any, editor: EditorProcess, tmp_path: Path) -> None:
    _add_library(page, _pictures_library(tmp_path), "Pics Lib")
    page.get_by_role("region", name="Nodes").get_by_role("button", name="Pictures").click()
    page.get_by_role("button", name="Run", exact=True).click()
    node = _node(page, "Pictures")
    expect(node.get_by_label("Status of Pictures")).to_have_text("succeeded", timeout=30_000)
    outputs = node.get_by_role("list", name="Outputs of Pictures")
    expect(outputs).to_contain_text("count: 7")
    expect(outputs).to_contain_text("word: plain words")
    expect(outputs).to_contain_text('data: {\n  "b": [\n    1,\n    2\n  ],')  # pretty-printed JSON
    # PNG bytes, an image URL artifact and a file:// URL of the static-files area are images.
    for name, width in (("Pictures.raw", 2), ("Pictures.artifact", 4), ("Pictures.saved_url", 4)):
        image = node.get_by_role("img", name=name)
        expect(image).to_have_attribute("src", re.compile(r"^/media/[0-9a-f]{64}$"))
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert _loaded(node, name) == width
    # A file:// URL outside it is text, and no route serves it.
    expect(node.get_by_role("img", name="Pictures.outside")).to_have_count(0)
    expect(outputs).to_contain_text(f"outside: file://{tmp_path / 'outside.png'}")
    src = node.get_by_role("img", name="Pictures.raw").get_attribute("src")
    assert page.request.get(editor.origin + src).headers["content-type"] == "image/png"
    assert page.request.get(editor.origin + "/media/" + "0" * 64).status == 404
    with pytest.raises(urllib.error.HTTPError) as refused:  # no token: refused like every route
        urllib.request.urlopen(editor.origin + src, timeout=10)
    assert refused.value.code == 403

    # The inspector repeats the selected node's last inputs and outputs.
    inspector = page.get_by_role("region", name="Inspector")
    expect(inspector).to_contain_text("Select a node")
    node.locator("header").click()
    expect(inspector.get_by_role("list", name="Inputs of Pictures")).to_contain_text("style: a")
    last = inspector.get_by_role("list", name="Last outputs of Pictures")
    expect(last).to_contain_text("count: 7")
    expect(last.get_by_role("img", name="Pictures.raw")).to_be_visible()


CHAIN = '''
from nodeisle import BaseNode, Parameter, ParameterMode

IN = {ParameterMode.INPUT, ParameterMode.PROPERTY}
OUT = {ParameterMode.OUTPUT}

class Number(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("n", type="int", default_value=3, allowed_modes=IN))
        self.add_parameter(Parameter("doubled", type="int", allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["doubled"] = 2 * self.parameter_values["n"]

class Words(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="x", allowed_modes=IN))
        self.add_parameter(Parameter("times", type="int", default_value=1, allowed_modes=IN))
        self.add_parameter(Parameter("result", type="str", allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["result"] = self.parameter_values["text"] * self.parameter_values["times"]
        self.add_parameter(Parameter("sneaky", type="str"))
'''


def _handle(page: Any, node: str, side: str, parameter: str) -> Any:
    return _node(page, node).locator(f".react-flow__handle-{side}[data-handleid='{parameter}']")


def test_a_refused_connection_is_shown_at_its_port_and_ports_show_their_type(
    page: Any, editor: EditorProcess, tmp_path: Path
) -> None:
    workflow = tmp_path / "chain.json"
    write_library(tmp_path / "libs", "Chain Lib", CHAIN, ["Number", "Words"])
    workflow.write_text(json.dumps({
        "libraries": ["libs/chain_lib"],
        "nodes": [{"name": "a", "library": "Chain Lib", "type": "Number"},
                  {"name": "b", "library": "Chain Lib", "type": "Number"},
                  {"name": "w", "library": "Chain Lib", "type": "Words"}],
        "connections": [{"from": "a.doubled", "to": "w.times"}],
        "editor": {"positions": {"a": {"x": 20, "y": 20}, "b": {"x": 20, "y": 340}, "w": {"x": 600, "y": 20}}},
    }))
    page.get_by_role("textbox", name="Workflow path").fill(str(workflow))
    page.get_by_role("button", name="Open workflow").click()
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    legend = page.get_by_role("list", name="Port types")
    expect(legend).to_contain_text("int")
    expect(legend).to_contain_text("str")
    colour = _handle(page, "a", "right", "doubled").evaluate("h => getComputedStyle(h).backgroundColor")
    assert colour == _handle(page, "w", "left", "times").evaluate("h => getComputedStyle(h).backgroundColor")
    assert colour != _handle(page, "w", "left", "text").evaluate("h => getComputedStyle(h).backgroundColor")
    assert _handle(page, "w", "left", "text").get_attribute("title") == "text: str"

    # Dragged over an input of another type: refused before the drop, with the reason at that port.
    source, target = _handle(page, "b", "right", "doubled"), _handle(page, "w", "left", "text")
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + 4, start["y"] + 4)
    page.mouse.down()
    page.mouse.move(end["x"] + 2, end["y"] + 2, steps=8)
    page.mouse.move(end["x"] + 4, end["y"] + 4, steps=2)
    note = _node(page, "w").get_by_role("note", name="Refused at w.text")
    expect(note).to_contain_text("type int (b.doubled) does not match str (w.text)")
    page.mouse.up()
    expect(note).to_be_visible()  # it stays after the drop
    expect(page.get_by_role("status")).to_contain_text("does not match")
    expect(page.locator(".react-flow__edge")).to_have_count(1)  # nothing was drawn

    # The engine's own refusal (an input takes one connection) is shown at its port too.
    source.drag_to(_handle(page, "w", "left", "times"))
    expect(_node(page, "w").get_by_role("note", name="Refused at w.times")).to_contain_text("w.times")
    expect(_node(page, "w").get_by_role("note", name="Refused at w.text")).to_have_count(0)
    expect(page.locator(".react-flow__edge")).to_have_count(1)

    # The inspector shows an input fed by a connection with what its upstream gave.
    page.get_by_role("button", name="Run w").click()
    expect(_node(page, "w").get_by_label("Status of w")).to_have_text("succeeded", timeout=30_000)
    _node(page, "w").locator("header").click()
    inputs = page.get_by_role("region", name="Inspector").get_by_role("list", name="Inputs of w")
    expect(inputs).to_contain_text("times (from a.doubled): 6")
    expect(inputs).to_contain_text("text: x")


def test_violations_are_pushed_as_found_on_their_node_and_at_load_on_their_library(
    page: Any, editor: EditorProcess, tmp_path: Path
) -> None:
    from websockets.sync.client import connect

    _add_library(page, _pictures_library(tmp_path), "Pics Lib")
    entry = page.get_by_role("region", name="Libraries").get_by_role("listitem", name="Pics Lib")
    at_load = entry.get_by_role("group", name="Violations of Pics Lib")
    expect(at_load).to_contain_text("parameter-behaviors-dropped")
    expect(at_load).to_contain_text("fix: ")
    write_library(tmp_path / "libs", "Chain Lib", CHAIN, ["Number", "Words"])
    _add_library(page, tmp_path / "libs" / "chain_lib", "Chain Lib")
    page.get_by_role("region", name="Nodes").get_by_role("button", name="Words").click()
    url = f"ws://127.0.0.1:{editor.port}/ws?token={editor.token}"
    with connect(url, origin=editor.origin, open_timeout=10) as socket:  # type: ignore[arg-type]
        page.get_by_role("button", name="Run", exact=True).click()
        found: list[dict[str, Any]] = []
        while not found:
            message = json.loads(socket.recv(timeout=30))
            found += [e["fields"] for e in message.get("events", [message]) if e.get("event") == "ViolationFound"]
    assert found[0]["node"] == "Words" and found[0]["library"] == "Chain Lib"
    assert found[0]["rule_id"] == "parameter-mutation-during-aprocess" and found[0]["severity"] == "WARNING"
    assert "AddParameterToNodeRequest" in found[0]["remediation"]
    violations = _node(page, "Words").get_by_role("list", name="Violations")
    expect(violations).to_contain_text("[WARNING] parameter-mutation-during-aprocess")
    expect(violations).to_contain_text("fix: Guideline")
    expect(violations.get_by_role("listitem")).to_have_count(1)  # the pushed one and the result's, once


def test_a_first_user_adds_an_example_library_flips_it_isolated_builds_runs_and_reads_the_logs(
    page: Any, editor: EditorProcess
) -> None:
    """Nothing typed but a value: the example libraries are offered on the page."""
    libraries = page.get_by_role("region", name="Libraries")
    expect(page.get_by_role("region", name="Logs")).to_be_visible()
    libraries.get_by_role("group", name="Example libraries").get_by_role("button", name="Add example text_tools").click()
    select = page.get_by_role("combobox", name="Mode for Text Tools")
    expect(select).to_have_value("shared")
    entry = libraries.get_by_role("listitem", name="Text Tools")
    expect(entry).to_contain_text("worker: in process")
    expect(libraries.get_by_role("button", name="Add example text_tools")).to_have_count(0)  # added: not offered
    select.select_option("isolated")
    expect(entry).to_contain_text(re.compile(r"worker: Worker-[0-9a-f]+ ready"), timeout=90_000)
    expect(select).to_have_accessible_description(re.compile("your choice"))
    palette = page.get_by_role("region", name="Nodes")
    palette.get_by_role("button", name="Echo").click()
    palette.get_by_role("button", name="Upper").click()
    expect(_node(page, "Upper")).to_be_visible()
    text = page.get_by_role("textbox", name="Echo.text")
    expect(text).to_have_attribute("title", "Text to pass on")
    text.fill("hello editor")
    text.press("Enter")
    _handle(page, "Echo", "right", "result").drag_to(_handle(page, "Upper", "left", "text"))
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(_node(page, "Upper").get_by_label("Status of Upper")).to_have_text("succeeded", timeout=60_000)
    expect(_node(page, "Upper").get_by_role("list", name="Outputs of Upper")).to_contain_text("result: HELLO EDITOR")
    expect(page.get_by_role("status")).to_contain_text("run succeeded")
    expect(page.get_by_role("region", name="Logs")).to_contain_text(re.compile(r"Worker-[0-9a-f]+"))
