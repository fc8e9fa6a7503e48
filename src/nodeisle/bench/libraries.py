"""The node libraries the benchmark registers: written into its work directory, never shipped."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

TRIVIAL_NODES = '''
import os
from nodeisle import BaseNode, Parameter, ParameterMode


class Add(BaseNode):
    """The trivial node: one int in, one int out."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("x", type="int", default_value=0, allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("y", type="int", allowed_modes={ParameterMode.OUTPUT}))

    def process(self):
        self.parameter_output_values["y"] = self.parameter_values["x"] + 1


class Pid(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("pid", type="int", allowed_modes={ParameterMode.OUTPUT}))

    def process(self):
        self.parameter_output_values["pid"] = os.getpid()
'''

PAYLOAD_NODES = '''
from nodeisle import BaseNode, Parameter, ParameterMode


class Echo(BaseNode):
    """Returns its input unchanged: the payload goes into the worker and comes back."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("data", type="any", allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("data_out", type="any", allowed_modes={ParameterMode.OUTPUT}))

    def process(self):
        self.parameter_output_values["data_out"] = self.parameter_values["data"]
'''

TRIVIAL_CLASSES = ("Add", "Pid")
PAYLOAD_CLASSES = ("Echo",)


def plain_add(x: int) -> int:
    """The floor of the Shared row: what ``Add`` computes, as a plain function call."""
    return x + 1


def write_library(root: Path, name: str, source: str, classes: Sequence[str], pins: Sequence[str] = ()) -> Path:
    """Write a one-file library (manifest + nodes.py) under ``root`` and return its manifest path."""
    folder = root / name.lower().replace(" ", "_")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nodes.py").write_text(source)
    manifest = {
        "name": name,
        "library_schema_version": "0.9.0",
        "metadata": {
            "author": "nodeisle bench", "description": "benchmark library", "library_version": "0.1.0",
            "engine_version": "0.1.0", "tags": ["bench"],
            "declarations": [{"type": "worker_mode_compatibility", "compatibility": "COMPATIBLE"}],
            "dependencies": {"pip_dependencies": list(pins), "pip_install_flags": []},
        },
        "categories": [{"bench": {"title": "Bench", "description": "benchmark nodes"}}],
        "nodes": [{"class_name": c, "file_path": "nodes.py",
                   "metadata": {"category": "bench", "description": c, "display_name": c}} for c in classes],
    }
    path = folder / "griptape-nodes-library.json"
    path.write_text(json.dumps(manifest, indent=2))
    return path


__all__ = ["PAYLOAD_CLASSES", "PAYLOAD_NODES", "TRIVIAL_CLASSES", "TRIVIAL_NODES", "plain_add", "write_library"]
