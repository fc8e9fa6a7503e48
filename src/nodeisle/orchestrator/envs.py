"""Per-library virtualenvs for isolated node libraries, built with uv.

An env is keyed by what it holds: the exact set its requirements resolve to (versions and hashes,
from ``uv pip compile`` through ``resolver.py``, cached, or from the library's ``nodeisle.lock``),
the install flags and the interpreter (by its version, ABI, platform and real base prefix, not by
the symlink that started it). It lives in ``root / f"env-{key[:16]}"``, shared by every library
that resolves to the same set; its marker lists them. A marker file,
written atomically and last, makes a directory a valid env; without it the directory is debris.
Builds of one env are serialised across threads and processes by ``fcntl.flock`` on
``root / f"{dirname}.lock"``. The nodeisle worker runtime is copied into ``<env>/runtime`` (a
symlink swapped atomically) and put on ``sys.path`` by a ``.pth`` file, so a change of nodeisle's
own code refreshes that copy without re-running the installer. POSIX only (``fcntl``, ``bin/``).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from nodeisle.errors import EnvironmentBuildError, LibraryError
from nodeisle.orchestrator.envfiles import MARKER_NAME, clean_temp, locked, write_json_atomic
from nodeisle.orchestrator.interpreters import IDENTITY_PROBE, local_identity
from nodeisle.orchestrator.resolver import Resolution, ResolveFailed, Resolver, read_lock
from nodeisle.orchestrator.runtime_copy import RUNTIME_PARTS, install_runtime, read_stamp, runtime_digest, runtime_files

__all__ = ["MARKER_NAME", "RUNTIME_PARTS", "EnvInfo", "EnvManager", "EnvProgress", "EnvStep", "slug"]

_FORMAT = 2  # 2: keyed by the resolved set
_TAIL_LINES = 20
# Variables a child uv may see; nothing else of the orchestrator's environment is passed on.
_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")
_BASICS = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR")
_PASSTHROUGH = (*_BASICS, *_PROXIES, *(name.lower() for name in _PROXIES))
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_log = logging.getLogger("nodeisle.envs")

EnvStep = Literal["reuse", "create", "install", "runtime", "done", "failed"]


def slug(library: str) -> str:
    """A filesystem-safe, lower-case form of a library name (at most 40 characters)."""
    return re.sub(r"[^a-z0-9]+", "-", library.lower()).strip("-")[:40].rstrip("-") or "library"


@dataclass(frozen=True)
class EnvProgress:
    """One step of ``EnvManager.ensure``; ``elapsed_s`` counts from the start of the call."""

    library: str
    step: EnvStep
    elapsed_s: float
    detail: str = ""


@dataclass(frozen=True)
class EnvInfo:
    """A valid env. ``python`` is ``<env>/bin/python``, absolute but not resolved through symlinks."""

    library: str
    key: str
    path: Path
    python: Path
    reused: bool
    log_path: Path
    created_at: float
    pip_dependencies: tuple[str, ...]
    pip_install_flags: tuple[str, ...]
    libraries: tuple[str, ...] = ()  # every library that has used this env
    resolved: tuple[str, ...] = ()  # the exact set it holds: "name==version --hash=..." lines
    source: str = ""  # where that set came from: "uv pip compile", "cache", or a lock file


def _redact(text: str) -> str:
    return _CREDENTIALS.sub("***@", text)


def _read_marker(env: Path, key: str | None = None) -> dict[str, Any] | None:
    """The marker of a valid env (matching ``key`` when given), else None."""
    try:
        marker = json.loads((env / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("format") != _FORMAT:
        return None
    found = marker.get("key")
    if not isinstance(found, str) or (key is not None and found != key):
        return None
    if not env.name.endswith(found[:16]) or not (env / "bin" / "python").exists():
        return None  # renamed, or its base interpreter is gone
    return marker


@dataclass
class _Job:
    """One ensure/rebuild call: whom it is for, where its log goes, whom to tell about progress."""

    library: str
    log_path: Path
    progress: Callable[[EnvProgress], None] | None
    start: float = field(default_factory=time.monotonic)

    def emit(self, step: EnvStep, detail: str = "") -> None:
        elapsed = time.monotonic() - self.start
        level = logging.DEBUG if step == "reuse" else logging.INFO
        _log.log(level, "env of %s: %s %s (%.0f ms)", self.library, step, detail, elapsed * 1000)
        if self.progress is not None:
            self.progress(EnvProgress(self.library, step, elapsed, detail))

    def error(self, message: str, output: str = "") -> EnvironmentBuildError:
        return EnvironmentBuildError(self.library, message, str(self.log_path), output)


def child_env() -> dict[str, str]:
    """The environment uv runs with: the basics and proxies, nothing else of the orchestrator's."""
    env = {k: os.environ[k] for k in _PASSTHROUGH if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(UV_NO_PROGRESS="1", NO_COLOR="1")
    return env


def _keyed(identity: dict[str, str], resolution: Resolution, flags: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """An env's key and the inputs it hashes: the interpreter (not which symlink started it), the set, the flags."""
    inputs = {
        "format": _FORMAT,
        "python": {k: v for k, v in identity.items() if k != "executable"},
        "resolved": sorted(p.line() for p in resolution.pins),
        "pip_install_flags": list(flags),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest(), inputs


class EnvManager:
    """Builds, reuses and prunes the per-library virtualenvs under ``root``."""

    def __init__(
        self,
        root: Path,
        *,
        uv_bin: str | None = None,
        cache_dir: Path | None = None,
        find_links: Sequence[str] = (),
        offline: bool = False,
        python: str | None = None,
        progress: Callable[[EnvProgress], None] | None = None,
    ) -> None:
        self.root = Path(root).absolute()
        self.cache_dir = Path(cache_dir).absolute() if cache_dir else self.root.parent / "uv-cache"
        self.logs_dir = self.root.parent / "logs" / "envs"
        # uv runs with cwd=root, so local find-links must be absolute.
        self.find_links = tuple(x if "://" in x else str(Path(x).absolute()) for x in map(str, find_links))
        self.offline = offline
        self._python = python
        self._uv_bin = uv_bin
        self._progress = progress
        self._identities: dict[str, dict[str, str]] = {}  # by the interpreter asked for
        self.resolver = Resolver(lambda: self._uv(_Job("uv", self.logs_dir / "uv.log", None)), child_env,
                                 self.root.parent / "resolutions", self.cache_dir, self.find_links, offline)

    # -- public API ---------------------------------------------------------------------------

    def ensure(
        self,
        library: str,
        pip_dependencies: Sequence[str],
        pip_install_flags: Sequence[str],
        runtime_requirements: Sequence[str],
        runtime_source: Path,
        *,
        python: str | None = None,
        lock: Path | None = None,
    ) -> EnvInfo:
        """A valid env for these inputs on ``python`` (a path or a uv request; None: the manager's), built once.

        ``lock``: a ``nodeisle.lock`` file; when it exists the env holds exactly its set and no resolver runs.
        """
        return self._ensure(
            library, pip_dependencies, pip_install_flags, runtime_requirements, runtime_source, force=False,
            target=(python, lock),
        )

    def rebuild(
        self,
        library: str,
        pip_dependencies: Sequence[str],
        pip_install_flags: Sequence[str],
        runtime_requirements: Sequence[str],
        runtime_source: Path,
        *,
        python: str | None = None,
        lock: Path | None = None,
    ) -> EnvInfo:
        """Resolve again (unless locked), delete the env the inputs map to (if any) and build it again."""
        return self._ensure(
            library, pip_dependencies, pip_install_flags, runtime_requirements, runtime_source, force=True,
            target=(python, lock),
        )

    def resolve(
        self, library: str, requirements: Sequence[str], flags: Sequence[str], *, python: str | None = None,
        lock: Path | None = None, fresh: bool = False, keep: bool = True,
    ) -> Resolution:
        """The set ``requirements`` resolve to on ``python`` (a lock's, if ``lock`` exists); ``fresh``: ask uv even if
        cached; ``keep=False``: do not store the answer."""
        job = _Job(library, self.logs_dir / f"{slug(library)}.log", self._progress)
        return self._resolve(job, requirements, flags, self.identity(python), lock, (fresh, keep))

    def key_for(
        self, requirements: Sequence[str], flags: Sequence[str], *, python: str | None = None, lock: Path | None = None
    ) -> str | None:
        """The key of the env these inputs map to now, from the lock or the cached resolution (None: not resolved)."""
        identity = self.identity(python)
        resolution = read_lock(lock) if lock is not None and lock.is_file() else (
            self.resolver.cached(requirements, flags, identity) if requirements else Resolution((), ""))
        return None if resolution is None else _keyed(identity, resolution, flags)[0]

    def identity(self, python: str | None = None) -> dict[str, str]:
        """The identity of the interpreter ``python`` names (None: the manager's), probed once."""
        return self._python_identity(_Job("python", self.logs_dir / "python.log", None), python or self._python)

    def list(self) -> builtins.list[EnvInfo]:
        """The valid envs under ``root``, read from their markers (``reused`` is True)."""
        if not self.root.is_dir():
            return []
        found = []
        for env in sorted(p for p in self.root.iterdir() if p.is_dir()):
            marker = _read_marker(env)
            if marker is not None:
                found.append(self._info(env, marker, reused=True))
        return found

    def prune(self, keep: Iterable[str] = ()) -> builtins.list[Path]:
        """Remove envs whose key is not in ``keep``, half-built dirs and stale lock/temp files.

        Anything locked by a build in progress is left alone. Returns the removed paths.
        """
        keep_keys = set(keep)
        removed: builtins.list[Path] = []
        if not self.root.is_dir():
            return removed
        for entry in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink()):
            lock = self.root / f"{entry.name}.lock"
            with locked(lock, blocking=False) as held:
                if not held:
                    continue
                marker = _read_marker(entry)
                if marker is not None and marker["key"] in keep_keys:
                    removed += clean_temp(entry)
                    continue
                shutil.rmtree(entry, ignore_errors=True)
                lock.unlink(missing_ok=True)
                removed += [entry, lock]
        for lock in sorted(self.root.glob("*.lock")):
            with locked(lock, blocking=False) as held:
                if held and not lock.with_suffix("").exists():
                    lock.unlink(missing_ok=True)
                    removed.append(lock)
        for path in removed:
            _log.info("pruned %s", path)
        return removed

    # -- internals ----------------------------------------------------------------------------

    def _ensure(
        self,
        library: str,
        pins: Sequence[str],
        flags: Sequence[str],
        requirements: Sequence[str],
        runtime_source: Path,
        *,
        force: bool,
        target: tuple[str | None, Path | None],  # the interpreter asked for, and the library's lock file
    ) -> EnvInfo:
        python, lock = target
        job = _Job(library, self.logs_dir / f"{slug(library)}.log", self._progress)
        for spec in (*pins, *requirements):
            if spec.startswith("-"):
                raise LibraryError(
                    library,
                    f"pip dependency {spec!r} looks like an installer flag; put flags in pip_install_flags",
                )
        source = Path(runtime_source)
        if not source.is_dir():
            raise LibraryError(
                library,
                f"worker runtime source {source} is not a directory; pass the path of the nodeisle package",
            )
        identity = self._python_identity(job, python or self._python)
        resolution = self._resolve(job, [*pins, *requirements], flags, identity, lock, force)
        key, inputs = _keyed(identity, resolution, flags)
        inputs.update(pip_dependencies=list(pins), runtime_requirements=list(requirements), source=resolution.source)
        env = self.root / f"env-{key[:16]}"
        runtime = runtime_files(source)
        digest = runtime_digest(runtime)

        # Fast path without the lock: the marker is written last and atomically.
        marker = None if force else _read_marker(env, key)
        if marker is not None and read_stamp(env) == digest and library in marker.get("libraries", ()):
            job.emit("reuse", str(env))
            return self._info(env, marker, reused=True)

        self.root.mkdir(parents=True, exist_ok=True)
        with locked(self.root / f"{env.name}.lock"):
            marker = None if force else _read_marker(env, key)
            if marker is not None:  # built meanwhile, runtime changed, or a new library resolving to the same set
                job.emit("reuse", str(env))
                if library not in marker.get("libraries", ()):
                    marker["libraries"] = [*marker.get("libraries", ()), library]
                    write_json_atomic(env / MARKER_NAME, marker)
                if read_stamp(env) != digest:
                    job.emit("runtime", f"refreshing the worker runtime ({len(runtime)} files)")
                    install_runtime(env, runtime, digest)
                    job.emit("done", str(env))
                return self._info(env, marker, reused=True)
            try:
                marker = self._build(job, env, key, inputs, runtime, digest, identity["executable"])
            except BaseException as exc:
                shutil.rmtree(env, ignore_errors=True)
                job.emit("failed", _redact(str(exc)))
                raise
            job.emit("done", str(env))
            return self._info(env, marker, reused=False)

    def _build(
        self,
        job: _Job,
        env: Path,
        key: str,
        inputs: dict[str, Any],
        runtime: dict[str, bytes],
        digest: str,
        base_python: str,
    ) -> dict[str, Any]:
        """Build ``env`` from scratch and return its marker; the caller holds the lock and cleans up."""
        shutil.rmtree(env, ignore_errors=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        cache = ["--cache-dir", str(self.cache_dir)]
        with job.log_path.open("a", encoding="utf-8") as log:
            log.write(f"\n===== {time.strftime('%Y-%m-%dT%H:%M:%S%z')} {job.library!r} key={key} {env}\n")
            job.emit("create", base_python)
            self._run_uv(job, log, ["venv", "--python", base_python, *cache, str(env)])
            if inputs["resolved"]:  # exactly the resolved set: the resolver already ran (or a lock decided)
                job.emit("install", _redact(" ".join(inputs["pip_dependencies"] + inputs["runtime_requirements"])))
                listed = env / "nodeisle-requirements.txt"
                listed.write_text("".join(f"{line}\n" for line in inputs["resolved"]))
                flags = inputs["pip_install_flags"]
                args = ["pip", "install", "--python", str(env / "bin" / "python"), "-r", str(listed)]
                args += [*flags, *([] if "--no-deps" in flags else ["--no-deps"]), *cache]
                for link in self.find_links:
                    args += ["--find-links", link]
                self._run_uv(job, log, [*args, "--offline"] if self.offline else args)
        job.emit("runtime", f"{len(runtime)} files")
        install_runtime(env, runtime, digest)
        site_packages = sorted(env.glob("lib/python*/site-packages"))
        if len(site_packages) != 1:
            raise job.error(f"cannot find the site-packages directory of {env}")
        (site_packages[0] / "_nodeisle_runtime.pth").write_text(f"{env / 'runtime'}\n")
        marker = {
            "format": _FORMAT,
            "key": key,
            "library": job.library,
            "libraries": [job.library],
            "inputs": inputs,
            "created_at": time.time(),
            "python": str(env / "bin" / "python"),
            "base_python": base_python,
        }
        write_json_atomic(env / MARKER_NAME, marker)  # last: from here on the env is valid
        return marker

    def _info(self, env: Path, marker: dict[str, Any], *, reused: bool) -> EnvInfo:
        inputs = marker.get("inputs", {})
        library = str(marker.get("library", env.name))
        return EnvInfo(
            library=library,
            key=str(marker["key"]),
            path=env,
            python=env / "bin" / "python",
            reused=reused,
            log_path=self.logs_dir / f"{slug(library)}.log",
            created_at=float(marker.get("created_at", 0.0)),
            pip_dependencies=tuple(inputs.get("pip_dependencies", ())),
            pip_install_flags=tuple(inputs.get("pip_install_flags", ())),
            libraries=tuple(marker.get("libraries", (library,))),
            resolved=tuple(inputs.get("resolved", ())),
            source=str(inputs.get("source", "")),
        )

    def _resolve(
        self, job: _Job, requirements: Sequence[str], flags: Sequence[str], identity: dict[str, str],
        lock: Path | None, fresh: bool | tuple[bool, bool],
    ) -> Resolution:
        """The lock's set if ``lock`` exists, else the resolution (cached unless ``fresh``); failures name uv's why."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            if lock is not None and lock.is_file():
                return read_lock(lock)
            if not requirements:
                return Resolution((), "nothing to resolve")
            again, keep = fresh if isinstance(fresh, tuple) else (fresh, True)
            return self.resolver.compile(requirements, flags, identity["executable"], identity, fresh=again, keep=keep)
        except ResolveFailed as exc:
            self.logs_dir.mkdir(parents=True, exist_ok=True)
            with job.log_path.open("a", encoding="utf-8") as log:
                log.write(f"\n===== {time.strftime('%Y-%m-%dT%H:%M:%S%z')} {job.library!r}: resolving failed\n"
                          f"{_redact(str(exc))}\n")
            error = job.error(f"`uv pip compile` failed to resolve its requirements:\n{_redact(str(exc))}\n"
                              f"requirements: {_redact(' '.join(requirements))}", str(exc))
            job.emit("failed", str(error))  # its first line: the whole of uv's reason is the library's error
            raise error from None

    def _python_identity(self, job: _Job, python: str | None) -> dict[str, str]:
        """Implementation, version, ABI, platform, real base prefix and path of an interpreter (cached)."""
        if python is None:
            return local_identity()
        if python not in self._identities:
            exe = python
            if not Path(exe).is_file():  # a request such as "3.12": let uv pick the interpreter
                find = [self._uv(job), "python", "find", "--cache-dir", str(self.cache_dir), exe]
                exe = self._capture(job, find, python)
            self._identities[python] = json.loads(self._capture(job, [exe, "-c", IDENTITY_PROBE], python))
        return self._identities[python]

    def _uv(self, job: _Job) -> str:
        if self._uv_bin is None:
            try:
                import uv

                self._uv_bin = uv.find_uv_bin()
            except (ImportError, FileNotFoundError):
                self._uv_bin = shutil.which("uv")
                if self._uv_bin is None:
                    raise job.error(
                        "the uv installer is not available; install it with "
                        "`pip install uv` or pass EnvManager(uv_bin=...)"
                    ) from None
        return self._uv_bin

    def _capture(self, job: _Job, cmd: builtins.list[str], python: str) -> str:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=child_env(), stdin=subprocess.DEVNULL, check=False
        )
        if proc.returncode != 0:
            output = proc.stderr.strip()
            self.logs_dir.mkdir(parents=True, exist_ok=True)
            with job.log_path.open("a", encoding="utf-8") as log:
                log.write(f"$ {_redact(' '.join(cmd))}\n{output}\n[exit {proc.returncode}]\n")
            raise job.error(f"cannot use python {python!r}: `{' '.join(cmd)}` failed:\n{output}", output)
        return proc.stdout.strip()

    def _run_uv(self, job: _Job, log: TextIO, args: builtins.list[str]) -> None:
        """Run uv, streaming its output into ``log``; raise with its last lines if it fails."""
        cmd = [self._uv(job), *args]
        shown = _redact(" ".join(cmd))
        log.write(f"$ {shown}\n")
        log.flush()
        started = time.monotonic()
        output: builtins.list[str] = []
        try:
            with subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=child_env(),
                cwd=self.root,
                stdin=subprocess.DEVNULL,
            ) as proc:
                assert proc.stdout is not None
                for line in proc.stdout:
                    output.append(line)
                    log.write(line)
                    log.flush()
            returncode = proc.returncode
        except OSError as exc:
            output.append(f"{exc}\n")
            log.write(output[-1])
            returncode = -1
        log.write(f"[exit {returncode} after {time.monotonic() - started:.2f} s]\n")
        log.flush()
        if returncode != 0:
            text = _redact("".join(output))
            what = " ".join(args[:2] if args[0] == "pip" else args[:1])
            tail = "\n".join(deque((ln for ln in text.splitlines() if ln.strip()), maxlen=_TAIL_LINES))
            raise job.error(
                f"`uv {what}` failed with exit code {returncode}:\n{tail}\ncommand: {shown}",
                text,
            )
