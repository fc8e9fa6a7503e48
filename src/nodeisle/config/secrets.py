"""The secrets store: ``$NODEISLE_HOME/.env`` plus the operator's environment.

Rules (docs/secrets.md explains them with examples):

* **The operator wins.** An environment variable that was set when the engine started (for example
  a container-injected ``OPENAI_API_KEY``) takes precedence over the file. Re-reading the file never
  replaces it, and deleting the key from the file never removes it.
* **Except for an explicit set.** :meth:`SecretsStore.set` (``SetSecretValueRequest``) is the one path
  that overrides an operator value, for the rest of this engine process: it is the user's stated
  intent. It logs a WARNING naming the key, never the value. Deleting the key ends the override and
  the operator's value is in force again.
* **Writes** are read-modify-write cycles under a :class:`~nodeisle.config.files.FileLock`,
  ending in an atomic rename of a file with mode 0600. Comments and other lines are kept.
* **No value is ever logged**, put in an exception message or shown by ``repr``.

The file is re-read on every lookup, so a change made by ``nodeisle secrets set`` in another process
is seen by the next read (workers see it at the next refresh broadcast; the CLI has none to send).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from nodeisle.config import dotenv as _dotenv
from nodeisle.config.files import FileLock, write_atomic
from nodeisle.config.views import apply_environment, is_reserved
from nodeisle.errors import NodeisleError

LOGGER = logging.getLogger("nodeisle.secrets")
SECRETS_FILE = ".env"
FILE_MODE = 0o600


class SecretsError(NodeisleError):
    """A secret name is not valid, or the secrets file cannot be read. Never carries a value."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.key = key
        super().__init__(message)


def check_name(key: str) -> str:
    """``key`` if it can name a secret; SecretsError says why not."""
    if not _dotenv.KEY_PATTERN.fullmatch(key):
        raise SecretsError(
            f"{key!r} is not a valid secret name: use letters, digits and '_', not starting with a digit "
            "(for example OPENAI_API_KEY)",
            key=key,
        )
    if is_reserved(key):
        raise SecretsError(
            f"{key!r} cannot be a secret: the name is reserved for the worker's own environment "
            "or steers how code is loaded, built or networked (PATH, HOME, PYTHON*, LD_*, UV_*, PIP_*, "
            "HTTP_PROXY, HTTPS_PROXY, SSL_CERT_FILE, CC ...); only the operator's OS environment sets those. "
            "Choose another name",
            key=key,
        )
    return key


@dataclass(frozen=True)
class SecretInfo:
    """Where a secret's value comes from. Names and sources only: never the value."""

    name: str
    in_file: bool
    in_environment: bool  # set by the operator when the engine started
    overridden: bool  # set through the API over the operator's value

    @property
    def source(self) -> str:
        if self.overridden:
            return "file (set through the API, overrides the environment)"
        if self.in_environment:
            return "environment (wins over the file)" if self.in_file else "environment"
        return "file"


class SecretsStore:
    """One engine's secrets. Build one per engine (the composition root does); no global instance.

    ``environ`` is the process environment (``os.environ`` by default). The names and values in it
    when the store is built are the *operator's*; the store never changes or removes them, except
    through :meth:`set`.
    """

    def __init__(self, path: Path, environ: MutableMapping[str, str] | None = None) -> None:
        self.path = path
        self._environ: MutableMapping[str, str] = os.environ if environ is None else environ
        self._operator = dict(self._environ)  # in memory only, like the environment it copies
        self._overridden: set[str] = set()
        self._seen: set[str] = set()  # every name the file has held in this process
        self._exported: set[str] = set()
        self._lock = FileLock(path)
        self._reported_bad_lines: tuple[int, ...] = ()

    def __repr__(self) -> str:
        return f"SecretsStore(path={str(self.path)!r})"

    # -- reading ----------------------------------------------------------------------------------
    def _read_text(self) -> str:
        try:
            return self.path.read_text("utf-8")
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise SecretsError(f"{self.path}: cannot read the secrets file: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise SecretsError(f"{self.path}: the secrets file is not UTF-8 text; fix or remove it") from None

    def file_values(self) -> dict[str, str]:
        """The file's assignments. Lines that are not assignments are reported by number, once."""
        parsed = _dotenv.parse(self._read_text())
        if parsed.bad_lines and tuple(parsed.bad_lines) != self._reported_bad_lines:
            self._reported_bad_lines = tuple(parsed.bad_lines)
            LOGGER.warning(
                "%s: ignoring line(s) %s: not KEY=VALUE (an unclosed quote, or text after a closing quote)",
                self.path,
                ", ".join(map(str, parsed.bad_lines)),
            )
        values = {k: v for k, v in parsed.values().items() if not is_reserved(k)}
        if not self._seen.issuperset(values):
            self._seen = self._seen | set(values)  # rebound, not mutated: other threads may iterate it
        return values

    def _effective(self, key: str, file: Mapping[str, str]) -> str | None:
        if key in self._overridden and key in file:
            return file[key]
        if key in self._operator:
            return self._operator[key]
        return file.get(key)

    def get(self, key: str) -> str | None:
        """The value a reader sees: operator's environment, else the file (see the module rules)."""
        if is_reserved(key) or not _dotenv.KEY_PATTERN.fullmatch(key):
            return None
        return self._effective(key, self.file_values())

    def is_operator_set(self, key: str) -> bool:
        return key in self._operator

    def describe(self) -> list[SecretInfo]:
        """Every secret in the file, with where its value comes from."""
        file = self.file_values()
        return [
            SecretInfo(k, True, k in self._operator, k in self._overridden and k in self._operator)
            for k in sorted(file)
        ]

    # -- changing ---------------------------------------------------------------------------------
    def write_file_value(self, key: str, value: str) -> None:
        """Store ``key`` in the file only (no override bookkeeping: the command line uses this)."""
        check_name(key)
        if not isinstance(value, str):
            raise SecretsError(f"secret {key!r}: the value must be a string, not {type(value).__name__}", key=key)
        if "\x00" in value:  # no process environment can hold it
            raise SecretsError(f"secret {key!r}: the value contains a NUL character, which is not allowed", key=key)
        with self._lock:
            document = _dotenv.DotenvDocument(self._read_text())
            document.set(key, value)
            write_atomic(self.path, document.text().encode("utf-8"), FILE_MODE)
        self._seen = self._seen | {key}

    def remove_file_value(self, key: str) -> bool:
        """Remove ``key`` from the file only; True if it was there."""
        with self._lock:
            document = _dotenv.DotenvDocument(self._read_text())
            removed = document.delete(key)
            if removed:
                write_atomic(self.path, document.text().encode("utf-8"), FILE_MODE)
        return removed

    def set(self, key: str, value: str) -> bool:
        """Store ``key``; over an operator value this overrides it (WARNING). True if it overrode one."""
        self.write_file_value(key, value)
        if key not in self._operator:
            return False
        self._overridden = self._overridden | {key}
        LOGGER.warning(
            "secret %r was set through the API: this overrides the value the operator set in the environment "
            "for the rest of this engine process (delete the secret to use the environment's value again)",
            key,
        )
        return True

    def delete(self, key: str) -> bool:
        """Remove ``key`` from the file; an operator value of the same name stays. True if it was there."""
        check_name(key)
        removed = self.remove_file_value(key)
        self._overridden = self._overridden - {key}
        return removed

    # -- what workers and the orchestrator's own environment get ----------------------------------
    def secret_names(self, declared: Iterable[str] = ()) -> frozenset[str]:
        """The names that are secrets: in the file now or earlier in this process, or ``declared``."""
        self.file_values()
        return frozenset(k for k in (*self._seen, *declared) if not is_reserved(k))

    def values_for(self, names: Iterable[str]) -> dict[str, str]:
        """The effective values of ``names`` that have one."""
        file = self.file_values()
        found = {k: self._effective(k, file) for k in names if not is_reserved(k)}
        return {k: v for k, v in found.items() if v is not None}

    def operator_values(self, names: Iterable[str]) -> dict[str, str]:
        """The operator's values for those of ``names`` that the operator set and the API did not override."""
        return {k: self._operator[k] for k in names if k in self._operator and k not in self._overridden}

    def export(self, names: Iterable[str]) -> None:
        """Put ``names``' effective values in this process's environment (for Shared libraries)."""
        self._exported = apply_environment(self._environ, self.values_for(names), self._exported)

    def unexport(self) -> None:
        """Undo :meth:`export`: the environment holds the operator's variables again, and only those."""
        for key in self._exported:
            if key in self._operator:
                self._environ[key] = self._operator[key]
            else:
                self._environ.pop(key, None)
        self._exported = set()
