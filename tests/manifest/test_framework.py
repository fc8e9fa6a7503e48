"""Packages Griptape's engine provides, which Griptape libraries import undeclared (nodeisle.manifest.framework):
added to an Isolated library's env when its code imports them, as Griptape's engine provides them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from nodeisle.manifest import load_manifest
from nodeisle.manifest.framework import ENGINE_PROVIDED, implied_requirements
from nodeisle.requests import ListRegisteredLibrariesRequest
from tests.conftest import run, write_library
from tests.griptape_nodes.test_libraries import create, execute, ok, start
from tests.wheels import build_wheel

NODES = """
from typing import Any

from griptape.artifacts import ImageUrlArtifact
from griptape_nodes.exe_types.core_types import Parameter, ParameterMode
from griptape_nodes.exe_types.node_types import DataNode


class MakeArtifact(DataNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="url", type="str", default_value="https://x/y.png", tooltip="In"))
        self.add_parameter(Parameter(name="kind", output_type="str", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        artifact = ImageUrlArtifact(self.get_parameter_value("url"))
        self.parameter_output_values["kind"] = f"{type(artifact).__name__}:{artifact.value}"
"""

# A stand-in for the framework, its submodule as real libraries import it (`from griptape.artifacts import ...`).
GRIPTAPE_REQUIREMENT = ENGINE_PROVIDED["griptape"][1]
FAKE_GRIPTAPE = """
import sys
import types

__version__ = "1.10.2"
artifacts = types.ModuleType("griptape.artifacts")


class ImageUrlArtifact:
    def __init__(self, value):
        self.value = value


artifacts.ImageUrlArtifact = ImageUrlArtifact
sys.modules["griptape.artifacts"] = artifacts
"""


def folder_with(tmp_path: Path, files: dict[str, str], pins: list[str] | None = None) -> Path:
    folder = write_library(tmp_path / "libs", "Uses Framework", "", [], pins=pins)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def worker_env(folder: Path) -> tuple[str, ...]:
    return load_manifest(folder).dependencies.worker_env


def test_a_library_whose_code_imports_griptape_gets_the_framework_after_its_own_requirements(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path,
        {"helpers/util.py": "def f():\n    from griptape.artifacts import UrlArtifact\n"},
        pins=["tinyver==1.0"],
    )
    assert worker_env(folder) == ("tinyver==1.0", GRIPTAPE_REQUIREMENT)


def test_httpx_and_pil_imports_imply_griptapes_requirements_for_them_in_its_order(tmp_path: Path) -> None:
    files = {"a.py": "import os, httpx\n", "b.py": "from PIL import Image as PILImage\nimport griptape.artifacts\n"}
    assert worker_env(folder_with(tmp_path, files)) == ("griptape>=1.10.2", "httpx>=0.28.0,<1.0.0", "pillow>=11.3.0")


@pytest.mark.parametrize("pin", ["griptape==1.11.0", "Griptape[drivers-prompt-openai]>=1.9", "griptape"])
def test_a_library_that_names_griptape_itself_keeps_its_own_requirement(tmp_path: Path, pin: str) -> None:
    folder = folder_with(tmp_path, {"nodes.py": "import griptape\nfrom PIL import Image\n"}, pins=[pin, "Pillow==12.0"])
    assert worker_env(folder) == (pin, "Pillow==12.0")


def test_griptape_nodes_imports_comments_strings_and_hidden_folders_imply_nothing(tmp_path: Path) -> None:
    files = {
        "nodes.py": "import griptape_nodes\nfrom griptape_nodes.exe_types import node_types\n"
        "# from griptape.artifacts import X\ntext = 'import griptape'\n",
        ".venv/lib/site.py": "import griptape\n",
        "__pycache__/old.py": "import griptape\n",
    }
    folder = folder_with(tmp_path, files)
    assert worker_env(folder) == ()
    assert implied_requirements(folder, []) == ()


@pytest.fixture(params=["shared", "isolated-subprocess"])
def mode(request: pytest.FixtureRequest, offline_home: Path, wheelhouse: Path) -> str:
    build_wheel(wheelhouse, "griptape", "1.10.2", FAKE_GRIPTAPE)
    return str(request.param)


def test_a_library_imports_the_framework_its_manifest_does_not_list_in_either_mode(tmp_path: Path, mode: str) -> None:
    """Isolated: the implied requirement is in its env. Shared: in its overlay (issue 15), never in the
    orchestrator's own environment."""
    library = write_library(tmp_path / "libs", "Uses Framework", NODES, ["MakeArtifact"])
    manifest: dict[str, Any] = json.loads((library / "griptape-nodes-library.json").read_text())
    assert manifest["metadata"]["dependencies"]["pip_dependencies"] == []

    async def body() -> None:
        o = await start(library, mode)
        try:
            (info,) = [
                lib
                for lib in ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
                if lib.name == "Uses Framework"
            ]
            assert info.dropped == [] and info.node_types == ["MakeArtifact"]
            await create(o, "MakeArtifact", "make")
            assert (await execute(o, "make"))["kind"] == "ImageUrlArtifact:https://x/y.png"
        finally:
            await o.close()

    run(body())
    assert importlib.util.find_spec("griptape") is None  # the orchestrator's environment has none, still
