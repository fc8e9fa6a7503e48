"""What a library's requirements resolve to, with uv: the exact set an env holds, and what a Shared
library would add to (or change in) the orchestrator's own environment.

Two questions, two uv commands, both offline-capable like the env builds (``--find-links``,
``--offline``) and both cached on disk, so an unchanged manifest costs no resolver run:

- ``uv pip compile --generate-hashes``: the exact versions and hashes of a requirement list on one
  interpreter (the identity of an Isolated env, and what ``nodeisle envs lock`` writes);
- ``uv pip install --dry-run --python <orchestrator>``: against the orchestrator's installed set,
  which packages would be added (a Shared library's overlay) and which would be changed (a
  conflict). A dry run never modifies anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from nodeisle.orchestrator.interpreters import local_identity
from nodeisle.orchestrator.plan import Change, SharedFit

__all__ = [
    "LOCK_NAME", "OVERLAY_MARKER", "Pin", "Resolution", "ResolveFailed", "Resolver", "engine_packages",
    "engine_version", "read_lock",
]

#: The lock ``nodeisle envs lock`` writes beside a library's manifest; an env built from it never resolves.
LOCK_NAME = "nodeisle.lock"
#: The file that makes a folder a Shared library's overlay (overlays.py); it is never the engine's environment.
OVERLAY_MARKER = "nodeisle-overlay.json"
_FORMAT = 1
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>\S+?)\s*(?:\\)?$")
_HASH = re.compile(r"--hash=(\S+)")
_log = logging.getLogger("nodeisle.envs")
_CHANGE = re.compile(r"^\s*(?P<sign>[+-])\s+(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")


class ResolveFailed(Exception):
    """The resolver could not produce a set; ``str()`` is uv's reason (its error and cause lines)."""


@dataclass(frozen=True)
class Pin:
    """One resolved distribution: exact version, the hashes of its files, and who asked for it."""

    name: str  # canonical (PEP 503)
    version: str
    hashes: tuple[str, ...] = ()
    via: tuple[str, ...] = ()  # the packages that require it; empty for a direct requirement

    def line(self) -> str:
        return " ".join([f"{self.name}=={self.version}", *(f"--hash={h}" for h in self.hashes)])


@dataclass(frozen=True)
class Resolution:
    """A resolved set. ``digest`` is its identity: the same versions and hashes, the same digest."""

    pins: tuple[Pin, ...]
    source: str  # "uv pip compile", "cache", or the lock file's path
    resolved_at: float = 0.0

    @property
    def digest(self) -> str:
        return hashlib.sha256("\n".join(sorted(p.line() for p in self.pins)).encode()).hexdigest()

    def versions(self) -> dict[str, str]:
        return {p.name: p.version for p in self.pins}

    def via(self) -> dict[str, str]:
        return {p.name: ", ".join(p.via) for p in self.pins if p.via}

    def to_json(self) -> dict[str, Any]:
        return {"pins": [{"name": p.name, "version": p.version, "hashes": list(p.hashes), "via": list(p.via)}
                         for p in self.pins], "resolved_at": self.resolved_at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str) -> Resolution:
        pins = tuple(Pin(str(p["name"]), str(p["version"]), tuple(p.get("hashes", ())), tuple(p.get("via", ())))
                     for p in data["pins"])
        return cls(pins, source, float(data.get("resolved_at", 0.0)))


def parse_compiled(text: str) -> tuple[Pin, ...]:
    """The pins of ``uv pip compile`` output (``name==version \\``, ``--hash=`` lines, ``# via`` comments)."""
    pins: list[dict[str, Any]] = []
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        match = _PIN.match(raw)
        if match:
            pins.append({"name": canonicalize_name(match["name"]), "version": match["version"], "hashes": [],
                         "via": []})
            in_via = False
        elif pins and line.startswith("--hash="):
            pins[-1]["hashes"] += _HASH.findall(line)
        elif pins and line.startswith("# via"):
            rest = line.removeprefix("# via").strip()
            in_via = not rest
            pins[-1]["via"] += [rest] if rest else []
        elif pins and in_via and line.startswith("#"):
            pins[-1]["via"].append(line.lstrip("#").strip())
    return tuple(Pin(p["name"], p["version"], tuple(p["hashes"]), tuple(v for v in p["via"] if not v.startswith("-r")))
                 for p in pins)


def read_lock(path: Path) -> Resolution:
    """A lock written by ``nodeisle envs lock`` (requirements format with hashes); no resolver runs."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ResolveFailed(f"cannot read the lock {path}: {exc.strerror or exc}") from None
    pins = parse_compiled(text)
    if not pins and any(ln.strip() and not ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise ResolveFailed(f"the lock {path} holds no 'name==version' lines; write it again with "
                            "`nodeisle envs lock NAME`, or delete it")
    return Resolution(pins, str(path))


def engine_path() -> list[str]:
    """``sys.path`` without the Shared libraries' overlays (folders holding an overlay marker)."""
    return [p for p in sys.path if not (Path(p or ".") / OVERLAY_MARKER).is_file()]


def engine_version(name: str) -> str | None:
    """The version of ``name`` the orchestrator's own environment has installed, or None."""
    for dist in importlib.metadata.distributions(name=name, path=engine_path()):
        return dist.version
    return None


def engine_packages() -> dict[str, str]:
    """The distributions the orchestrator's own environment has installed (canonical name -> version).

    The first one found on ``sys.path`` wins, as it does for ``import``; overlays are not the engine's.
    """
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions(path=engine_path()):
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def _key(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _reason(output: str) -> str:
    """uv's explanation: its error and cause lines (with their continuations), else its last lines."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    marks = ("error", "\N{MULTIPLICATION SIGN}")
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith(marks)), None)
    chosen = lines[start:] if start is not None else lines[-5:]
    return "\n".join(chosen[:12]) or "uv failed without a message"


@dataclass
class Resolver:
    """Runs uv's resolver for the envs and the overlays, and caches what it says under ``store``.

    ``uv`` finds the uv binary; ``child_env`` is the minimal environment uv runs with (envs.py's).
    """

    uv: Callable[[], str]
    child_env: Callable[[], dict[str, str]]
    store: Path
    cache_dir: Path
    find_links: Sequence[str] = ()
    offline: bool = False
    runs: list[str] = field(default_factory=list)  # the uv commands run by this resolver (tests count them)

    def _sources(self, flags: Sequence[str]) -> list[str]:
        args = [*flags, "--cache-dir", str(self.cache_dir)]
        for link in self.find_links:
            args += ["--find-links", link]
        return [*args, "--offline"] if self.offline else args

    def _uv(self, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        self.runs.append(args[1] if args[0] == "pip" else args[0])
        _log.info("resolver: uv %s", " ".join(a for a in args if not a.startswith("/"))[:300])
        return subprocess.run([self.uv(), *args], capture_output=True, text=True, env=self.child_env(), cwd=cwd,
                              stdin=subprocess.DEVNULL, check=False)

    def _cache_file(self, requirements: Sequence[str], flags: Sequence[str], identity: Mapping[str, str]) -> Path:
        key = _key({"format": _FORMAT, "requirements": list(requirements), "flags": list(flags),
                    "find_links": list(self.find_links), "python": {k: v for k, v in identity.items()
                                                                      if k != "executable"}})
        return self.store / f"compile-{key[:32]}.json"

    def cached(
        self, requirements: Sequence[str], flags: Sequence[str], identity: Mapping[str, str]
    ) -> Resolution | None:
        """The stored resolution of these inputs, or None."""
        try:
            return Resolution.from_json(json.loads(self._cache_file(requirements, flags, identity).read_text()),
                                        "cache")
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def compile(
        self, requirements: Sequence[str], flags: Sequence[str], python: str, identity: Mapping[str, str], *,
        fresh: bool = False, keep: bool = True,
    ) -> Resolution:
        """The exact set ``requirements`` resolve to on ``python``; from the cache unless ``fresh``.

        The cache key is everything that decides the answer (requirements, flags, find-links, the
        interpreter's identity); a fresh answer replaces the cached one unless ``keep`` is False.
        """
        cached = self._cache_file(requirements, flags, identity)
        if not fresh:
            found = self.cached(requirements, flags, identity)
            if found is not None:
                return found
        self.store.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.store) as tmp:
            infile = Path(tmp) / "requirements.in"
            infile.write_text("".join(f"{r}\n" for r in requirements))
            done = self._uv(["pip", "compile", str(infile), "--generate-hashes", "--no-header", "--python", python,
                             *self._sources(flags)], Path(tmp))
        if done.returncode != 0:
            raise ResolveFailed(_reason(done.stderr + done.stdout))
        resolution = Resolution(parse_compiled(done.stdout), "uv pip compile", time.time())
        if keep:
            _write_atomic(cached, resolution.to_json())
        return resolution

    def fit(self, requirements: Sequence[str], flags: Sequence[str], engine: Mapping[str, str]) -> SharedFit:
        """What installing ``requirements`` into the orchestrator's environment would add and change.

        Cached by the requirements, flags, find-links and the installed set (``engine``): installing
        or upgrading anything in the orchestrator's environment asks again.
        """
        if not requirements:
            return SharedFit({}, ())
        key = _key({"format": _FORMAT, "requirements": list(requirements), "flags": list(flags),
                    "find_links": list(self.find_links), "engine": dict(engine), "python": sys.executable})
        cached = self.store / f"fit-{key[:32]}.json"
        try:
            data = json.loads(cached.read_text())
            return SharedFit(dict(data["installs"]), tuple(Change(*c) for c in data["changes"]), None,
                             dict(data.get("via", {})))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        self.store.mkdir(parents=True, exist_ok=True)
        done = self._uv(["pip", "install", "--dry-run", "--python", sys.executable, *requirements,
                         *self._sources(flags)], self.store)
        if done.returncode != 0:
            return SharedFit({}, (), _reason(done.stderr + done.stdout))  # not cached: a wheel may be added
        added: dict[str, str] = {}
        removed: dict[str, str] = {}
        for line in (done.stderr + done.stdout).splitlines():
            match = _CHANGE.match(line)
            if match:
                (added if match["sign"] == "+" else removed)[canonicalize_name(match["name"])] = match["version"]
        changes = tuple(Change(name, old, added.get(name, "(removed)")) for name, old in sorted(removed.items()))
        via: dict[str, str] = {}
        if added:  # who pulls in what, so a conflict can say "(through planneeds)"
            with contextlib.suppress(ResolveFailed):
                via = self.compile(requirements, flags, sys.executable, local_identity()).via()
        fit = SharedFit({n: v for n, v in sorted(added.items()) if n not in removed}, changes, None, via)
        _write_atomic(cached, {"installs": fit.installs, "changes": [[c.package, c.installed, c.wanted]
                                                                     for c in fit.changes], "via": via})
        return fit

    def install_overlay(self, target: Path, installs: Mapping[str, str], flags: Sequence[str]) -> None:
        """Install exactly ``installs`` (no dependencies: the dry run found the closure) into ``target``."""
        pins = [f"{name}=={version}" for name, version in sorted(installs.items())]
        done = self._uv(["pip", "install", "--no-deps", "--target", str(target), "--python", sys.executable, *pins,
                         *self._sources(flags)], self.store)
        if done.returncode != 0:
            raise ResolveFailed(_reason(done.stderr + done.stdout))


def _write_atomic(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)
