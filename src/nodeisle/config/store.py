"""Engine configuration: typed settings with defaults, stored in ``$NODEISLE_HOME/config.json``.

Precedence, lowest to highest. This is the one place it is written down (docs/config.md quotes it):

1. **defaults**: :data:`SETTINGS` below;
2. **the file**: ``config.json`` in the engine home;
3. **environment variables**: ``NODEISLE_<KEY>`` of the orchestrator process, read once when the
   store is built (``NODEISLE_BROADCAST_TIMEOUT=2``);
4. **command-line flags**: ``nodeisle -c KEY=VALUE ...``, for that one command.

Besides the typed settings, a library may keep its own values under ``libraries.<library>.<name>``
(any JSON value, no default; not settable from the environment). The file stores them nested:
``{"libraries": {"<library>": {"<name>": value}}}``.

``settings.json`` holds only the registered libraries and their modes; the tunables live here, so
``nodeisle config get`` shows exactly what the engine uses (:meth:`ConfigStore.apply_to` lays them
over a ``Settings`` object).

``set`` and ``reset`` change only the file. Every change is a read-modify-write under a
:class:`~nodeisle.config.files.FileLock` (threads and processes) ending in an atomic rename. A
file that is not valid JSON raises :class:`ConfigError` naming the file, line and column, and is
never overwritten: fix it, or delete it to start from the defaults.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodeisle.bus.protocol import DEFAULT_MAX_ATTACHMENTS
from nodeisle.config.files import FileLock, write_json_atomic
from nodeisle.config.settings import Settings
from nodeisle.config.views import flatten_config
from nodeisle.errors import NodeisleError

LOGGER = logging.getLogger("nodeisle.config")
CONFIG_FILE = "config.json"
LIBRARY_PREFIX = "libraries."
_LIBRARY_SETTING = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class ConfigError(NodeisleError):
    """The config is unreadable, or a key or value is not valid. Carries what it is about."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        column: int | None = None,
        key: str | None = None,
    ) -> None:
        self.path, self.line, self.column, self.key = path, line, column, key
        super().__init__(message)


# -- the settings ---------------------------------------------------------------------------------
def _positive_seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("expected a number of seconds")
    if not value > 0:
        raise ValueError("expected a number of seconds greater than 0")
    return float(value)


def _non_negative_seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError("expected a number of seconds, 0 or more")
    return float(value)


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("expected a whole number, 1 or more")
    return value


def _int_text(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        raise ValueError("expected a whole number") from None


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _paths(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(p, str) and p for p in value):
        raise ValueError("expected a list of folder paths")
    return tuple(value)


def _optional_path(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value):
        return value
    raise ValueError("expected a folder path, or null for the default")


def _number_text(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        raise ValueError("expected a number of seconds") from None


def _bool_text(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("", "0", "false", "no", "off"):
        return False
    raise ValueError("expected one of 1/true/yes/on or 0/false/no/off")


def _paths_text(text: str) -> tuple[str, ...]:
    return tuple(p for p in text.split(os.pathsep) if p)


def _optional_path_text(text: str) -> str | None:
    return text or None


@dataclass(frozen=True)
class Setting:
    """One typed setting: its key, default, and how to read it from JSON and from text."""

    key: str
    default: Any
    doc: str
    type_name: str  # as shown to people: "seconds", "count", "boolean", "paths", "path"
    from_json: Callable[[Any], Any]
    from_text: Callable[[str], Any]  # environment variables and flags; the result goes through from_json

    @property
    def env(self) -> str:
        return f"NODEISLE_{self.key.upper()}"

    def parse_text(self, text: str) -> Any:
        return self.from_json(self.from_text(text))

    def to_json(self, value: Any) -> Any:
        return list(value) if isinstance(value, tuple) else value


def _settings_default(name: str) -> Any:
    """The default of a ``Settings`` field: settings.json's tunables and these settings are the same keys."""
    found = {f.name: f for f in dataclasses.fields(Settings)}[name]
    if found.default is not dataclasses.MISSING:
        return found.default
    return tuple(found.default_factory()) if found.default_factory is not dataclasses.MISSING else None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "broadcast_timeout",
        5.0,
        "Seconds the orchestrator waits for each worker to acknowledge a config reload or secrets "
        "refresh. A worker that does not answer in time never blocks the change.",
        "seconds",
        _positive_seconds,
        _number_text,
    ),
    Setting(
        "crash_limit",
        _settings_default("crash_limit"),
        "This many worker crashes within crash_window seconds mark the library failed.",
        "count",
        _positive_int,
        _int_text,
    ),
    Setting(
        "crash_window",
        _settings_default("crash_window"),
        "The window, in seconds, in which crash_limit crashes mark a library failed.",
        "seconds",
        _positive_seconds,
        _number_text,
    ),
    Setting(
        "execution_timeout",
        _settings_default("execution_timeout"),
        "Default deadline, in seconds, of one node execution; a workflow node may set its own.",
        "seconds",
        _positive_seconds,
        _number_text,
    ),
    Setting(
        "find_links",
        _settings_default("find_links"),
        "Extra folders of wheels for building library environments (air-gapped machines). In the "
        "environment variable, separate folders with the path separator (':').",
        "paths",
        _paths,
        _paths_text,
    ),
    Setting(
        "heartbeat_interval",
        _settings_default("heartbeat_interval"),
        "Seconds between liveness pings to a ready worker; 0 turns them off.",
        "seconds",
        _non_negative_seconds,
        _number_text,
    ),
    Setting(
        "heartbeat_timeout",
        _settings_default("heartbeat_timeout"),
        "A worker that does not answer a ping within this many seconds is replaced.",
        "seconds",
        _positive_seconds,
        _number_text,
    ),
    Setting(
        "max_value_bytes",
        DEFAULT_MAX_ATTACHMENTS,
        "The most bytes of values (bytes, arrays, long strings) one message between the orchestrator and "
        "a worker may carry: a node's inputs together, or its outputs together. A node whose values are "
        "larger fails with a ValueTransferError naming the parameter and this limit; the worker keeps serving.",
        "bytes",
        _positive_int,
        _int_text,
    ),
    Setting(
        "offline",
        _settings_default("offline"),
        "Build library environments from find_links and the uv cache only, never the network.",
        "boolean",
        _boolean,
        _bool_text,
    ),
    Setting(
        "probe_timeout",
        _settings_default("probe_timeout"),
        "Seconds each node class may take to construct during the schema probe.",
        "seconds",
        _positive_seconds,
        _number_text,
    ),
    Setting(
        "uv_cache",
        None,
        "The uv cache folder shared by every library environment; null: $NODEISLE_HOME/uv-cache.",
        "path",
        _optional_path,
        _optional_path_text,
    ),
    Setting(
        "worker_start_timeout",
        120.0,
        "Seconds a worker has to start, import its library and send its schema.",
        "seconds",
        _positive_seconds,
        _number_text,
    ),
)
SETTINGS_BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


@dataclass(frozen=True)
class EngineConfig:
    """The typed settings' effective values, frozen: what the engine is built with."""

    broadcast_timeout: float
    crash_limit: int
    crash_window: float
    execution_timeout: float
    find_links: tuple[str, ...]
    heartbeat_interval: float
    heartbeat_timeout: float
    max_value_bytes: int
    offline: bool
    probe_timeout: float
    uv_cache: str | None
    worker_start_timeout: float


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


# -- keys -----------------------------------------------------------------------------------------
def parse_key(key: str) -> Setting | tuple[str, str]:
    """A typed setting, or (library, name) for a ``libraries.<library>.<name>`` key."""
    if key in SETTINGS_BY_KEY:
        return SETTINGS_BY_KEY[key]
    if key.startswith(LIBRARY_PREFIX):
        library, _, name = key[len(LIBRARY_PREFIX) :].rpartition(".")
        if library and _LIBRARY_SETTING.fullmatch(name):
            return library, name
        raise ConfigError(
            f"config key {key!r}: a library setting is 'libraries.<library name>.<setting>', where the "
            "setting name has letters, digits, '_' and '-' only",
            key=key,
        )
    raise ConfigError(
        f"unknown config key {key!r}; the settings are {', '.join(SETTINGS_BY_KEY)}, and a library's "
        "own values go under 'libraries.<library name>.<setting>'",
        key=key,
    )


def _validated(key: str, value: Any, *, text: bool) -> Any:
    """``value`` for ``key``, checked (and parsed from text when ``text``); ConfigError says how to fix it."""
    target = parse_key(key)
    if isinstance(target, Setting):
        try:
            return target.parse_text(value) if text else target.from_json(value)
        except ValueError as exc:
            raise ConfigError(
                f"config key {key!r} ({target.type_name}): {exc}; got {value!r}. {target.doc}", key=key
            ) from None
    if text:
        try:
            return json.loads(value)
        except ValueError:
            return value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"config key {key!r}: a library setting must be a JSON value (string, number, boolean, null, "
            f"list or object); got {type(value).__name__}",
            key=key,
        ) from None
    return value


def parse_flags(pairs: list[str] | None) -> dict[str, Any]:
    """``["KEY=VALUE", ...]`` from the command line, parsed and checked."""
    flags: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"config flag {pair!r}: expected KEY=VALUE, for example -c broadcast_timeout=2")
        flags[key.strip()] = _validated(key.strip(), text, text=True)
    return flags


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
        self._flags = {key: _validated(key, value, text=False) for key, value in (flags or {}).items()}

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

    @staticmethod
    def _resolve(layers: list[tuple[Source, Mapping[str, Any]]], key: str) -> tuple[Any, Source]:
        for source, layer in layers:
            if key in layer:
                return layer[key], source
        target = parse_key(key)
        return (target.default if isinstance(target, Setting) else None), Source.DEFAULT

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
        library_keys = sorted({k for _, layer in layers for k in layer if k not in SETTINGS_BY_KEY})
        found = []
        for key in [*SETTINGS_BY_KEY, *library_keys]:
            value, source = self._resolve(layers, key)
            setting = SETTINGS_BY_KEY.get(key)
            found.append(ConfigEntry(key, setting.to_json(value) if setting else value, source))
        return found

    def snapshot(self) -> EngineConfig:
        layers = self._layers()
        return EngineConfig(**{s.key: self._resolve(layers, s.key)[0] for s in SETTINGS})

    def apply_to(self, settings: Settings) -> Settings:
        """A copy of ``settings`` with every tunable that a config layer sets (file, environment, flag).

        A tunable left at its default keeps the value of ``settings`` (the code's default, or what a
        caller set programmatically); ``find_links`` adds to the caller's folders.
        """
        layers = self._layers()
        fields = {f.name for f in dataclasses.fields(Settings)}
        changes: dict[str, Any] = {}
        for setting in SETTINGS:
            value, source = self._resolve(layers, setting.key)
            if setting.key not in fields or source is Source.DEFAULT:
                continue
            if setting.key == "find_links":
                value = [*settings.find_links, *(p for p in value if p not in settings.find_links)]
            elif setting.key == "offline":
                value = settings.offline or value
            changes[setting.key] = value
        return dataclasses.replace(settings, **changes) if changes else settings

    def defaults(self) -> dict[str, Any]:
        return {s.key: s.to_json(s.default) for s in SETTINGS}

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
        checked = _validated(key, value, text=text or (isinstance(target, Setting) and isinstance(value, str)))
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
