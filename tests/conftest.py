"""Shared fixtures: an engine home per test, an offline wheelhouse, and helpers for async tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.wheels import build_wheel

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
TEXT_TOOLS = EXAMPLES / "libraries" / "text_tools"
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
    """Run an async test body under a timeout."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def wheelhouse_dir() -> Path:
    """Wheels fetched by the install step (scripts/test.sh): websockets for the worker runtime, for this
    Python and for 3.12 and 3.13 (workers of libraries whose requires-python the orchestrator misses)."""
    return Path(os.environ.get("NODEISLE_TEST_WHEELHOUSE", REPO / ".wheelhouse"))


def require_runtime_wheel(house: Path, version: tuple[int, ...]) -> None:
    """Fail, saying how to fix it, unless ``house`` has a websockets wheel for CPython ``version`` (3, 12).

    A worker on that Python installs websockets offline from the wheelhouse; without a matching wheel
    the env build would fail with uv's resolution error instead of this one.
    """
    tag = f"cp{version[0]}{version[1]}"
    if not any(w.name.startswith("websockets-") and f"-{tag}-" in w.name for w in house.glob("*.whl")):
        pytest.fail(
            f"no websockets wheel for {tag} in {wheelhouse_dir()}: a worker on Python {version[0]}.{version[1]} "
            "installs it offline. Run scripts/test.sh, which downloads it (pip download --python-version "
            f"{version[0]}.{version[1]} --only-binary=:all: --no-deps websockets), or set NODEISLE_TEST_WHEELHOUSE."
        )


@pytest.fixture(autouse=True)
def _fresh_flood_guards() -> Iterator[None]:
    """Each test sees its own warnings: the log flood guards forget what earlier tests logged."""
    from nodeisle.logs import reset_guards

    reset_guards()
    yield


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of wheels for offline env builds: the install step's websockets wheels + tiny test wheels."""
    source = wheelhouse_dir()
    found = sorted(source.glob("*.whl")) if source.is_dir() else []
    if not any(w.name.startswith("websockets-") for w in found):
        pytest.fail(
            f"no websockets wheels in {source}: the test suite builds virtualenvs offline. Run the README's test "
            "command (scripts/test.sh), which downloads them, or set NODEISLE_TEST_WHEELHOUSE."
        )
    house = tmp_path_factory.mktemp("wheelhouse")
    for wheel in found:
        shutil.copy2(wheel, house)
    for version in ("1.0", "2.0"):
        build_wheel(house, "tinyver", version, f'__version__ = "{version}"\n')
    return house


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty engine home for this test."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("NODEISLE_HOME", str(path))
    return path


@pytest.fixture
def offline_home(home: Path, wheelhouse: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An engine home whose env builds use only the wheelhouse (no network) and a shared uv cache."""
    monkeypatch.setenv("NODEISLE_FIND_LINKS", str(wheelhouse))
    monkeypatch.setenv("NODEISLE_OFFLINE", "1")
    monkeypatch.setenv("NODEISLE_UV_CACHE", str(uv_cache))
    yield home


def write_library(
    root: Path,
    name: str,
    nodes_source: str,
    classes: list[str],
    *,
    pins: list[str] | None = None,
    declarations: list[dict[str, Any]] | None = None,
    flags: list[str] | None = None,
) -> Path:
    """Write a one-file library (manifest + nodes.py) under ``root`` and return its folder."""
    import json

    folder = root / name.lower().replace(" ", "_")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nodes.py").write_text(nodes_source)
    manifest = {
        "name": name,
        "library_schema_version": "0.9.0",
        "metadata": {
            "author": "tests",
            "description": "test library",
            "library_version": "0.1.0",
            "engine_version": "0.1.0",
            "tags": [],
            "declarations": declarations or [],
            "dependencies": {"pip_dependencies": pins or [], "pip_install_flags": flags or []},
        },
        "categories": [],
        "nodes": [
            {
                "class_name": c,
                "file_path": "nodes.py",
                "metadata": {"category": "test", "description": c, "display_name": c},
            }
            for c in classes
        ],
    }
    (folder / "griptape-nodes-library.json").write_text(json.dumps(manifest, indent=2))
    return folder


PYTHON = sys.executable
