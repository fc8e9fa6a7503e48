"""Shared libraries' pins: checked against the orchestrator's environment at load, missing ones
installed into a per-library overlay folder, conflicting ones refused.

The orchestrator's own environment is never written to. A Shared library whose pins are all
installed gets nothing (and no resolver runs); one whose pins are missing but installable without
changing an installed package gets them in ``<home>/overlays/<slug>-<key16>/`` (``uv pip install
--target``), which is appended to ``sys.path`` before its code is imported; one whose pins would
change an installed package, or that contradicts an earlier Shared library's overlay, is refused
with the conflict named and "run it Isolated" as the fix (the rule is ``plan.shared_conflicts``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion

from nodeisle.errors import LibraryError
from nodeisle.manifest import Compatibility, LibraryManifest
from nodeisle.orchestrator.plan import LibraryFacts, SharedFit, shared_conflicts
from nodeisle.orchestrator.resolver import OVERLAY_MARKER, ResolveFailed, Resolver, engine_packages, engine_version

__all__ = ["OVERLAY_MARKER", "SharedDeps", "refusal", "shared_facts"]


def _satisfied(requirements: tuple[str, ...]) -> bool:
    """Whether every pin is installed in a version it allows (the fast path: no resolver, no listing)."""
    for text in requirements:
        try:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate():
                continue
            installed = engine_version(req.name)
            if installed is None or not req.specifier.contains(installed, prereleases=True):
                return False
        except (InvalidRequirement, InvalidVersion):
            return False
    return True


def shared_facts(
    manifest: LibraryManifest, resolver: Resolver, engine: Mapping[str, str] | None = None
) -> LibraryFacts:
    """What the resolver says of ``manifest``'s pins in the orchestrator's environment."""
    deps = manifest.dependencies
    pins = tuple(deps.worker_env)  # the process running its nodes needs the execution set too
    if _satisfied(pins):
        fit = SharedFit({}, ())
    else:
        fit = resolver.fit(pins, deps.pip_install_flags, engine if engine is not None else engine_packages())
    only_shared = manifest.declarations.compatibility is Compatibility.INCOMPATIBLE
    return LibraryFacts(manifest.name, "shared", pins, fit, only_shared=only_shared)


def refusal(name: str, why: str, *, named: bool = True) -> str:
    """The message of a refused Shared library: the conflict, then the fix (``named``: starting with its name)."""
    quoted = shlex.quote(name)
    return (f"{f'library {name!r} ' if named else ''}cannot run Shared: {why}. Run it Isolated: `nodeisle libraries "
            f"mode {quoted} isolated` (or `--isolated {quoted}` for one run)")


class SharedDeps:
    """The Shared libraries loaded in this orchestrator and their overlays (thread-safe)."""

    def __init__(self, resolver: Resolver, root: Path) -> None:
        self.resolver = resolver
        self.root = root  # <home>/overlays
        self.loaded: dict[str, LibraryFacts] = {}
        self.paths: dict[str, list[str]] = {}  # the overlay folders each one put on sys.path
        self._lock = threading.Lock()

    def prepare(self, manifest: LibraryManifest) -> list[str]:
        """The import paths ``manifest``'s code needs (its overlay, if any); raises LibraryError on a conflict."""
        with self._lock:
            self.loaded.pop(manifest.name, None)
            engine = engine_packages()
            facts = shared_facts(manifest, self.resolver, engine)
            if facts.fit.error is not None:
                why = f"its pip_dependencies cannot be installed beside the engine's environment:\n{facts.fit.error}"
                raise LibraryError(manifest.name, refusal(manifest.name, why, named=False))
            conflicts = shared_conflicts(facts, list(self.loaded.values()), engine)
            if conflicts:
                why = "; ".join(c.message for c in conflicts)
                raise LibraryError(manifest.name, refusal(manifest.name, why, named=False))
            paths = [str(self._overlay(manifest, facts))] if facts.fit.installs else []
            self.loaded[manifest.name] = facts
            self.paths[manifest.name] = paths
            return paths

    def release(self, name: str) -> None:
        """Forget a Shared library that stopped: its overlay leaves ``sys.path``, and what was imported from it
        leaves ``sys.modules``, so a library loaded later does not get its versions."""
        with self._lock:
            self.loaded.pop(name, None)
            for path in self.paths.pop(name, []):
                with contextlib.suppress(ValueError):
                    sys.path.remove(path)
                inside = path.rstrip(os.sep) + os.sep
                for module, value in list(sys.modules.items()):
                    if str(getattr(value, "__file__", None) or "").startswith(inside):
                        del sys.modules[module]

    def _overlay(self, manifest: LibraryManifest, facts: LibraryFacts) -> Path:
        """The overlay folder holding exactly ``facts.fit.installs``, installed once."""
        from nodeisle.orchestrator.envs import slug

        flags = list(manifest.dependencies.pip_install_flags)
        key = hashlib.sha256(json.dumps([sorted(facts.fit.installs.items()), flags]).encode()).hexdigest()
        target = self.root / f"{slug(manifest.name)}-{key[:16]}"
        marker = target / OVERLAY_MARKER
        if marker.is_file():
            return target
        partial = target.with_name(f".{target.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            self.resolver.install_overlay(partial, facts.fit.installs, flags)
        except ResolveFailed as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise LibraryError(manifest.name, f"cannot install its missing pins into its overlay {target}:\n{exc}"
                               ) from None
        (partial / OVERLAY_MARKER).write_text(json.dumps({"library": manifest.name, "installs": facts.fit.installs}))
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(target)
        partial.rename(target)  # last: a folder without the marker is never used
        return target
