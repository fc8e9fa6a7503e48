"""A real Griptape Nodes engine installed beside nodeisle's griptape_nodes is named and refused, never mixed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nodeisle.manifest import load_manifest
from nodeisle.node import companions
from tests.conftest import REPO
from tests.griptape_nodes.fixture_libraries import manifest
from tests.griptape_nodes.test_loading import fake_engine_metadata


def test_the_installed_engine_is_found_by_its_distribution_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert companions.installed_engine() is None
    monkeypatch.syspath_prepend(str(fake_engine_metadata(tmp_path, "Griptape_Nodes_Engine", "1.2.0")))
    engine = companions.installed_engine()
    assert engine is not None and (engine.name, engine.version) == ("Griptape_Nodes_Engine", "1.2.0")
    assert engine.location == str(tmp_path)


def test_the_message_names_the_pin_that_brought_the_engine(tmp_path: Path) -> None:
    import json

    data = manifest("Pinned", [])
    data["metadata"]["dependencies"] = {"pip_dependencies": ["numpy==2.0"], "pip_dependencies_exec": [
        "griptape-nodes[extras] >= 0.50"]}
    (tmp_path / "griptape-nodes-library.json").write_text(json.dumps(data))
    engine = companions.EngineDistribution("griptape-nodes", "0.50.1", "/site")
    message = companions.conflict_message(engine, load_manifest(tmp_path))
    assert "griptape-nodes 0.50.1, the Griptape Nodes engine, is installed in this Python environment (/site)" in message
    assert "remove 'griptape-nodes[extras] >= 0.50' (metadata.dependencies.pip_dependencies_exec[0]" in message
    assert "pip uninstall griptape-nodes" in companions.conflict_message(engine)


def test_griptape_nodes_refuses_to_be_imported_beside_the_engine(tmp_path: Path) -> None:
    site = fake_engine_metadata(tmp_path)
    code = "import griptape_nodes"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": f"{site}:{REPO / 'src'}", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1
    assert "ImportError: griptape-nodes 0.99.0, the Griptape Nodes engine, is installed" in done.stderr
