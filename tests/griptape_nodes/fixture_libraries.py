"""Libraries written the way public Griptape libraries are, for the loading tests.

"Color Tools" has an ``AdvancedNodeLibrary`` (``color_library_advanced.py``) whose
``before_library_nodes_loaded`` puts a vendored source tree on ``sys.path`` (as libraries with a git
submodule do) and whose ``get_request_handlers`` answers a request type the library defines
(``color_requests.py``, registered with ``PayloadRegistry``); its node files live in its own package
``color_tools/`` and import a sibling base class (``from base_color_node import ...``), the library's
own package (``from color_tools.palette import ...``, lazily inside ``process``) and the requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ADVANCED = '''
import logging
import os
import sys
from pathlib import Path

from griptape_nodes.node_library.advanced_node_library import AdvancedNodeLibrary
from griptape_nodes.node_library.library_registry import Library, LibrarySchema
from griptape_nodes.retained_mode.griptape_nodes import GriptapeNodes

from color_requests import ConvertColorRequest, ConvertColorResultFailure, ConvertColorResultSuccess

logger = logging.getLogger("color_tools_library")
EVENTS: list[str] = []


class ColorToolsLibrary(AdvancedNodeLibrary):
    def before_library_nodes_loaded(self, library_data: LibrarySchema, library: Library) -> None:
        logger.info("Loading '%s' library...", library_data.name)
        vendored = str(Path(__file__).parent / "vendor")
        if vendored not in sys.path:
            sys.path.insert(0, vendored)
        EVENTS.append(f"before:{library_data.name}:{library_data.metadata.library_version}:"
                      f"{len(library.get_registered_nodes())}:{library_data.nodes[0].metadata.category}:"
                      f"worker={GriptapeNodes.LibraryManager().is_worker}")

    def after_library_nodes_loaded(self, library_data: LibrarySchema, library: Library) -> None:
        EVENTS.append(f"after:{','.join(sorted(library.get_registered_nodes()))}")

    def get_request_handlers(self):
        return [(ConvertColorRequest, self._convert)]

    def _convert(self, request: ConvertColorRequest):
        text = request.hex_color.lstrip("#")
        if len(text) != 6:
            return ConvertColorResultFailure(result_details=f"not a hex color: {request.hex_color!r}")
        rgb = [int(text[i:i + 2], 16) for i in (0, 2, 4)]
        return ConvertColorResultSuccess(rgb=rgb, handled_in=os.getpid(), result_details="converted")
'''

REQUESTS = '''
from dataclasses import dataclass

from griptape_nodes.retained_mode.events.base_events import RequestPayload, ResultPayloadFailure, ResultPayloadSuccess
from griptape_nodes.retained_mode.events.payload_registry import PayloadRegistry


@dataclass
@PayloadRegistry.register
class ConvertColorRequest(RequestPayload):
    hex_color: str


@dataclass
@PayloadRegistry.register
class ConvertColorResultSuccess(ResultPayloadSuccess):
    rgb: list
    handled_in: int


@dataclass
@PayloadRegistry.register
class ConvertColorResultFailure(ResultPayloadFailure):
    pass
'''

BASE = '''
from griptape_nodes.exe_types.core_types import Parameter, ParameterMode
from griptape_nodes.exe_types.node_types import DataNode


class BaseColorNode(DataNode):
    def add_output(self, name: str, type_: str = "any") -> None:
        self.add_parameter(Parameter(name=name, output_type=type_, type=type_, tooltip=name,
                                     allowed_modes={ParameterMode.OUTPUT}))
'''

HEX_TO_RGB = '''
import os

from griptape_nodes.exe_types.core_types import Parameter
from griptape_nodes.retained_mode.griptape_nodes import GriptapeNodes

from base_color_node import BaseColorNode
from color_requests import ConvertColorRequest


class HexToRgb(BaseColorNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter(name="hex_color", type="str", default_value="#ff8000", tooltip="Color"))
        for out in ("rgb", "color_name", "handled_in", "node_pid", "details"):
            self.add_output(out)

    def process(self):
        from color_tools.palette import name_of  # the library's own package, imported lazily

        result = GriptapeNodes.handle_request(ConvertColorRequest(hex_color=self.get_parameter_value("hex_color")))
        self.parameter_output_values["details"] = str(result.result_details)
        if result.succeeded():
            self.parameter_output_values["rgb"] = result.rgb
            self.parameter_output_values["color_name"] = name_of(result.rgb)
            self.parameter_output_values["handled_in"] = result.handled_in
        self.parameter_output_values["node_pid"] = os.getpid()

    async def aprocess(self):
        self.process()
        result = await GriptapeNodes.ahandle_request(ConvertColorRequest(hex_color="#000000"))
        self.parameter_output_values["details"] += "|" + str(result.rgb)
'''

HOOK_REPORT = '''
from color_library_advanced import EVENTS
from colorconv_vendored import DEFAULT_SPACE  # importable only once before_library_nodes_loaded ran

from base_color_node import BaseColorNode
from griptape_nodes.exe_types.core_types import Parameter


class HookReport(BaseColorNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter(name="space", type="str", default_value=DEFAULT_SPACE, tooltip="Space"))
        self.add_output("events")

    def process(self):
        from griptape_nodes.retained_mode.griptape_nodes import GriptapeNodes

        self.parameter_output_values["events"] = [*EVENTS, f"process:worker={GriptapeNodes.LibraryManager().is_worker}"]
'''

PALETTE = '''
from ._names import NAMES


def name_of(rgb):
    return NAMES.get(tuple(rgb), "unnamed")
'''


def write_tree(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)


def manifest(name: str, nodes: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "library_schema_version": "0.10.0",
        "metadata": {"author": "tests", "description": f"{name} (test library)", "library_version": "1.2.3",
                     "engine_version": "0.50.0", "tags": ["test"], "dependencies": {"pip_dependencies": []}},
        "categories": [{"color": {"title": "Color", "description": "Colors", "color": "border-red-500",
                                  "icon": "Palette"}}],
        "nodes": [{"class_name": c, "file_path": f, "metadata": {"category": "color", "description": c,
                                                                  "display_name": c}} for c, f in nodes],
        **extra,
    }


def color_tools(root: Path, name: str = "Color Tools", advanced: str = ADVANCED) -> Path:
    folder = root / name.lower().replace(" ", "_")
    write_tree(folder, {
        "color_library_advanced.py": advanced,
        "color_requests.py": REQUESTS,
        "base_color_node.py": BASE,
        "color_tools/__init__.py": "",
        "color_tools/palette.py": PALETTE,
        "color_tools/_names.py": "NAMES = {(255, 128, 0): 'orange', (0, 0, 0): 'black'}\n",
        "color_tools/nodes/hex_to_rgb.py": HEX_TO_RGB,
        "color_tools/nodes/hook_report.py": HOOK_REPORT,
        "vendor/colorconv_vendored/__init__.py": "DEFAULT_SPACE = 'srgb'\n",
    })
    nodes = [("HexToRgb", "color_tools/nodes/hex_to_rgb.py"), ("HookReport", "color_tools/nodes/hook_report.py")]
    data = manifest(name, nodes, advanced_library_path="color_library_advanced.py")
    (folder / "griptape-nodes-library.json").write_text(json.dumps(data, indent=2))
    return folder


SIBLING_NODE = '''
from griptape_nodes.exe_types.core_types import Parameter, ParameterMode

from base_node import TaggedNode
import utils


class {cls}(TaggedNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter(name="tags", type="list", output_type="list", tooltip="Out",
                                     allowed_modes={{ParameterMode.OUTPUT}}))

    def process(self):
        import utils as lazily  # imported again inside process(), at run time
        self.parameter_output_values["tags"] = [utils.TAG, lazily.TAG, self.BASE_TAG]
'''


def sibling_library(root: Path, name: str, tag: str, cls: str) -> Path:
    """A library with ``base_node.py`` and ``utils.py`` beside its node file (names others use too)."""
    folder = root / name
    write_tree(folder, {
        "base_node.py": ("from griptape_nodes.exe_types.node_types import DataNode\n\n"
                         f"class TaggedNode(DataNode):\n    BASE_TAG = 'base-{tag}'\n"),
        "utils.py": f"TAG = 'utils-{tag}'\n",
        "nodes.py": SIBLING_NODE.format(cls=cls),
    })
    (folder / "griptape-nodes-library.json").write_text(json.dumps(manifest(name, [(cls, "nodes.py")])))
    return folder
