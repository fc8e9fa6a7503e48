"""Packages Griptape's engine provides to every library, which Griptape libraries import undeclared.

In Griptape Nodes, library code runs with the engine's own packages importable. The engine depends
on the ``griptape`` framework, ``httpx`` and ``pillow`` (``griptape>=1.10.2``,
``httpx>=0.28.0,<1.0.0``, ``pillow>=11.3.0`` in its ``pyproject.toml``), so public libraries import
``griptape.artifacts``, ``httpx`` and ``PIL`` while their manifests list only their own
dependencies. nodeisle's ``griptape_nodes`` layer provides none of them; a library's env (Isolated)
or overlay (Shared) gets them instead: when a file in the library's folder imports one of :data:`ENGINE_PROVIDED` and
no requirement of the manifest names its distribution, :func:`implied_requirements` adds Griptape's
requirement for it. A library that names the distribution itself keeps its own. Stdlib only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["ENGINE_PROVIDED", "implied_requirements", "imported_modules"]

#: import name -> (distribution, the requirement Griptape's engine has on it)
ENGINE_PROVIDED: dict[str, tuple[str, str]] = {
    "griptape": ("griptape", "griptape>=1.10.2"),
    "httpx": ("httpx", "httpx>=0.28.0,<1.0.0"),
    "PIL": ("pillow", "pillow>=11.3.0"),
}

_FROM_RE = re.compile(r"^[ \t]*from[ \t]+(\w+)[\w.]*[ \t]+import\b", re.M)
_IMPORT_RE = re.compile(r"^[ \t]*import[ \t]+([\w. \t,]+)", re.M)  # import a.b, c as d
_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_SKIPPED = {"__pycache__", "node_modules", "venv", "site-packages"}
_MAX_FILES = 2000  # a library folder is small; a huge tree is not scanned past this


def _python_files(folder: Path) -> Iterator[Path]:
    count = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED)
        for name in sorted(files):
            if name.endswith(".py"):
                count += 1
                if count > _MAX_FILES:
                    return
                yield Path(root, name)


def imported_modules(folder: Path) -> set[str]:
    """The top-level module names that ``import`` / ``from ... import`` lines of ``.py`` files under
    ``folder`` import (relative imports name none)."""
    found: set[str] = set()
    for path in _python_files(folder):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found.update(_FROM_RE.findall(text))
        for names in _IMPORT_RE.findall(text):
            found.update(item.split()[0].split(".")[0] for item in names.split(",") if item.split())
    return found


def _names(requirements: Iterable[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        match = _NAME_RE.match(requirement.strip())
        if match:
            names.add(re.sub(r"[-_.]+", "-", match.group(0)).lower())
    return names


def implied_requirements(folder: Path, requirements: Iterable[str]) -> tuple[str, ...]:
    """What Griptape's engine would have provided for the library in ``folder``, in ENGINE_PROVIDED's order."""
    named = _names(requirements)
    wanted = [module for module, (dist, _) in ENGINE_PROVIDED.items() if dist not in named]
    if not wanted:
        return ()
    imported = imported_modules(folder)
    return tuple(ENGINE_PROVIDED[module][1] for module in wanted if module in imported)
