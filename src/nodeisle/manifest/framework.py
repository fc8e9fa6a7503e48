"""The ``griptape`` framework that Griptape libraries import without declaring it.

In Griptape Nodes, library code runs with the engine's own packages importable, and the engine
depends on the ``griptape`` framework (``griptape>=1.10.2`` in its ``pyproject.toml``). So public
libraries import ``griptape.artifacts`` and friends while their manifests list only their own
dependencies. nodeisle's ``griptape_nodes`` layer does not provide the framework; an Isolated
library's env gets it instead: when a file in the library's folder imports ``griptape`` and no
requirement of the manifest names it, :func:`implied_requirements` adds
:data:`GRIPTAPE_REQUIREMENT`. A library that pins ``griptape`` itself keeps its pin. Stdlib only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ["GRIPTAPE_REQUIREMENT", "implied_requirements", "imports_griptape"]

#: What Griptape's engine requires, so what its libraries were written against.
GRIPTAPE_REQUIREMENT = "griptape>=1.10.2"

_IMPORT_RE = re.compile(r"^[ \t]*(?:from[ \t]+griptape(?:\.\w+)*[ \t]+import|import[ \t]+griptape(?:\.\w+)*)\b", re.M)
_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_SKIPPED = {"__pycache__", "node_modules", "venv", "site-packages"}
_MAX_FILES = 2000  # a library folder is small; a huge tree is not scanned past this


def _python_files(folder: Path) -> Iterable[Path]:
    count = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED)
        for name in sorted(files):
            if name.endswith(".py"):
                count += 1
                if count > _MAX_FILES:
                    return
                yield Path(root, name)


def imports_griptape(folder: Path) -> bool:
    """Whether a ``.py`` file under ``folder`` imports the ``griptape`` framework (not ``griptape_nodes``)."""
    for path in _python_files(folder):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if _IMPORT_RE.search(text):
            return True
    return False


def _names(requirements: Iterable[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        match = _NAME_RE.match(requirement.strip())
        if match:
            names.add(re.sub(r"[-_.]+", "-", match.group(0)).lower())
    return names


def implied_requirements(folder: Path, requirements: Iterable[str]) -> tuple[str, ...]:
    """The requirements Griptape's engine would have provided for the library in ``folder``."""
    if "griptape" in _names(requirements) or not imports_griptape(folder):
        return ()
    return (GRIPTAPE_REQUIREMENT,)
