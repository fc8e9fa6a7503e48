"""The node libraries the benchmark registers: written into its work directory, never shipped."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

#: The libraries' node files: real modules, copied into each library folder as ``nodes.py``.
TRIVIAL_NODES = Path(__file__).with_name("trivial_nodes.py")
PAYLOAD_NODES = Path(__file__).with_name("payload_nodes.py")
TRIVIAL_CLASSES = ("Add", "Pid")
PAYLOAD_CLASSES = ("Echo",)


def plain_add(x: int) -> int:
    """The floor of the Shared row: what ``Add`` computes, as a plain function call."""
    return x + 1


def write_library(root: Path, name: str, nodes: Path, classes: Sequence[str], pins: Sequence[str] = ()) -> Path:
    """Write a one-file library (manifest + ``nodes`` as nodes.py) under ``root``; return its manifest path."""
    folder = root / name.lower().replace(" ", "_")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(nodes, folder / "nodes.py")
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
