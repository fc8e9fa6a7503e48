"""Engine home and engine settings (registered libraries, per-library modes).

The engine home is ``$NODEISLE_HOME``, else ``$XDG_CONFIG_HOME/nodeisle``, else ``~/.config/nodeisle``.
It holds ``settings.json`` (this module), ``envs/`` (library virtualenvs), ``uv-cache/`` and ``logs/``.
"""

from __future__ import annotations

import enum
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodeisle._errors import NodeisleError
from nodeisle.orchestrator.files import write_json_atomic


class LibraryMode(enum.StrEnum):
    SHARED = "shared"
    ISOLATED = "isolated"

    @classmethod
    def parse(cls, text: str) -> LibraryMode:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"unknown library mode {text!r}; expected 'shared' or 'isolated'") from None


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
    """The contents of ``settings.json``."""

    path: Path
    libraries: list[str] = field(default_factory=list)  # absolute manifest paths
    library_modes: dict[str, LibraryMode] = field(default_factory=dict)  # library name -> mode
    find_links: list[str] = field(default_factory=list)  # extra wheel folders for env builds (air-gapped)
    offline: bool = False
    probe_timeout: float = 10.0
    execution_timeout: float = 600.0  # default deadline of one node execution; a workflow node may set "timeout"
    heartbeat_interval: float = 5.0  # seconds between liveness pings to a ready worker
    heartbeat_timeout: float = 15.0  # a worker that does not answer a ping within this is replaced
    crash_limit: int = 3  # this many worker crashes within crash_window seconds marks the library failed
    crash_window: float = 60.0

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
        try:
            return cls(
                path,
                libraries=[str(p) for p in data.get("libraries", [])],
                library_modes={str(k): LibraryMode.parse(str(v)) for k, v in data.get("library_modes", {}).items()},
                find_links=[str(p) for p in data.get("find_links", [])],
                offline=bool(data.get("offline", False)),
                probe_timeout=float(data.get("probe_timeout", 10.0)),
                execution_timeout=float(data.get("execution_timeout", 600.0)),
                heartbeat_interval=float(data.get("heartbeat_interval", 5.0)),
                heartbeat_timeout=float(data.get("heartbeat_timeout", 15.0)),
                crash_limit=int(data.get("crash_limit", 3)),
                crash_window=float(data.get("crash_window", 60.0)),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise SettingsError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "libraries": self.libraries,
            "library_modes": {k: str(v) for k, v in sorted(self.library_modes.items())},
            "find_links": self.find_links,
            "offline": self.offline,
            "probe_timeout": self.probe_timeout,
            "execution_timeout": self.execution_timeout,
            "heartbeat_interval": self.heartbeat_interval,
            "heartbeat_timeout": self.heartbeat_timeout,
            "crash_limit": self.crash_limit,
            "crash_window": self.crash_window,
        }

    def save(self) -> None:
        write_json_atomic(self.path, self.to_dict())
