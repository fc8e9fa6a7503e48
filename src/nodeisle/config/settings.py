"""Engine home and engine settings (registered libraries, per-library modes and Pythons).

The engine home is ``$NODEISLE_HOME``, else ``$XDG_CONFIG_HOME/nodeisle``, else ``~/.config/nodeisle``.
It holds ``settings.json`` (this module), ``envs/`` (library virtualenvs), ``uv-cache/`` and ``logs/``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodeisle.config.files import write_json_atomic
from nodeisle.errors import NodeisleError
from nodeisle.orchestrator.containment import Limits
from nodeisle.placement import LibraryMode

__all__ = ["LibraryMode", "Settings", "SettingsError", "engine_home"]

LOGGER = logging.getLogger("nodeisle.settings")


class SettingsError(NodeisleError):
    pass


def engine_home() -> Path:
    explicit = os.environ.get("NODEISLE_HOME")
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return (Path(base) / "nodeisle").resolve()


@dataclass
class Settings:
    """The registered libraries, their modes and their ``python`` choices: ``settings.json``, and nothing else.

    The engine's tunables are config values (``config.json`` < ``NODEISLE_*`` < ``-c``): their
    defaults are the setting table's (:mod:`nodeisle.config.table`), and the engine is built with
    their frozen effective values (:class:`~nodeisle.config.table.EngineConfig`). One place decides
    each value, so ``nodeisle config get`` always shows what the engine uses.
    """

    path: Path
    libraries: list[str] = field(default_factory=list)  # absolute manifest paths
    library_modes: dict[str, LibraryMode] = field(default_factory=dict)  # library name -> mode
    # library name -> the Python its Isolated env is built on: a version ("3.12") or an interpreter's path
    library_pythons: dict[str, str] = field(default_factory=dict)
    # library name -> its containment limits (`nodeisle libraries limits`), nodeisle's own, never the manifest's
    library_limits: dict[str, Limits] = field(default_factory=dict)
    # library name -> {"enabled": bool, "network": bool} (`nodeisle libraries sandbox`); absent: the sandbox setting
    library_sandbox: dict[str, dict[str, bool]] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Path) -> Settings:
        path = home / "settings.json"
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise SettingsError(
                f"{path}: line {exc.lineno} column {exc.colno}: {exc.msg}; fix or remove the file "
                "(it is never overwritten while it is unreadable)"
            ) from None
        if not isinstance(data, dict):
            raise SettingsError(f"{path}: expected a JSON object at the top level")
        for key in sorted(set(data) - {"libraries", "library_modes", "library_pythons", *CONTAINMENT_KEYS}):
            LOGGER.warning(
                "%s: %r is not read from settings.json; it is a config value: `nodeisle config set %s VALUE`",
                path, key, key,
            )
        try:
            return cls(
                path,
                libraries=[str(p) for p in data.get("libraries", [])],
                library_modes={str(k): LibraryMode.parse(str(v)) for k, v in data.get("library_modes", {}).items()},
                library_pythons=_pythons(data.get("library_pythons", {})),
                **_containment(data, path),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise SettingsError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "libraries": self.libraries,
            "library_modes": {k: str(v) for k, v in sorted(self.library_modes.items())},
            **({"library_pythons": dict(sorted(self.library_pythons.items()))} if self.library_pythons else {}),
            **_containment_dict(self),
        }

    def save(self) -> None:
        write_json_atomic(self.path, self.to_dict())


def _pythons(data: Any) -> dict[str, str]:
    """``library_pythons`` as read: library name -> a non-empty string (checked further when the library loads)."""
    if not isinstance(data, dict) or not all(isinstance(v, str) and v for v in data.values()):
        raise TypeError(
            "library_pythons must map library names to a Python version or path; "
            "set them with `nodeisle libraries python NAME VERSION|PATH|default`"
        )
    return {str(k): v for k, v in data.items()}


# -- containment (nodeisle.orchestrator.containment) ------------------------------------------------
CONTAINMENT_KEYS = ("library_limits", "library_sandbox")


def _containment(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """``library_limits`` as read; a bad entry names the library and the fix."""
    limits = data.get("library_limits", {})
    if not isinstance(limits, dict) or not all(isinstance(v, dict) for v in limits.values()):
        raise TypeError("library_limits must map library names to objects; set them with `nodeisle libraries limits`")
    sandbox = data.get("library_sandbox", {})
    if not isinstance(sandbox, dict) or not all(
        isinstance(v, dict) and all(isinstance(b, bool) for b in v.values()) for v in sandbox.values()
    ):
        raise TypeError('library_sandbox must map library names to {"enabled": true|false, "network": true|false}; '
                        "set them with `nodeisle libraries sandbox NAME on|off`")
    return {"library_limits": {
        str(name): Limits.from_dict(value, f"library_limits.{name} (fix with `nodeisle libraries limits {name}`)")
        for name, value in limits.items()
    }, "library_sandbox": {str(name): dict(value) for name, value in sandbox.items()}}


def _containment_dict(settings: Settings) -> dict[str, Any]:
    limits = {name: value.to_dict() for name, value in sorted(settings.library_limits.items()) if value.to_dict()}
    sandbox = dict(sorted(settings.library_sandbox.items()))
    return {**({"library_limits": limits} if limits else {}), **({"library_sandbox": sandbox} if sandbox else {})}
