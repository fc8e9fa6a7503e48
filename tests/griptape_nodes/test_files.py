"""griptape_nodes.files without an engine: reading every kind of location, local writes and their policies,
project paths and situations, and the managers' name and key mappings."""

from __future__ import annotations

import base64
import http.server
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from griptape_nodes.exe_types.node_types import DataNode
from griptape_nodes.exe_types.param_components.project_file_parameter import ProjectFileParameter
from griptape_nodes.files._project import ProjectPath, expand
from griptape_nodes.files.file import File, FileContent, FileDestination, FileLoadError, FileWriteError
from griptape_nodes.files.project_file import ProjectFileDestination
from griptape_nodes.retained_mode.events.os_events import ExistingFilePolicy, FileIOFailureReason
from griptape_nodes.retained_mode.managers.config_manager import _cast, nodeisle_key
from griptape_nodes.retained_mode.managers.secrets_manager import compliant_name
from nodeisle.errors import NotConnectedError


def test_local_paths_and_file_urls_read_text_as_str_and_binary_as_bytes(tmp_path: Path) -> None:
    text, image = tmp_path / "notes.txt", tmp_path / "pic.png"
    text.write_text("héllo")
    image.write_bytes(b"\x89PNG\r\n\x1a\n\xff")
    assert File(text).read() == FileContent("héllo", "text/plain", "utf-8", len("héllo".encode()))
    assert File(image.as_uri()).read() == FileContent(b"\x89PNG\r\n\x1a\n\xff", "image/png", None, 9)
    assert File(str(text)).read_bytes() == "héllo".encode() and File(text.as_uri()).read_text() == "héllo"
    assert File(image).read_data_uri() == "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()
    with pytest.raises(TypeError, match="binary content"):
        File(image).read_text()
    assert File(text).resolve() == str(text) and File(text).name == "notes.txt"


def test_data_uris_decode_base64_and_percent_encoding() -> None:
    assert File("data:text/plain;base64," + base64.b64encode(b"hi there").decode()).read_text() == "hi there"
    assert File("data:application/octet-stream,a%20b").read_bytes() == b"a b"
    with pytest.raises(FileLoadError, match="without a ','"):
        File("data:text/plain;base64").read()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p / "missing.txt", FileIOFailureReason.FILE_NOT_FOUND),
        (lambda p: p, FileIOFailureReason.IS_DIRECTORY),
        (lambda p: "file://elsewhere/x.txt", FileIOFailureReason.INVALID_PATH),
        (lambda p: "   ", FileIOFailureReason.INVALID_PATH),
    ],
)
def test_a_read_that_fails_is_a_file_load_error_with_the_reason(tmp_path: Path, make: object, reason: str) -> None:
    location = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(FileLoadError) as caught:
        File(location).read_bytes()
    assert caught.value.failure_reason == reason and caught.value.result_details == str(caught.value)


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    """A local HTTP server (loopback only: the suite needs no network)."""
    (tmp_path / "served.json").write_text('{"a": 1}')

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_urls_are_downloaded_and_failures_name_the_url(http_server: str) -> None:
    assert File(f"{http_server}/served.json").read() == FileContent('{"a": 1}', "application/json", "utf-8", 8)
    with pytest.raises(FileLoadError, match=r"download of .*/nothing\.png failed: HTTP 404") as caught:
        File(f"{http_server}/nothing.png").read_bytes()
    assert caught.value.failure_reason == FileIOFailureReason.IO_ERROR
    with socket.socket() as unused:  # a port nothing listens on: connection refused, at once
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(FileLoadError, match=rf"download of http://127\.0\.0\.1:{port}/x failed"):
        File(f"http://127.0.0.1:{port}/x").read_bytes()


def test_local_writes_follow_the_policies_and_leave_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "a.txt"
    assert File(target).write_text("one") == target and target.read_text() == "one"
    assert File(target).write_bytes(b"two") == target and target.read_bytes() == b"two"
    policy = ExistingFilePolicy.CREATE_NEW
    assert File(target).write_bytes(b"3", existing_file_policy=policy) == tmp_path / "out" / "a_1.txt"
    with pytest.raises(FileWriteError) as caught:
        File(target).write_bytes(b"4", existing_file_policy=ExistingFilePolicy.FAIL)
    assert caught.value.failure_reason == FileIOFailureReason.POLICY_NO_OVERWRITE
    File(target).write_text("+", append=True)
    assert target.read_text() == "two+"
    with pytest.raises(FileWriteError) as missing_parent:
        File(tmp_path / "nowhere" / "b.txt").write_bytes(b"x", create_parents=False)
    assert missing_parent.value.failure_reason == FileIOFailureReason.POLICY_NO_CREATE_PARENT_DIRS
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt", "a_1.txt"]
    with pytest.raises(FileWriteError, match="can be read, not written"):
        File("https://example.invalid/a.txt").write_text("x")
    written = FileDestination(tmp_path / "d.txt", existing_file_policy=policy).write_text("d")
    assert isinstance(written, File) and written.read_text() == "d"


def test_macros_expand_into_the_librarys_folders_and_name_what_is_missing() -> None:
    template = "{outputs}/{sub_dirs?:/}{node_name?:_}{file_name_base}{_index?:03}.{file_extension}"
    variables = {"file_name_base": "render", "file_extension": "png"}
    assert expand(template, variables) == "outputs/render.png"
    assert expand(template, {**variables, "node_name": "Blur", "sub_dirs": "shots", "_index": 7}) == (
        "outputs/shots/Blur_render007.png"
    )
    with pytest.raises(ValueError, match="needs file_extension, file_name_base") as caught:
        expand(template, {})
    assert caught.value.missing == {"file_name_base", "file_extension"}  # type: ignore[attr-defined]


def test_a_project_path_is_resolved_when_it_is_written_not_before() -> None:
    held = File("{outputs}/render.png")
    assert held.location == "{outputs}/render.png" and held.name == "render.png"
    with pytest.raises(FileLoadError, match="resolves project paths when they are written") as caught:
        held.read_bytes()
    assert caught.value.failure_reason == FileIOFailureReason.INVALID_PATH
    with pytest.raises(FileWriteError, match="appending is not supported"):
        held.write_bytes(b"x", append=True)
    with pytest.raises(FileWriteError) as missing:
        File(ProjectPath("{outputs}/{node_name}.png")).write_bytes(b"x")
    assert missing.value.failure_reason == FileIOFailureReason.MISSING_MACRO_VARIABLES


def test_situations_map_file_names_like_griptape_and_an_unknown_one_falls_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def relative(destination: ProjectFileDestination) -> str:
        path = destination._file._path
        assert isinstance(path, ProjectPath)
        return path.relative()

    output = ProjectFileDestination.from_situation("shots/render.png", "save_node_output", node_name="Blur")
    assert relative(output) == "outputs/shots/Blur_render.png"
    assert relative(ProjectFileDestination.from_situation("a.txt", "save_static_file")) == "a.txt"
    with caplog.at_level(logging.ERROR, logger="griptape_nodes"):
        fallback = ProjectFileDestination.from_situation("b.txt", "no_such_situation")
    assert relative(fallback) == "outputs/b.txt" and "Failed to load situation 'no_such_situation'" in caplog.text
    absolute = ProjectFileDestination.from_situation(str(tmp_path / "abs.bin"), "save_node_output")
    assert absolute.write_bytes(b"kept").location == str(tmp_path / "abs.bin")  # written where it says


def test_project_file_parameter_adds_a_file_name_and_builds_from_its_value() -> None:
    node = DataNode(name="Export")
    component = ProjectFileParameter(node=node, name="output_file", default_filename="export.txt")
    component.add_parameter()
    parameter = node.get_parameter_by_name("output_file")
    assert parameter is not None and parameter.default_value == "export.txt" and parameter.type == "str"
    built = component.build_file()
    assert built.location.startswith("{outputs}/") and built._file._path.relative() == "outputs/Export_export.txt"  # type: ignore[union-attr]
    node.set_parameter_value("output_file", "clip.mp4")
    assert component.build_file(sub_dirs="v2")._file._path.relative() == "outputs/v2/Export_clip.mp4"  # type: ignore[union-attr]


def test_secret_names_are_made_compliant_and_config_keys_map_onto_library_values() -> None:
    assert compliant_name("openai api-key") == "OPENAI_API_KEY" and compliant_name("3d key") == "_3D_KEY"
    assert nodeisle_key("advanced_media_library.temp_folder_name") == "libraries.advanced_media_library.temp_folder_name"
    assert nodeisle_key("nodes.Service.api_key") == "libraries.nodes.Service.api_key"
    assert nodeisle_key("max_value_bytes") == "max_value_bytes"
    assert nodeisle_key("libraries.Text Tools.x") == "libraries.Text Tools.x"
    assert (_cast("k", "no", bool), _cast("k", "2", int), _cast("k", 2, str)) == (False, 2, "2")
    with pytest.raises(ValueError, match="config key 'k': cannot read 'maybe' as a bool"):
        _cast("k", "maybe", bool)


def test_manager_members_the_layer_lacks_fail_naming_themselves_and_saves_need_a_running_node() -> None:
    from griptape_nodes.retained_mode.griptape_nodes import GriptapeNodes

    with pytest.raises(AttributeError, match=r"ConfigManager\.workspace_path: nodeisle's griptape_nodes"):
        GriptapeNodes.ConfigManager().workspace_path  # noqa: B018
    assert GriptapeNodes.SecretsManager() is GriptapeNodes.SecretsManager()
    with pytest.raises(RuntimeError, match="no node of a library is running here"):
        GriptapeNodes.StaticFilesManager().save_static_file(b"x", "a.png")
    with pytest.raises(NotConnectedError, match="no engine is running this code"):
        GriptapeNodes.ConfigManager().get_config_value("studio.greeting")
    with pytest.raises(RuntimeError, match="no node of a library is running here"):
        File("{outputs}/a.png").write_bytes(b"x")
