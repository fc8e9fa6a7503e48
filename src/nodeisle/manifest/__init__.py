"""Read and check a Griptape Nodes library manifest (``griptape-nodes-library.json``).

Stdlib only: worker subprocesses import this package too. :func:`load_manifest` raises
:class:`~nodeisle.errors.ManifestError` (file, JSON path, what was found, what is expected) when the
library cannot be used, and returns everything merely odd as :class:`ManifestWarning` values in
``LibraryManifest.warnings``; the engine logs them. See docs/manifest.md.

The parts: ``model`` (the loaded manifest's types), ``loader`` (finding, reading and checking the
file), ``pins`` (whether a requirement pins one version), ``schema`` (the JSON Schema of what loads).
"""

from nodeisle.manifest.loader import find_manifest, load_manifest
from nodeisle.manifest.model import (
    MANIFEST_FILE_NAMES,
    Compatibility,
    Declarations,
    Dependencies,
    LibraryManifest,
    LibrarySettings,
    ManifestWarning,
    NodeEntry,
    WorkerMode,
)
from nodeisle.manifest.pins import unpinned_requirements
from nodeisle.manifest.schema import manifest_json_schema

__all__ = [
    "MANIFEST_FILE_NAMES", "Compatibility", "Declarations", "Dependencies", "LibraryManifest", "LibrarySettings",
    "ManifestWarning", "NodeEntry", "WorkerMode", "find_manifest", "load_manifest", "manifest_json_schema",
    "unpinned_requirements",
]
