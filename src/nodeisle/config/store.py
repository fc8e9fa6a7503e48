"""Engine configuration: typed settings with defaults, stored in ``$NODEISLE_HOME/config.json``.

Precedence, lowest to highest. This is the one place it is written down (docs/config.md quotes it):

1. **defaults**: the setting table, :data:`nodeisle.config.table.SETTINGS`;
2. **the file**: ``config.json`` in the engine home;
3. **environment variables**: ``NODEISLE_<KEY>`` of the orchestrator process, read once when the
   store is built (``NODEISLE_BROADCAST_TIMEOUT=2``);
4. **command-line flags**: ``nodeisle -c KEY=VALUE ...``, for that one command.

Besides the typed settings, a library may keep its own values under ``libraries.<library>.<name>``
(any JSON value, no default; not settable from the environment). The file stores them nested:
``{"libraries": {"<library>": {"<name>": value}}}``.

``settings.json`` holds only the registered libraries and their modes; the tunables live here, so
``nodeisle config get`` shows exactly what the engine uses: the engine is built with
:meth:`ConfigStore.snapshot`, the frozen :class:`~nodeisle.config.table.EngineConfig` of the layers.

``set`` and ``reset`` change only the file. Every change is a read-modify-write under a
:class:`~nodeisle.config.files.FileLock` (threads and processes) ending in an atomic rename. A
file that is not valid JSON raises :class:`ConfigError` naming the file, line and column, and is
never overwritten: fix it, or delete it to start from the defaults.
"""

from __future__ import annotations

import enum
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodeisle.config.files import FileLock, write_json_atomic
from nodeisle.config.table import (
    LIBRARY_PREFIX,
    SETTINGS,
    SETTINGS_BY_KEY,
    ConfigError,
    EngineConfig,
    Setting,
    parse_flags,
    parse_key,
    validate,
)
from nodeisle.config.views import flatten_config

__all__ = [
    "CONFIG_FILE", "SETTINGS", "SETTINGS_BY_KEY", "ConfigEntry", "ConfigError", "ConfigStore", "EngineConfig",
    "Setting", "Source", "parse_flags", "parse_key",
]

LOGGER = logging.getLogger("nodeisle.config")
CONFIG_FILE = "config.json"


class Source(enum.StrEnum):
    DEFAULT = "default"
    FILE = "file"
    ENVIRONMENT = "environment"
    FLAG = "flag"


@dataclass(frozen=True)
class ConfigEntry:
    key: str
    value: Any
    source: Source


# -- the store ------------------------------------------------------------------------------------
class ConfigStore:
    """``config.json`` plus the environment and flag layers. One per engine; no global instance."""

    def __init__(
        self, path: Path, *, environ: Mapping[str, str] | None = None, flags: Mapping[str, Any] | None = None
    ) -> None:
        self.path = path
        self._lock = FileLock(path)
        self._unknown_reported: set[str] = set()
        environ = os.environ if environ is None else environ
        self._environment: dict[str, Any] = {}
        for setting in SETTINGS:
            if setting.env in environ:
                try:
                    self._environment[setting.key] = setting.parse_text(environ[setting.env])
                except ValueError as exc:
                    raise ConfigError(
                        f"environment variable {setting.env}={environ[setting.env]!r}: {exc}. {setting.doc}",
                        key=setting.key,
                    ) from None
        self._flags = {key: validate(key, value, text=False) for key, value in (flags or {}).items()}
        # library name -> the config defaults its manifest's settings declare (libraries.<category>.<key>)
        self._library_defaults: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"ConfigStore(path={str(self.path)!r})"

    # -- reading ----------------------------------------------------------------------------------
    def read_file(self) -> dict[str, Any]:
        """The file's JSON object ({} if there is no file). ConfigError names line and column."""
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read: {exc.strerror}", path=self.path) from None
        except UnicodeDecodeError:
            raise ConfigError(
                f"{self.path}: not UTF-8 text; fix the file, or delete it to start from the defaults", path=self.path
            ) from None
        if not text.strip():
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{self.path}: line {exc.lineno} column {exc.colno}: {exc.msg}. Fix the file, or delete it to "
                "start from the defaults; nodeisle does not overwrite it while it is unreadable",
                path=self.path,
                line=exc.lineno,
                column=exc.colno,
            ) from None
        libraries = data.get("libraries", {}) if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or not isinstance(libraries, dict)
            or not all(isinstance(v, dict) for v in libraries.values())
        ):
            raise ConfigError(
                f"{self.path}: expected a JSON object at the top level, 'libraries' to be an object, and each "
                "'libraries.<library>' to be an object of name to value; fix the file, or delete it to start from "
                "the defaults",
                path=self.path,
            )
        return data

    def _file_layer(self) -> dict[str, Any]:
        layer: dict[str, Any] = {}
        for key, value in flatten_config(self.read_file()).items():
            setting = SETTINGS_BY_KEY.get(key)
            if setting is None:
                if key.startswith(LIBRARY_PREFIX):
                    layer[key] = value
                elif key not in self._unknown_reported:
                    self._unknown_reported.add(key)
                    known = ", ".join(SETTINGS_BY_KEY)
                    LOGGER.warning("%s: ignoring unknown key %r (known: %s)", self.path, key, known)
                continue
            try:
                layer[key] = setting.from_json(value)
            except ValueError as exc:
                raise ConfigError(
                    f"{self.path}: {key!r} ({setting.type_name}): {exc}; got {value!r}. Fix it with "
                    f"`nodeisle config set {key} VALUE` or `nodeisle config reset {key}`",
                    path=self.path,
                    key=key,
                ) from None
        return layer

    def _layers(self) -> list[tuple[Source, Mapping[str, Any]]]:
        """Highest precedence first."""
        return [(Source.FLAG, self._flags), (Source.ENVIRONMENT, self._environment), (Source.FILE, self._file_layer())]

    def set_library_defaults(self, library: str, defaults: Mapping[str, Any]) -> None:
        """The defaults a registered library's manifest declares for its settings; ``{}`` forgets them.

        They are the lowest layer: config.json, the environment and flags win. When two libraries
        declare the same key, the one registered first decides.
        """
        if defaults:
            self._library_defaults[library] = dict(defaults)
        else:
            self._library_defaults.pop(library, None)

    def _library_layer(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for defaults in self._library_defaults.values():
            for key, value in defaults.items():
                merged.setdefault(key, value)
        return merged

    def _resolve(self, layers: list[tuple[Source, Mapping[str, Any]]], key: str) -> tuple[Any, Source]:
        for source, layer in layers:
            if key in layer:
                return layer[key], source
        target = parse_key(key)
        if isinstance(target, Setting):
            return target.default, Source.DEFAULT
        return self._library_layer().get(key), Source.DEFAULT

    def entry(self, key: str) -> ConfigEntry:
        """The effective value of ``key`` (JSON-shaped: a paths setting is a list) and where it came from."""
        value, source = self._resolve(self._layers(), key)
        setting = SETTINGS_BY_KEY.get(key)
        return ConfigEntry(key, setting.to_json(value) if setting else value, source)

    def get(self, key: str) -> Any:
        return self.entry(key).value

    def entries(self) -> list[ConfigEntry]:
        """Every typed setting, then every library value that is set, sorted by key."""
        layers = self._layers()
        library_keys = sorted({k for _, layer in [*layers, (Source.DEFAULT, self._library_layer())] for k in layer
                               if k not in SETTINGS_BY_KEY})
        found = []
        for key in [*SETTINGS_BY_KEY, *library_keys]:
            value, source = self._resolve(layers, key)
            setting = SETTINGS_BY_KEY.get(key)
            found.append(ConfigEntry(key, setting.to_json(value) if setting else value, source))
        return found

    def snapshot(self) -> EngineConfig:
        """Every typed setting's effective value now, frozen: what an engine is built with."""
        layers = self._layers()
        return EngineConfig(**{s.key: self._resolve(layers, s.key)[0] for s in SETTINGS})

    def defaults(self) -> dict[str, Any]:
        """Every typed setting's default, and the defaults registered libraries declare (what a worker starts from)."""
        return {**self._library_layer(), **{s.key: s.to_json(s.default) for s in SETTINGS}}

    def overrides(self) -> dict[str, Any]:
        """The environment and flag layers, which a worker cannot see for itself."""
        merged = {**self._environment, **self._flags}
        return {k: SETTINGS_BY_KEY[k].to_json(v) if k in SETTINGS_BY_KEY else v for k, v in merged.items()}

    def shadowed_by(self, key: str) -> Source | None:
        """The layer above the file that decides ``key``, if any."""
        if key in self._flags:
            return Source.FLAG
        if key in self._environment:
            return Source.ENVIRONMENT
        return None

    # -- writing ----------------------------------------------------------------------------------
    def set(self, key: str, value: Any, *, text: bool = False) -> Any:
        """Store ``key`` in the file; returns the stored value.

        ``value`` is read as the command line would read it when ``text`` is true, and also when it
        is a string for a typed setting (``"2"`` for a number of seconds).
        """
        target = parse_key(key)
        checked = validate(key, value, text=text or (isinstance(target, Setting) and isinstance(value, str)))
        with self._lock:
            data = self.read_file()  # raises for a corrupt file: it is never overwritten
            if isinstance(target, Setting):
                data[key] = target.to_json(checked)
            else:
                library, name = target
                data.setdefault("libraries", {}).setdefault(library, {})[name] = checked
            write_json_atomic(self.path, data)
        return checked

    def reset(self, key: str | None = None) -> list[str]:
        """Remove ``key`` (or every key) from the file; return the keys removed."""
        with self._lock:
            data = self.read_file()
            if key is None:
                removed = sorted(flatten_config(data))
                data = {}
            else:
                target = parse_key(key)
                removed = [key] if key in flatten_config(data) else []
                if isinstance(target, Setting):
                    data.pop(key, None)
                else:
                    library, name = target
                    settings = data.get("libraries", {}).get(library, {})
                    settings.pop(name, None)
                    if not settings:
                        data.get("libraries", {}).pop(library, None)
                    if not data.get("libraries", True):
                        data.pop("libraries")
            if removed:
                write_json_atomic(self.path, data)
        return removed
