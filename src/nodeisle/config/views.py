"""A worker's in-memory view of the engine's config and secrets. Standard library only.

The orchestrator owns ``config.json`` and ``.env``; a worker holds a copy of what it may see and
refreshes it when the orchestrator broadcasts ``ReloadConfigRequest`` / ``RefreshSecretsRequest``
(docs/secrets.md, docs/config.md). What a worker is given at start travels in :class:`ViewsLaunch`,
inside the launch JSON on its stdin.

Secrets reach a worker in one of two ways, decided by the library's manifest:

* **No ``required_secrets`` declaration** (the seed's behaviour). The worker is told where ``.env``
  is and the *names* of the secrets the operator set in the orchestrator's environment. It re-reads
  the file at start and on every refresh, and places every key in ``os.environ``, except that an
  operator-set value is never replaced by the file's. The refresh message carries the operator's
  current values for those names, so a delete never removes them and an API override is undone
  when the override is deleted.
* **A ``required_secrets`` declaration.** The worker is not told where ``.env`` is. The orchestrator
  sends exactly the declared keys' values (at launch and with every refresh) and the worker's
  environment holds exactly those.

Either way the worker changes only the variables it placed itself, and never a reserved name
(:func:`is_reserved`): the variables that make the worker a worker.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodeisle.config import dotenv as _dotenv

LOGGER = logging.getLogger("nodeisle.worker")

#: Variables that configure a process (the worker's own, an env build's, the interpreter's loader, its
#: network); a secret can never have one of these names, in any letter case, so no secret can steer how
#: code is loaded, where installs come from, or where traffic goes. Only the operator sets them, in the
#: OS environment the engine starts with.
RESERVED_NAMES = frozenset(
    {
        "PATH",
        "VIRTUAL_ENV",
        "HOME",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "SYSTEMROOT",
        "USER",
        "LOGNAME",
        "SHELL",
        "PWD",
        # network and TLS: a proxy or CA set here would see (or forge) every download and API call
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "FTP_PROXY",
        "SOCKS_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        # builds: a compiler or flags set here would run in every env build that compiles a package
        "CC",
        "CXX",
        "CPP",
        "CFLAGS",
        "CXXFLAGS",
        "CPPFLAGS",
        "LDFLAGS",
        "MAKEFLAGS",
        "PKG_CONFIG_PATH",
        "BASH_ENV",
        "ENV",
        "IFS",
    }
)
RESERVED_PREFIXES = ("PYTHON", "NODEISLE_", "LD_", "DYLD_", "UV_", "PIP_", "GIT_", "VIRTUALENV_", "CONDA_")


def is_reserved(name: str) -> bool:
    """True for names that must not be secrets: they steer the interpreter, the loader or nodeisle."""
    upper = name.upper()
    return upper in RESERVED_NAMES or upper.startswith(RESERVED_PREFIXES)


def apply_environment(environ: MutableMapping[str, str], wanted: Mapping[str, str], placed: Iterable[str]) -> set[str]:
    """Make ``environ`` hold ``wanted``; remove what was ``placed`` earlier and is no longer wanted.

    Returns the names now placed. Reserved names are skipped (a hand-edited ``.env`` may hold one).
    """
    now = {k: v for k, v in wanted.items() if not is_reserved(k) and "\x00" not in v}  # NUL: no env holds it
    for key in set(placed) - set(now):
        environ.pop(key, None)
    for key, value in now.items():
        if environ.get(key) != value:
            environ[key] = value
    return set(now)


# -- what a worker is given at start --------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class ViewsLaunch:
    """The config and secrets part of a worker's launch config (JSON on stdin, never argv or env)."""

    config_path: str | None = None
    config_defaults: Mapping[str, Any] = field(default_factory=dict)
    config_overrides: Mapping[str, Any] = field(default_factory=dict)  # environment and flag layers
    secrets_path: str | None = None  # None for a library that declares required_secrets
    operator_keys: tuple[str, ...] = ()  # the operator-set secret names
    operator_values: Mapping[str, str] = field(default_factory=dict)  # their values (never in the exec env)
    granted: Mapping[str, str] | None = None  # a declaring library's secrets; None: it declares none

    def __repr__(self) -> str:  # never the secret values
        granted = "None" if self.granted is None else f"<{len(self.granted)} keys>"
        return (
            f"ViewsLaunch(config_path={self.config_path!r}, secrets_path={self.secrets_path!r}, "
            f"operator_keys={list(self.operator_keys)!r}, granted={granted})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "config_path": self.config_path,
            "config_defaults": dict(self.config_defaults),
            "config_overrides": dict(self.config_overrides),
            "secrets_path": self.secrets_path,
            "operator_keys": list(self.operator_keys),
            "operator_values": dict(self.operator_values),
            "granted": dict(self.granted) if self.granted is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ViewsLaunch:
        granted = data.get("granted")
        return cls(
            config_path=str(data["config_path"]) if data.get("config_path") else None,
            config_defaults=dict(data.get("config_defaults") or {}),
            config_overrides=dict(data.get("config_overrides") or {}),
            secrets_path=str(data["secrets_path"]) if data.get("secrets_path") else None,
            operator_keys=tuple(str(k) for k in data.get("operator_keys") or ()),
            operator_values={str(k): str(v) for k, v in (data.get("operator_values") or {}).items()},
            granted={str(k): str(v) for k, v in granted.items()} if isinstance(granted, Mapping) else None,
        )


# -- config -------------------------------------------------------------------------------------
def flatten_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """``config.json``'s object as dotted keys: ``{"libraries": {"L": {"k": 1}}}`` -> ``libraries.L.k``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key == "libraries" and isinstance(value, Mapping):
            for library, settings in value.items():
                if isinstance(settings, Mapping):
                    for name, setting in settings.items():
                        flat[f"libraries.{library}.{name}"] = setting
        else:
            flat[str(key)] = value
    return flat


class ConfigView:
    """The worker's copy of the effective config: defaults < ``config.json`` < orchestrator overrides."""

    def __init__(self, path: str | None, defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
        self.path = Path(path) if path else None
        self._defaults = dict(defaults)
        self._overrides = dict(overrides)
        self.values: dict[str, Any] = {**self._defaults, **self._overrides}

    def reload(self) -> str:
        """Re-read ``config.json``. An unreadable file keeps the previous view (and says so)."""
        if self.path is None:
            return "no config file to read"
        try:
            text = self.path.read_text("utf-8") if self.path.exists() else "{}"
            data = json.loads(text or "{}")
            if not isinstance(data, dict):
                raise ValueError("the top level is not a JSON object")
        except (OSError, ValueError) as exc:
            where = f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
            LOGGER.warning("config: kept the previous values: %s is unreadable (%s)", self.path, where)
            return f"kept the previous config: {self.path} is unreadable ({where})"
        self.values = {**self._defaults, **flatten_config(data), **self._overrides}
        return f"config reloaded ({len(self.values)} values)"

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


# -- secrets ------------------------------------------------------------------------------------
class SecretsView:
    """The secrets in this worker's process environment, and how a refresh updates them."""

    def __init__(
        self,
        environ: MutableMapping[str, str],
        *,
        path: str | None,
        operator_keys: Iterable[str] = (),
        granted: Mapping[str, str] | None = None,
        operator_values: Mapping[str, str] | None = None,
    ) -> None:
        self._environ = environ
        self.path = Path(path) if path else None
        self.declared = granted is not None
        # The values handed over the bus: everything for a declaring library, else the operator's.
        if granted is not None:
            self._handed: dict[str, str] = dict(granted)
        else:
            handed = operator_values if operator_values is not None else environ
            self._handed = {k: handed[k] for k in operator_keys if k in handed}
        self._placed: set[str] = set(self._handed)

    def __repr__(self) -> str:
        return f"SecretsView(path={str(self.path) if self.path else None!r}, names={sorted(self._placed)})"

    @property
    def names(self) -> list[str]:
        """The secret names this worker currently holds in its environment."""
        return sorted(self._placed)

    def _file_values(self) -> dict[str, str]:
        if self.path is None or self.declared:
            return {}
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            LOGGER.warning("secrets: cannot read %s (%s); keeping the values held now", self.path, exc.strerror)
            return {k: self._environ[k] for k in self._placed if k in self._environ}
        return _dotenv.parse(text).values()

    def refresh(self, handed: Mapping[str, str] | None = None) -> str:
        """Apply the current secrets: re-read ``.env`` (if this worker may) and take ``handed``.

        ``handed`` replaces the values received earlier: the declared keys' values for a declaring
        library, the operator-set values for any other. ``None`` keeps the earlier ones.
        """
        if handed is not None:
            self._handed = dict(handed)
        wanted = {**self._file_values(), **self._handed}
        self._placed = apply_environment(self._environ, wanted, self._placed)
        return f"secrets refreshed ({len(self._placed)} in the environment)"
