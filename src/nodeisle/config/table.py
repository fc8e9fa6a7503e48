"""The typed settings: every tunable's key, default, documentation and parsing, written once.

:data:`SETTINGS` is the one place a tunable's default is written (a default the worker runtime
needs too is read from :mod:`nodeisle.config.defaults`). :class:`EngineConfig` is the frozen
object of their effective values that the engine is built with; :mod:`nodeisle.config.store`
resolves it from the layers (defaults < ``config.json`` < ``NODEISLE_*`` < ``-c``). Keys of the form
``libraries.<library>.<name>`` are a library's own values (:func:`parse_key`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodeisle.bus.protocol import DEFAULT_MAX_ATTACHMENTS
from nodeisle.config import defaults
from nodeisle.config.defaults import PROBE_TIMEOUT
from nodeisle.errors import NodeisleError

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
        defaults.CRASH_LIMIT,
        "This many worker crashes within crash_window seconds mark the library failed.",
        "count",
        _positive_int,
        _int_text,
    ),
    Setting(
        "crash_window",
        defaults.CRASH_WINDOW,
        "The window, in seconds, in which crash_limit crashes mark a library failed.",
        "seconds",
        _positive_seconds,
        _number_text,
    ),
    Setting(
        "execution_timeout",
        600.0,
        "Default deadline, in seconds, of one node execution; a workflow node may set its own.",
        "seconds",
        _positive_seconds,
        _number_text,
    ),
    Setting(
        "find_links",
        (),
        "Extra folders of wheels for building library environments (air-gapped machines). In the "
        "environment variable, separate folders with the path separator (':').",
        "paths",
        _paths,
        _paths_text,
    ),
    Setting(
        "heartbeat_interval",
        defaults.HEARTBEAT_INTERVAL,
        "Seconds between liveness pings to a ready worker; 0 turns them off.",
        "seconds",
        _non_negative_seconds,
        _number_text,
    ),
    Setting(
        "heartbeat_timeout",
        defaults.HEARTBEAT_TIMEOUT,
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
        False,
        "Build library environments from find_links and the uv cache only, never the network.",
        "boolean",
        _boolean,
        _bool_text,
    ),
    Setting(
        "probe_timeout",
        PROBE_TIMEOUT,
        "Seconds each node class may take to construct during the schema probe.",
        "seconds",
        _positive_seconds,
        _number_text,
    ),
    Setting(
        "sandbox",
        False,
        "Run Isolated libraries in a bubblewrap sandbox by default (no network, engine home hidden); "
        "`nodeisle libraries sandbox NAME on|off` decides per library.",
        "boolean",
        _boolean,
        _bool_text,
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
        defaults.WORKER_START_TIMEOUT,
        "Seconds a worker has to start, import its library and send its schema.",
        "seconds",
        _positive_seconds,
        _number_text,
    ),
)
SETTINGS_BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


@dataclass(frozen=True)
class EngineConfig:
    """The typed settings' effective values, frozen: what the engine is built with.

    One field per entry of :data:`SETTINGS`, in its order, without defaults of its own:
    :meth:`defaults` takes the table's, and :meth:`ConfigStore.snapshot
    <nodeisle.config.store.ConfigStore.snapshot>` lays the file, environment and flags over them.
    """

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
    sandbox: bool
    uv_cache: str | None
    worker_start_timeout: float

    @classmethod
    def defaults(cls) -> EngineConfig:
        """Every setting at its default (the table's)."""
        return cls(**{s.key: s.default for s in SETTINGS})


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


def validate(key: str, value: Any, *, text: bool) -> Any:
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
        flags[key.strip()] = validate(key.strip(), text, text=True)
    return flags
