"""The sandbox a library's worker may run in: a pure bubblewrap command line from what it may see.

With ``nodeisle libraries sandbox NAME on`` (or the ``sandbox`` setting as the default), the worker
is started under bubblewrap (``bwrap``) with:

- a read-only view of the filesystem, in which the engine home and every other registered
  library's folder are hidden (an empty tmpfs over each), and its own env and library folder are
  visible read-only again;
- a private writable scratch directory: ``/tmp`` is its own tmpfs (also ``HOME`` and ``TMPDIR``);
- its own PID namespace with a fresh ``/proc``, so no other process (the orchestrator's
  ``/proc/<pid>/environ`` among them) exists for it; its own IPC and UTS namespaces; no capabilities;
- no network namespace of the host's, unless the library's sandbox allows network: the bus then
  reaches it through a Unix socket whose directory is bound into the sandbox (read-only).

Secrets reach it only over the bus (its launch line and refreshes), as for any worker. The cgroup
of its limits is joined by a tiny shell before ``bwrap`` runs (:func:`cgroup_join_prefix`): inside,
``/sys`` is read-only, and a library must not be able to move itself, or another process, out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "bubblewrap"
SCRATCH = "/tmp"


@dataclass(frozen=True)
class SandboxSpec:
    """What one sandboxed worker sees: its env and library (read-only), and what is hidden from it."""

    env: Path
    library: Path
    hidden: tuple[Path, ...] = ()  # the engine home, other libraries' folders
    network: bool = False
    bus_dir: Path | None = None  # the directory of the bus's Unix socket (no network)
    interpreter_root: Path | None = None  # the env's base interpreter, if it lives in a hidden folder


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def bwrap_argv(bwrap: str, spec: SandboxSpec, python: Path) -> list[str]:
    """The command that starts ``python -I -u -m nodeisle.worker`` in the sandbox ``spec`` describes."""
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", SCRATCH]
    shown = (spec.env, spec.library)
    inner = [h for h in spec.hidden if any(_inside(h, v) for v in shown)]  # hidden again after the binds
    for hidden in spec.hidden:
        if hidden not in inner:
            argv += ["--tmpfs", str(hidden)]  # an ancestor of the env (the engine home) is hidden, then the env shown
    for path in (spec.interpreter_root, *shown):
        if path is not None:
            argv += ["--ro-bind", str(path), str(path)]
    for hidden in inner:
        if hidden not in shown:
            argv += ["--tmpfs", str(hidden)]
    if spec.bus_dir is not None and not spec.network:
        argv += ["--ro-bind", str(spec.bus_dir), str(spec.bus_dir)]
    argv += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not spec.network:
        argv.append("--unshare-net")
    argv += ["--die-with-parent", "--cap-drop", "ALL", "--setenv", "HOME", SCRATCH, "--setenv", "TMPDIR", SCRATCH,
             "--chdir", SCRATCH, "--", str(python), "-I", "-u", "-m", "nodeisle.worker"]
    return argv


_JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 71; shift; done; shift; exec "$@"'


def cgroup_join_prefix(procs_files: Sequence[str]) -> list[str]:
    """A shell that writes its own pid into each ``cgroup.procs`` and then execs the rest of the command.

    So bubblewrap and all it starts are born in the worker's cgroup; exit 71 (the guard's) if refused.
    """
    if not procs_files:
        return []
    return ["/bin/sh", "-c", _JOIN, "nodeisle-cgroup-join", *procs_files, "--"]


def missing_bwrap_message(library: str) -> str:
    return (
        f"library {library!r} is set to run sandboxed, but bubblewrap (bwrap) is not installed; install the "
        f"{PACKAGE!r} package (Debian/Ubuntu: apt-get install {PACKAGE}), or turn its sandbox off with "
        f"`nodeisle libraries sandbox {library} off`"
    )


@dataclass(frozen=True)
class SandboxChoice:
    """A library's sandbox decision, from its settings: whether it has network, and what it must not see."""

    network: bool = False
    hidden: tuple[Path, ...] = ()  # the engine home, other registered libraries' folders
    source: str = "`nodeisle libraries sandbox`"  # or the sandbox setting

    def to_dict(self) -> dict[str, object]:
        return {"sandbox": True, "network": self.network, "source": self.source}


def hidden_paths(home: Path, own: Path, library_folders: Iterable[Path]) -> tuple[Path, ...]:
    """What a library's sandbox must not show: the engine home and every other library's folder."""
    return tuple(dict.fromkeys([home, *(folder for folder in library_folders if folder != own)]))


def choose(entry: dict[str, bool] | None, default: bool, hidden: tuple[Path, ...]) -> SandboxChoice | None:
    """A library's sandbox: its own ``library_sandbox`` entry, else the engine's ``sandbox`` setting."""
    enabled = entry.get("enabled") if entry else None
    if enabled is None and default:
        return SandboxChoice(bool(entry and entry.get("network")), hidden, "the sandbox setting")
    return SandboxChoice(bool(entry and entry.get("network")), hidden) if enabled else None


_PATH_EVENTS = ("open", "os.listdir", "os.scandir", "os.remove", "os.rename", "os.mkdir", "shutil.copyfile",
                "shutil.rmtree", "sqlite3.connect")
_NET_EVENTS = ("socket.connect", "socket.getaddrinfo", "socket.sendto", "http.client.connect", "ftplib.connect",
               "smtplib.connect", "poplib.connect", "imaplib.open")


def refusal(event: str, target: str, choice: SandboxChoice, shown: Sequence[Path]) -> str | None:
    """Why the sandbox ``choice`` refuses an audited operation (``nodeisle check``); None if it allows it.

    A path inside a hidden folder (and not in a folder shown again) is not there; an address
    connection has no network without ``--network``. Unix-socket paths are not addresses.
    """
    if event in _PATH_EVENTS and target.startswith("/"):
        path = Path(target)
        if not any(_inside(path, s) for s in shown):
            for hidden in choice.hidden:
                if _inside(path, hidden):
                    return f"{hidden} is hidden in its sandbox"
    if event in _NET_EVENTS and not choice.network and not target.startswith(("'/", '"/', "/")):
        return "its sandbox has no network (`nodeisle libraries sandbox NAME on --network` allows it)"
    return None
