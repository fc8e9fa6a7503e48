"""The I/O behind choosing a library's Python: its ``requires-python``, and the interpreters on this machine.

A library's requirement is ``[project].requires-python`` of its **nearest** ``pyproject.toml``: the
manifest's folder first, then its parents, the first file found decides (one without
``requires-python`` means no requirement). The walk stops after a folder that is a repository root
(it holds ``.git``), and never reads the user's home folder or above it (a ``pyproject.toml`` there
belongs to no library).

Interpreters are found on ``PATH`` (``python3`` and ``python3.N``; pyenv's shims folder is passed
over: its shims start slowly, and a shim of a version that is not active fails), in pyenv's versions
folder (``$PYENV_ROOT/versions/*/bin/python``, default ``~/.pyenv``) and among uv-managed Pythons
(``*/bin/python3`` in the folder ``uv python dir`` names). Each candidate is run once, in parallel,
to describe itself (``-I -S``); one that fails is passed over. What was found is kept for the
finder's life (one engine: an interpreter installed meanwhile is seen at the next start). The
decision among them is :mod:`nodeisle.orchestrator.pythons`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
import tomllib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nodeisle.errors import LibraryError
from nodeisle.manifest import LibraryManifest
from nodeisle.orchestrator.pythons import (
    Choice,
    Interpreter,
    NoInterpreter,
    PythonSetting,
    RequiresPython,
    choose,
    parse_python_setting,
    parse_requires_python,
)

__all__ = [
    "IDENTITY_PROBE",
    "PythonFinder",
    "local_identity",
    "nearest_pyproject",
    "orchestrator_interpreter",
    "probe",
    "read_requires_python",
]

_log = logging.getLogger("nodeisle.envs")
#: An interpreter's identity, which keys the envs built on it (envs.py): the same fields as
#: local_identity. Everything but "executable" is keyed: the path it was started by may be any symlink
#: to it (python, python3, /usr/bin/python3 or a link to it), so the key takes the real base prefix and
#: the full version string instead.
IDENTITY_PROBE = (
    "import json, os, sys, sysconfig; print(json.dumps({'implementation': sys.implementation.name, "
    "'version': sys.version, 'cache_tag': sys.implementation.cache_tag or '', "
    "'abiflags': getattr(sys, 'abiflags', ''), 'platform': sysconfig.get_platform(), "
    "'base_prefix': os.path.realpath(sys.base_prefix), 'executable': sys.executable}))"
)
_PROBE = (
    "import json, sys, sysconfig; v = sys.version_info; "
    "pre = {'alpha': 'a', 'beta': 'b', 'candidate': 'rc'}.get(v.releaselevel); "
    "print(json.dumps({'executable': sys.executable, 'implementation': sys.implementation.name, "
    "'version': '%d.%d.%d' % tuple(v[:3]) + (pre + str(v.serial) if pre else ''), "
    "'freethreaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}))"
)
_PROBE_TIMEOUT = 15.0
_ON_PATH = re.compile(r"python3(\.\d+)?")
# What a child uv or interpreter may see of the orchestrator's environment (where uv keeps its Pythons).
_PASSED = ("PATH", "HOME", "LANG", "TMPDIR", "XDG_DATA_HOME", "UV_PYTHON_INSTALL_DIR")


def nearest_pyproject(manifest_path: Path, home: Path | None = None) -> Path | None:
    """The ``pyproject.toml`` nearest to the manifest (the walk of the module docstring), or None."""
    home = (home or Path.home()).resolve()
    for folder in [manifest_path.resolve().parent, *manifest_path.resolve().parent.parents]:
        if folder == home or home in folder.parents:
            return None
        if (folder / "pyproject.toml").is_file():
            return folder / "pyproject.toml"
        if (folder / ".git").exists():
            return None
    return None


def read_requires_python(manifest_path: Path, home: Path | None = None) -> RequiresPython | None:
    """The library's requirement, or None; ValueError names the file and what is wrong with it."""
    file = nearest_pyproject(manifest_path, home)
    if file is None:
        return None
    try:
        data = tomllib.loads(file.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{file}: cannot read it to find the library's requires-python: {exc}") from None
    project = data.get("project")
    if not isinstance(project, dict) or "requires-python" not in project:
        return None
    return parse_requires_python(project["requires-python"], file)


def local_identity() -> dict[str, str]:
    """IDENTITY_PROBE's answer for the Python running this engine, without starting a process."""
    return {
        "implementation": sys.implementation.name,
        "version": sys.version,
        "cache_tag": sys.implementation.cache_tag or "",
        "abiflags": getattr(sys, "abiflags", ""),
        "platform": sysconfig.get_platform(),
        "base_prefix": os.path.realpath(sys.base_prefix),
        "executable": sys.executable,
    }


def orchestrator_interpreter() -> Interpreter:
    """The Python running this engine, described as a probe would describe it."""
    v = sys.version_info
    pre = {"alpha": "a", "beta": "b", "candidate": "rc"}.get(v.releaselevel)
    version = f"{v.major}.{v.minor}.{v.micro}" + (f"{pre}{v.serial}" if pre else "")
    freethreaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    return Interpreter(sys.executable, version, sys.implementation.name, "orchestrator", freethreaded)


def _environ() -> dict[str, str]:
    return {k: os.environ[k] for k in _PASSED if k in os.environ}


def probe(path: str, source: str) -> Interpreter:
    """Run ``path`` once to ask what it is; OSError or ValueError says why it cannot be used."""
    try:
        proc = subprocess.run(
            [path, "-I", "-S", "-c", _PROBE], capture_output=True, text=True, timeout=_PROBE_TIMEOUT,
            env=_environ(), stdin=subprocess.DEVNULL, check=False,
        )
    except subprocess.TimeoutExpired:
        raise ValueError(f"{path} did not answer within {_PROBE_TIMEOUT:g} s") from None
    if proc.returncode != 0:
        output = " ".join(proc.stderr.split())[:300]
        raise ValueError(f"`{path} -c ...` failed with exit code {proc.returncode}: {output}")
    try:
        data = json.loads(proc.stdout)
        return Interpreter(
            str(data["executable"]) or path, str(data["version"]), str(data["implementation"]), source,
            bool(data["freethreaded"]),
        )
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{path} is not a Python interpreter nodeisle can use: {proc.stdout[:200]!r}") from None


def _uv_python_dir(uv: str | None) -> Path | None:
    if uv is None:
        return None
    try:
        proc = subprocess.run(
            [uv, "python", "dir"], capture_output=True, text=True, timeout=_PROBE_TIMEOUT, env=_environ(),
            stdin=subprocess.DEVNULL, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


def candidates(environ: Mapping[str, str], uv_python_dir: Path | None) -> Iterator[tuple[str, str]]:
    """(source, path) of every interpreter worth probing, in the order of ``pythons.SOURCES``."""
    pyenv = Path(environ.get("PYENV_ROOT") or Path(environ.get("HOME", str(Path.home()))) / ".pyenv")
    for folder in environ.get("PATH", "").split(os.pathsep):
        if Path(folder or ".").absolute() == pyenv.absolute() / "shims":
            continue  # pyenv's shims start slowly and run whichever version is active; its versions come next
        try:
            names = sorted(os.listdir(folder or "."))
        except OSError:
            continue
        for name in names:
            if _ON_PATH.fullmatch(name) and os.access(os.path.join(folder, name), os.X_OK):
                yield "PATH", os.path.join(folder, name)
    for path in sorted(pyenv.glob("versions/*/bin/python")):
        yield "pyenv", str(path)
    for path in sorted(uv_python_dir.glob("*/bin/python3")) if uv_python_dir else ():
        yield "uv", str(path)


def _uv_bin() -> str | None:
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


class PythonFinder:
    """Finds the interpreters on this machine (once) and chooses one per library (pythons.choose)."""

    def __init__(self, *, uv_bin: str | None = None, home: Path | None = None) -> None:
        self._uv_bin = uv_bin
        self._home = home  # the user's home folder, where the pyproject walk stops
        self._found: list[Interpreter] | None = None
        self._lock = threading.Lock()

    def found(self) -> list[Interpreter]:
        """Every usable interpreter, each once (by real path), the orchestrator's own left out."""
        with self._lock:  # libraries load in threads: one search, and nobody sees half of it
            if self._found is None:
                self._found = self._search()
            return list(self._found)

    def _search(self) -> list[Interpreter]:
        own = os.path.realpath(sys.executable)
        unique: dict[str, tuple[str, str]] = {}
        for source, path in candidates(os.environ, _uv_python_dir(self._uv_bin or _uv_bin())):
            unique.setdefault(os.path.realpath(path), (source, path))
        unique.pop(own, None)
        with ThreadPoolExecutor(max_workers=4) as pool:
            probed = list(pool.map(self._try, unique.values()))
        seen, found = {own}, []
        for interpreter in probed:
            if interpreter is not None and os.path.realpath(interpreter.path) not in seen:
                seen.add(os.path.realpath(interpreter.path))
                found.append(interpreter)
        return found

    @staticmethod
    def _try(candidate: tuple[str, str]) -> Interpreter | None:
        source, path = candidate
        try:
            return probe(path, source)
        except (OSError, ValueError) as exc:
            _log.debug("not a usable interpreter (%s): %s", source, exc)
            return None

    def choose(self, manifest: LibraryManifest, setting: str | None) -> Choice:
        """The interpreter ``manifest``'s Isolated env is built on; LibraryError says why there is none."""
        library = manifest.name
        try:
            requirement = read_requires_python(manifest.path, self._home)
        except ValueError as exc:
            raise LibraryError(library, f"{exc}; fix the file, or remove its requires-python") from None
        parsed = self._setting(library, setting)
        orchestrator = orchestrator_interpreter()
        try:
            if parsed is None and (requirement is None or requirement.allows(orchestrator.version)):
                return choose(library, requirement, orchestrator)  # nothing to search for
            found = self.found() if parsed is None or parsed.path is None else [self._pinned(library, parsed)]
            picked = choose(library, requirement, orchestrator, found, parsed)
        except NoInterpreter as exc:
            raise LibraryError(library, str(exc)) from None
        if picked.warning:
            _log.warning("%s", picked.warning)
        return picked

    def shared_warnings(self, manifest: LibraryManifest, setting: str | None) -> list[str]:
        """What to warn about when ``manifest``'s library runs Shared, on the orchestrator's Python."""
        warnings = []
        orchestrator = orchestrator_interpreter()
        try:
            requirement = read_requires_python(manifest.path, self._home)
        except ValueError as exc:
            requirement = None
            warnings.append(f"library {manifest.name!r}: {exc}; its requires-python is not checked")
        if requirement is not None and not requirement.allows(orchestrator.version):
            warnings.append(
                f"library {manifest.name!r} needs Python {requirement.specifier} ({requirement.where}) but runs "
                f"Shared, on the orchestrator's Python {orchestrator.version}; its code may fail. Run it Isolated "
                f"(`nodeisle libraries mode {manifest.name!r} isolated`) to get an env on a matching Python"
            )
        if setting is not None:
            warnings.append(
                f"library {manifest.name!r}: its python setting {setting!r} applies only when it runs Isolated; "
                f"Shared, it runs on the orchestrator's Python {orchestrator.version}"
            )
        return warnings

    @staticmethod
    def _setting(library: str, setting: str | None) -> PythonSetting | None:
        if setting is None:
            return None
        try:
            return parse_python_setting(setting)
        except ValueError as exc:
            raise LibraryError(
                library, f"{exc} (set with `nodeisle libraries python {library!r} VERSION|PATH|default`)"
            ) from None

    @staticmethod
    def _pinned(library: str, setting: PythonSetting) -> Interpreter:
        assert setting.path is not None
        try:
            return probe(setting.path, "setting")
        except (OSError, ValueError) as exc:
            raise LibraryError(
                library,
                f"its python setting {setting.text!r} is not a usable interpreter: {exc}. Set another with "
                f"`nodeisle libraries python {library!r} VERSION|PATH`, or `default` for the automatic choice",
            ) from None
