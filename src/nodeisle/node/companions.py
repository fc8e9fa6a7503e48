"""nodeisle provides ``griptape_nodes`` itself; a real Griptape Nodes engine in the same environment is refused.

The engine's distributions (:data:`ENGINE_DISTRIBUTIONS`) install a package of the same name. With
both present, which one library code gets depends on ``sys.path`` order (in a worker env the
site-packages come before nodeisle's runtime), and the two would mix. So when library code imports
``griptape_nodes`` and such a distribution is installed, the import is refused for the whole library
(:class:`~nodeisle.node.libimport.ImportRefused`, which fails its load) with a message naming the
distribution, its version, where it is, and the fix. ``griptape_nodes`` checks the same when it is
first imported by any other code. Checked once per library load. Standard library only.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass

from nodeisle.manifest import LibraryManifest
from nodeisle.node import libimport

ENGINE_DISTRIBUTIONS = ("griptape-nodes", "griptape-nodes-engine")
_UNCHECKED = object()


@dataclass(frozen=True)
class EngineDistribution:
    name: str
    version: str
    location: str

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.location})"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_engine() -> EngineDistribution | None:
    """The Griptape Nodes engine distribution installed where this interpreter imports from, if any."""
    for wanted in ENGINE_DISTRIBUTIONS:  # a lookup by name reads no other distribution's metadata
        try:
            dist = importlib.metadata.distribution(wanted)
        except importlib.metadata.PackageNotFoundError:
            continue
        return EngineDistribution(dist.metadata["Name"] or wanted, dist.version, str(dist.locate_file("")))
    return None


def conflict_message(engine: EngineDistribution, manifest: LibraryManifest | None = None) -> str:
    """Why ``griptape_nodes`` is refused, and the fix (the manifest's listing of the engine, if it has one)."""
    head = (
        f"{engine.name} {engine.version}, the Griptape Nodes engine, is installed in this Python environment "
        f"({engine.location}), and nodeisle provides griptape_nodes itself (its compatibility layer): it will not "
        "mix the two, so library code cannot import griptape_nodes here. "
    )
    if manifest is not None:
        deps = manifest.dependencies
        for field, reqs in (("pip_dependencies", deps.pip_dependencies), ("pip_dependencies_exec",
                                                                            deps.pip_dependencies_exec)):
            for i, req in enumerate(reqs):
                if _normal(re.split(r"[\s\[<>=!~;@(]", req.strip(), maxsplit=1)[0]) == _normal(engine.name):
                    return head + (
                        f"The library's own pin brings it: remove {req!r} (metadata.dependencies.{field}[{i}] in "
                        f"{manifest.path}); no manifest needs to list the engine"
                    )
    return head + (
        f"Uninstall it from this environment (pip uninstall {engine.name}), or run the library Isolated: its "
        "worker env gets nodeisle's griptape_nodes and the library's own pins only"
    )


def _refuse_a_real_engine(package: libimport.LibraryPackage, name: str) -> None:
    if name != "griptape_nodes" and not name.startswith("griptape_nodes."):
        return
    message = package.notes.get("engine_conflict", _UNCHECKED)
    if message is _UNCHECKED:
        engine = installed_engine()
        manifest = package.notes.get("manifest")
        message = package.notes["engine_conflict"] = (
            None if engine is None else conflict_message(engine, manifest if isinstance(manifest, LibraryManifest)
                                                         else None)
        )
    if message is not None:
        raise libimport.ImportRefused(str(message), name=name)


def install() -> None:
    """Check library code's imports of ``griptape_nodes`` (once per process)."""
    libimport.watch_reserved(_refuse_a_real_engine)
