"""The worker runtime a library env gets: which of nodeisle's files (:data:`RUNTIME_PARTS`), their
digest, and installing them into ``<env>/runtime`` (a symlink swapped atomically, see envs.py)."""

from __future__ import annotations

import compileall
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: What of the nodeisle package a worker env gets: the parts the worker runtime imports (the import
#: contracts in tests/test_architecture.py keep them free of the orchestrator's side).
RUNTIME_PARTS = (
    "__init__.py", "errors.py", "placement.py", "requests.py", "request_values.py", "logs.py", "py.typed",
    "node/", "strict/", "manifest/", "bus/", "wire/", "worker/",
    "config/__init__.py", "config/defaults.py", "config/views.py", "config/dotenv.py",
)


#: Packages shipped beside nodeisle into every worker env, whole: the ``griptape_nodes`` compatibility
#: layer (standard library only; imported only when library code asks for it).
COMPANION_PACKAGES = ("griptape_nodes",)


def runtime_files(source: Path) -> dict[str, bytes]:
    """The runtime's ``*.py`` and ``py.typed`` files by path below the env's runtime folder
    (``nodeisle/...``): :data:`RUNTIME_PARTS` of ``source`` (nodeisle's folder), and the companion
    packages found beside it."""
    files: dict[str, bytes] = {}
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        name = rel.as_posix()
        if "__pycache__" in rel.parts or not path.is_file():
            continue
        if not any(name == part or (part.endswith("/") and name.startswith(part)) for part in RUNTIME_PARTS):
            continue
        if path.suffix == ".py" or path.name == "py.typed":
            files[f"nodeisle/{name}"] = path.read_bytes()
    for package in COMPANION_PACKAGES:
        folder = source.parent / package
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else ():
            if "__pycache__" not in path.parts:
                files[f"{package}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    return files


def runtime_digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for rel, data in files.items():
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def read_stamp(env: Path) -> str | None:
    try:
        return (env / "runtime" / ".stamp").read_text().strip()
    except OSError:
        return None


def _linked_copy(source: Path, dest: Path) -> None:
    """``source``'s tree at ``dest``, its files hard-linked (copied, times kept, across filesystems)."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, dest, copy_function=link, dirs_exist_ok=True)


def _from_compiled_cache(env: Path, staging: Path, digest: str) -> bool:
    """Fill ``staging`` from the compiled runtime of this digest and Python, kept once per engine home
    beside ``envs/`` (hard links: a pyc stays valid, its source keeps the mtime it was compiled against),
    compiling it there first if it is not there yet. False when the cache cannot be used."""
    cache = env.parent.parent / "runtime-cache" / f"{digest[:16]}-{sys.implementation.cache_tag}"
    if not (cache / ".complete").is_file():
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            fresh = Path(tempfile.mkdtemp(prefix=f".{cache.name}-", dir=cache.parent))
            _linked_copy(staging, fresh)
            compileall.compile_dir(str(fresh), quiet=1)
            (fresh / ".complete").write_text("")
            shutil.rmtree(cache, ignore_errors=True)
            fresh.rename(cache)
        except OSError:
            return False
    shutil.rmtree(staging)
    _linked_copy(cache, staging)
    (staging / ".complete").unlink()
    return True


def install_runtime(env: Path, files: dict[str, bytes], digest: str) -> None:
    """Write the runtime to ``runtime-<digest>`` and swap the ``runtime`` symlink to it (lock held)."""
    staging = Path(tempfile.mkdtemp(prefix=".runtime-tmp-", dir=env))
    for rel, data in files.items():
        dest = staging / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    (staging / ".stamp").write_text(digest + "\n")
    # Compile once here so no worker start pays for it (workers run with PYTHONDONTWRITEBYTECODE=1), with
    # the env's own interpreter when it is another Python than this one (its bytecode is its own). On this
    # Python, once per runtime: later envs link the compiled copy (an env build then costs no compile).
    own = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    if all(lib.name == own for lib in env.glob("lib/python*")):
        if not _from_compiled_cache(env, staging, digest):
            compileall.compile_dir(str(staging), quiet=1)
    else:
        subprocess.run(
            [str(env / "bin" / "python"), "-I", "-m", "compileall", "-q", str(staging)],
            capture_output=True, stdin=subprocess.DEVNULL, check=False,  # no bytecode only costs start time
        )
    target = env / f"runtime-{digest[:16]}"
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    link, new_link = env / "runtime", env / ".runtime-link.tmp"
    previous = os.readlink(link) if link.is_symlink() else None
    new_link.unlink(missing_ok=True)
    new_link.symlink_to(target.name)
    os.replace(new_link, link)
    if previous is not None and previous != target.name:
        shutil.rmtree(env / previous, ignore_errors=True)
