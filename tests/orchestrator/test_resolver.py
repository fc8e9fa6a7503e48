"""The resolver's parsing of uv's output, its cache, and what counts as the engine's environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nodeisle.orchestrator.resolver import OVERLAY_MARKER, Resolution, engine_packages, engine_path, parse_compiled

COMPILED = """\
needsdep==1.0 \\
    --hash=sha256:aaa
tinydep==2.0 \\
    --hash=sha256:bbb \\
    --hash=sha256:ccc
    # via needsdep
Tiny_Pkg==2.0
    # via
    #   a
    #   -r requirements.in
"""


def test_compiled_output_gives_versions_hashes_and_who_requires_what() -> None:
    pins = parse_compiled(COMPILED)
    assert [(p.name, p.version, p.hashes, p.via) for p in pins] == [
        ("needsdep", "1.0", ("sha256:aaa",), ()),
        ("tinydep", "2.0", ("sha256:bbb", "sha256:ccc"), ("needsdep",)),
        ("tiny-pkg", "2.0", (), ("a",)),
    ]


def test_the_digest_is_the_set_not_its_order_or_where_it_came_from() -> None:
    pins = parse_compiled(COMPILED)
    assert Resolution(pins, "uv pip compile").digest == Resolution(tuple(reversed(pins)), "cache").digest
    other = parse_compiled(COMPILED.replace("sha256:aaa", "sha256:zzz"))
    assert Resolution(other, "x").digest != Resolution(pins, "x").digest  # same versions, other files
    assert Resolution.from_json(Resolution(pins, "x").to_json(), "cache").pins == pins


def test_an_overlay_on_sys_path_is_not_the_engines_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overlay = tmp_path / "overlay"
    (overlay / "fakepkg-9.0.dist-info").mkdir(parents=True)
    (overlay / "fakepkg-9.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepkg\nVersion: 9.0\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(overlay)])
    assert engine_packages()["fakepkg"] == "9.0"  # without the marker, just another folder on sys.path
    (overlay / OVERLAY_MARKER).write_text("{}")
    assert "fakepkg" not in engine_packages() and str(overlay) not in engine_path()
    assert "pytest" in engine_packages()
