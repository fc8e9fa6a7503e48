"""Config and secrets in a running engine: the requests, least privilege, and the broadcasts.

:class:`ConfigAndSecrets` answers ``Get/SetConfigValueRequest``, ``ResetConfigRequest`` and
``Get/Set/DeleteSecretValueRequest`` for the orchestrator. After every successful change it sends
``ReloadConfigRequest`` or ``RefreshSecretsRequest`` to every live worker and waits for each
acknowledgement, at most ``broadcast_timeout`` seconds: a dead or stuck worker never blocks the
change, and a worker started later reads the values current at its start (:meth:`provision`).

Changes are serialized: a change and its broadcast finish before the next change starts, so a
worker never applies an older refresh after a newer one.

Least privilege: a library that declares ``required_secrets`` reads, sets and deletes only those
keys through forwarded requests (the ``declared-secrets`` rule of nodeisle.orchestrator.authority),
and its worker's environment holds only those (nodeisle.config.views explains both delivery paths).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nodeisle.bus.peer import RemoteFailure
from nodeisle.config.secrets import SecretsError, SecretsStore, check_name
from nodeisle.config.store import SETTINGS_BY_KEY, ConfigError, ConfigStore, Source
from nodeisle.config.views import ViewsLaunch
from nodeisle.errors import BusError, LibraryError
from nodeisle.flow.graph import RequestFailed
from nodeisle.manifest import LibraryManifest
from nodeisle.orchestrator.authority import category_owners
from nodeisle.orchestrator.workers import WorkerProcess, WorkerProvision
from nodeisle.requests import (
    DeleteSecretValueRequest,
    GetConfigValueRequest,
    GetConfigValueResult,
    GetSecretValueRequest,
    GetSecretValueResult,
    RefreshSecretsRequest,
    ReloadConfigRequest,
    Request,
    ResetConfigRequest,
    Result,
    SetConfigValueRequest,
    SetSecretValueRequest,
)

LOGGER = logging.getLogger("nodeisle.propagation")
_CONNECT_POLL = 0.02

#: The registered libraries and their live worker, if any (the engine supplies this).
LibraryWorkers = Callable[[], Iterable[tuple[LibraryManifest, WorkerProcess | None]]]


class Change(enum.StrEnum):
    CONFIG = "config"
    SECRETS = "secrets"


@dataclass(frozen=True)
class BroadcastReport:
    """Which workers acknowledged a broadcast, and what went wrong with the others (no values)."""

    acknowledged: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.acknowledged and not self.problems:
            return "no workers running"
        text = f"{len(self.acknowledged)} worker(s) acknowledged"
        return text + (f"; {'; '.join(self.problems)}" if self.problems else "")


class ConfigAndSecrets:
    """The orchestrator's config and secrets service. One per orchestrator; no global instance."""

    def __init__(self, config: ConfigStore, secrets: SecretsStore, libraries: LibraryWorkers) -> None:
        self.config = config
        self.secrets = secrets
        self._libraries = libraries
        self._changes = asyncio.Lock()  # one change and its broadcast at a time
        # (what, library, name) already warned of: a settings category or a secrets_to_register name not used
        self._unusable_reported: set[tuple[str, str, str]] = set()

    def __repr__(self) -> str:
        return f"ConfigAndSecrets(config={self.config!r}, secrets={self.secrets!r})"

    def sync_handlers(self) -> Mapping[type[Request], Callable[[Any], Result]]:
        return {GetConfigValueRequest: self.get_config, GetSecretValueRequest: self.get_secret}

    def async_handlers(self) -> Mapping[type[Request], Callable[[Any], Awaitable[Result]]]:
        return {
            SetConfigValueRequest: self.set_config,
            ResetConfigRequest: self.reset_config,
            SetSecretValueRequest: self.set_secret,
            DeleteSecretValueRequest: self.delete_secret,
        }

    # -- config requests --------------------------------------------------------------------------
    def get_config(self, request: GetConfigValueRequest) -> GetConfigValueResult:
        try:
            entry = self.config.entry(request.key)
        except ConfigError as exc:
            raise RequestFailed(str(exc)) from None
        return GetConfigValueResult(value=entry.value, message=f"{request.key} = {entry.value!r} ({entry.source})")

    async def set_config(self, request: SetConfigValueRequest) -> Result:
        async with self._changes:
            try:
                value = await asyncio.to_thread(self.config.set, request.key, request.value)
            except ConfigError as exc:
                raise RequestFailed(str(exc)) from None
            report = await self.broadcast(Change.CONFIG)
        message = f"config {request.key!r} set to {value!r} in {self.config.path}"
        shadow = self.config.shadowed_by(request.key)
        if shadow is not None:
            setting = SETTINGS_BY_KEY[request.key]
            where = setting.env if shadow is Source.ENVIRONMENT else f"the flag -c {request.key}=..."
            message += f", but {where} ({shadow}) still decides its effective value"
        return Result(message=f"{message}; {report.summary()}")

    async def reset_config(self, request: ResetConfigRequest) -> Result:
        async with self._changes:
            try:
                removed = await asyncio.to_thread(self.config.reset, request.key)
            except ConfigError as exc:
                raise RequestFailed(str(exc)) from None
            if not removed:
                what = f"{request.key!r} is" if request.key else "no keys are"
                return Result(message=f"{what} not set in {self.config.path}; nothing to reset")
            report = await self.broadcast(Change.CONFIG)
        return Result(message=f"reset {', '.join(removed)} in {self.config.path}; {report.summary()}")

    # -- secret requests (messages name keys, never values) ----------------------------------------
    def get_secret(self, request: GetSecretValueRequest) -> GetSecretValueResult:
        try:
            check_name(request.key)
            value = self.secrets.get(request.key)
        except SecretsError as exc:
            return GetSecretValueResult.failure(str(exc))
        if value is None:
            return GetSecretValueResult(message=f"no secret named {request.key!r} is set")
        return GetSecretValueResult(value=value)

    async def set_secret(self, request: SetSecretValueRequest) -> Result:
        async with self._changes:
            try:
                overrode = await asyncio.to_thread(self.secrets.set, request.key, request.value)
            except SecretsError as exc:
                raise RequestFailed(str(exc)) from None
            self.export()
            report = await self.broadcast(Change.SECRETS)
        note = "; it overrides the value the operator set in the environment" if overrode else ""
        return Result(message=f"secret {request.key!r} set in {self.secrets.path}{note}; {report.summary()}")

    async def delete_secret(self, request: DeleteSecretValueRequest) -> Result:
        async with self._changes:
            try:
                removed = await asyncio.to_thread(self.secrets.delete, request.key)
            except SecretsError as exc:
                raise RequestFailed(str(exc)) from None
            if not removed:
                raise RequestFailed(f"no secret named {request.key!r} in {self.secrets.path}; nothing to delete")
            self.export()
            report = await self.broadcast(Change.SECRETS)
        note = (
            "; the operator's environment variable of that name stays in force"
            if self.secrets.is_operator_set(request.key)
            else ""
        )
        return Result(message=f"secret {request.key!r} deleted from {self.secrets.path}{note}; {report.summary()}")

    # -- workers ----------------------------------------------------------------------------------
    def secret_names(self) -> frozenset[str]:
        """The names that are secrets now: in ``.env`` (now or earlier in this process), or declared by a library
        (``required_secrets``, or registered by its manifest's ``settings``: ``secrets_to_register``)."""
        declared = [k for m, _ in self._libraries()
                    for k in (*(m.declarations.required_secrets or ()), *self._registrable(m))]
        return self.secrets.secret_names(declared)

    def library_categories(self, library: str) -> tuple[str, ...]:
        """The ``settings`` categories ``library`` owns: its config namespaces besides its name (authority)."""
        owners = category_owners([(m.name, m.config_categories) for m, _ in self._libraries()])
        return tuple(category for category, owner in owners.items() if owner == library)

    def refresh_library_defaults(self) -> None:
        """Each registered library's ``settings`` defaults, only inside the categories it owns: a manifest
        cannot plant a default in another library's namespace. A category it may not have is warned once."""
        owners = category_owners([(m.name, m.config_categories) for m, _ in self._libraries()])
        for manifest, _ in self._libraries():
            defaults = {}
            for key, value in manifest.config_defaults.items():
                category = key.removeprefix("libraries.").rpartition(".")[0]
                if owners.get(category) == manifest.name:
                    defaults[key] = value
                elif ("category", manifest.name, category) not in self._unusable_reported:
                    self._unusable_reported.add(("category", manifest.name, category))
                    LOGGER.warning("library %r: its settings category %r is %s; its defaults there are not used",
                                   manifest.name, category, f"library {owners[category]!r}'s" if category in owners
                                   else "another library's name")
            self.config.set_library_defaults(manifest.name, defaults)

    def _registrable(self, manifest: LibraryManifest) -> list[str]:
        """Its ``secrets_to_register`` that may be secrets; one named like a process control is skipped, warned once."""
        names = []
        for name in manifest.registered_secrets:
            try:
                check_name(name)
            except SecretsError as exc:
                if ("secret", manifest.name, name) not in self._unusable_reported:
                    self._unusable_reported.add(("secret", manifest.name, name))
                    LOGGER.warning("library %r: its settings register secret %r, which is not used: %s",
                                   manifest.name, name, exc)
                continue
            names.append(name)
        return names

    def provision(self, manifest: LibraryManifest) -> WorkerProvision:
        """What ``manifest``'s worker gets at start: the current config and the secrets it may see."""
        try:
            common: dict[str, Any] = {
                "config_path": str(self.config.path),
                "config_defaults": self.config.defaults(),
                "config_overrides": self.config.overrides(),
            }
            # Secret values travel in the launch line only (stdin, read once the guard is sealed), never
            # in the environment the process is started with, which /proc shows to the same user.
            required = manifest.declarations.required_secrets
            if required is not None:
                views = ViewsLaunch(**common, granted=self.secrets.values_for(required))
                return WorkerProvision(launch={"views": views.to_dict()})
            names = self.secret_names()
            operator = self.secrets.operator_values(names)
            views = ViewsLaunch(**common, secrets_path=str(self.secrets.path), operator_keys=tuple(sorted(operator)),
                                operator_values=operator)
            return WorkerProvision(launch={"views": views.to_dict()})
        except (SecretsError, ConfigError) as exc:
            raise LibraryError(manifest.name, f"cannot start its worker: {exc}") from None

    def refresh_request(self, manifest: LibraryManifest) -> RefreshSecretsRequest:
        """The secrets refresh for ``manifest``'s worker (see nodeisle.config.views)."""
        required = manifest.declarations.required_secrets
        if required is not None:
            return RefreshSecretsRequest(values=self.secrets.values_for(required))
        return RefreshSecretsRequest(values=self.secrets.operator_values(self.secret_names()))

    def setting(self, key: str) -> Any:
        """The effective value of a typed setting now; its default (and a WARNING) if the file is unreadable."""
        try:
            return self.config.get(key)
        except ConfigError as exc:
            LOGGER.warning("using the default of %s: %s", key, exc)
            return SETTINGS_BY_KEY[key].default

    def _timeout(self) -> float:
        return float(self.setting("broadcast_timeout"))

    async def broadcast(self, change: Change) -> BroadcastReport:
        """Tell every live worker about ``change`` and wait for the acknowledgements (bounded)."""
        timeout = self._timeout()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        targets = [(m, w) for m, w in self._libraries() if w is not None and w.alive]

        async def notify(manifest: LibraryManifest, worker: WorkerProcess) -> None:
            request: Request = ReloadConfigRequest() if change is Change.CONFIG else self.refresh_request(manifest)
            while worker.peer is None and worker.alive and loop.time() < deadline:  # still starting
                await asyncio.sleep(_CONNECT_POLL)
            await asyncio.wait_for(worker.request(type(request).__name__, request), max(deadline - loop.time(), 0))

        outcomes = await asyncio.gather(*(notify(m, w) for m, w in targets), return_exceptions=True)
        report = BroadcastReport()
        for (manifest, worker), outcome in zip(targets, outcomes, strict=True):
            who = f"{worker.prefix} [{manifest.name}]"
            if outcome is None:
                report.acknowledged.append(who)
                continue
            if isinstance(outcome, TimeoutError):
                problem = f"{who} did not acknowledge within {timeout:g} s"
            elif isinstance(outcome, RemoteFailure):
                problem = f"{who} failed to apply it ({outcome.type_name})"
            elif isinstance(outcome, BusError):
                problem = f"{who} could not be reached; it reads current values when it starts again"
            elif isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome
            else:
                problem = f"{who} failed: {type(outcome).__name__}"
            LOGGER.warning("%s broadcast: %s", change, problem)
            report.problems.append(problem)
        return report

    # -- the orchestrator's own environment (Shared libraries run in it) --------------------------
    def export(self) -> None:
        """Put the secrets in this process's environment, operator values first (seed behaviour)."""
        try:
            self.secrets.export(self.secret_names())
        except SecretsError as exc:
            LOGGER.warning("secrets not exported to the orchestrator's environment: %s", exc)

    def unexport(self) -> None:
        self.secrets.unexport()
