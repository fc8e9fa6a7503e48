"""The worker's guard: the process the orchestrator starts, which owns everything the library starts.

The orchestrator starts ``<venv python> -I -u -m nodeisle.worker`` in a session (and process group)
of its own. On Linux that process becomes the **guard**: it reads the launch line, makes itself a
child subreaper, and forks the worker runtime. Every process node code starts (``fork``,
``subprocess.Popen``, grandchildren, a deliberate ``setsid`` daemon) descends from the guard, and
one whose parent dies is re-parented to the guard rather than to init. When the runtime ends, for
whatever reason, the guard kills every process that is left below it and exits with the runtime's
own status (the same exit code, or the same signal), so the orchestrator's crash report is unchanged.

The guard ends the tree early when it is told to (SIGTERM, the orchestrator's stop), and when the
orchestrator dies (its parent-death signal, armed at start). It is a few lines of stdlib code that
never runs library code, so a node stuck in C holding the GIL cannot stop it from doing its job.
Elsewhere than Linux there is no guard: the orchestrator kills the worker's process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable

from nodeisle.wire.launch import SEALED

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36

_KILL_ROUNDS = 2000  # a fork bomb re-parents its children to the guard faster than one round kills them


class _Stop(Exception):
    """The guard was told to end the tree (SIGTERM, or the orchestrator died)."""


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signum)


def read_launch_line(fd: int = 0) -> str:
    """The launch JSON line, read byte by byte so nothing after it is consumed from the pipe."""
    data = bytearray()
    while True:
        byte = os.read(fd, 1)
        if not byte or byte == b"\n":
            return data.decode("utf-8", "replace")
        data += byte


def _prctl(option: int, value: int) -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def children_of(pid: int) -> list[int]:
    """The live (not yet reaped) children of ``pid``, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def kill_descendants() -> int:
    """SIGKILL every process below this one and reap it; returns how many were killed."""
    me, killed = os.getpid(), 0
    for _ in range(_KILL_ROUNDS):
        children = children_of(me)
        if not children:
            break
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        for child in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)
    return killed


def _exit_like(code: int) -> int:
    """Exit as the runtime did: with its exit code, or (``-signum``) by the signal that killed it."""
    if code >= 0:
        return code
    signum = -code
    with contextlib.suppress(OSError, ValueError):
        signal.signal(signum, signal.SIG_DFL)
    sys.stdout.flush()
    os.kill(os.getpid(), signum)
    return 128 + signum  # SIGSTOP-like signals do not end the process: leave with the shell's convention


Worker = Callable[[str, "int | None"], int]
CONTAINMENT_FAILED = 71


def contain(containment: dict[str, object]) -> str | None:
    """Join the worker's cgroups and set its rlimits, before any library code runs; why not, if it fails.

    ``containment`` is the launch line's: ``cgroup_procs`` (the ``cgroup.procs`` files to write this
    process into, so the runtime forked next and all it starts are counted) and ``rlimits``
    (``RLIMIT_*`` name -> limit), from nodeisle.orchestrator.containment.
    """
    import resource

    for procs in containment.get("cgroup_procs") or []:  # type: ignore[attr-defined]
        try:
            with open(str(procs), "w") as handle:
                handle.write(str(os.getpid()))
        except OSError as exc:
            return f"could not join cgroup {procs}: {exc.strerror or exc}"
    for name, limit in dict(containment.get("rlimits") or {}).items():  # type: ignore[call-overload]
        try:
            resource.setrlimit(getattr(resource, str(name)), (int(limit), int(limit)))
        except (OSError, ValueError, AttributeError) as exc:
            return f"could not set {name} to {limit}: {exc}"
    return None


def seal() -> None:
    """Make this process non-dumpable, then say so on stdout.

    Non-dumpable, its ``/proc/<pid>/fd``, ``environ`` and memory are closed to other processes of the
    same user (code of other libraries among them), so the launch line it reads next from stdin (the
    worker's credential, the secrets its library may see) cannot be read from its pipe by anyone else.
    The runtime forked from it inherits this. Root, or a process with CAP_SYS_PTRACE, still can.
    """
    _prctl(_PR_SET_DUMPABLE, 0)
    os.write(1, (SEALED + "\n").encode())


def guarded(run_worker: Worker) -> int:
    """Run ``run_worker(launch_line, guard_pid)`` in a child process under this guard (Linux)."""
    seal()
    line = read_launch_line()
    try:
        data = json.loads(line)
        parent, containment = data.get("parent_pid"), data.get("containment") or {}
        if data.get("sandboxed"):  # its own PID namespace: the orchestrator's pid means nothing here
            parent = None
    except (ValueError, AttributeError):
        parent, containment = None, {}
    refusal = contain(containment)
    if refusal:  # a contained library never runs uncontained
        os.write(2, f"nodeisle guard: {refusal}\n".encode())
        return CONTAINMENT_FAILED
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    # Until the handler below is installed, SIGTERM (also as the death signal) ends the guard at once;
    # the runtime, whose own death signal is armed on the guard, follows it.
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if isinstance(parent, int) and os.getppid() != parent:
        return 0  # the orchestrator died before the death signal was armed: nothing to serve
    guard_pid = os.getpid()
    worker = os.fork()
    if worker == 0:
        code = 1
        try:
            code = run_worker(line, guard_pid)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # an import error, say: its traceback is the crash report's stderr tail
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    signal.signal(signal.SIGTERM, _raise_stop)
    status: int | None = None
    try:
        while status is None:
            pid, found = os.waitpid(-1, 0)  # the runtime, or an orphan re-parented to the guard
            if pid == worker:
                status = found
    except _Stop:
        pass
    except ChildProcessError:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the tree is being ended now: nothing interrupts that
    kill_descendants()
    return _exit_like(-signal.SIGTERM if status is None else os.waitstatus_to_exitcode(status))


def main(run_worker: Worker) -> int:
    """The worker process's entry point: guarded on Linux, the runtime directly elsewhere."""
    if sys.platform.startswith("linux"):
        return guarded(run_worker)
    os.write(1, (SEALED + "\n").encode())  # nothing to seal here; the orchestrator waits for the line
    return run_worker(read_launch_line(), None)
