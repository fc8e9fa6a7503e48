"""Observe I/O done by library code while a node class is constructed (the schema probe).

``__init__`` runs during library load; file opens, network connections and subprocesses there
block the load (and the probe has a timeout). :func:`recording` turns on a process-wide audit
hook (:func:`sys.addaudithook`) for the calling context only: the hook is installed once, cannot
be removed, and does nothing unless the current context has an active recorder. Each event is
named with its call site, the innermost frame in the library's folder. Standard library only:
this module runs inside workers.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import sysconfig
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

#: Audit events that mean file, network or process I/O (see the Python "Audit events table").
IO_EVENTS: frozenset[str] = frozenset({
    "open", "os.listdir", "os.scandir", "os.remove", "os.rename", "os.mkdir", "shutil.copyfile", "shutil.rmtree",
    "socket.connect", "socket.getaddrinfo", "socket.bind", "socket.sendto", "http.client.connect",
    "urllib.Request", "ftplib.connect", "smtplib.connect", "poplib.connect", "imaplib.open", "sqlite3.connect",
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.startfile",
    "webbrowser.open",
})
MAX_EVENTS_PER_CLASS = 20


def _dir_prefixes(*paths: str | Path) -> tuple[str, ...]:
    """``path/`` as given and resolved: frames name files by the path they were imported through."""
    found = {str(p).rstrip(os.sep) + os.sep for path in paths for p in (Path(path), Path(path).resolve())}
    return tuple(sorted(found))


_PACKAGE_DIRS = _dir_prefixes(Path(__file__).parent)
_NOT_CALLERS = ("<", *_PACKAGE_DIRS, *_dir_prefixes(*(
    p for k, p in sysconfig.get_paths().items() if k in ("stdlib", "platstdlib", "purelib", "platlib"))))


@dataclass(frozen=True, slots=True)
class IOEvent:
    """One I/O operation seen while ``class_name.__init__`` ran, and the library line that caused it."""

    class_name: str
    event: str  # the audit event: open, socket.connect, subprocess.Popen, os.system, ...
    target: str  # what it touched: a path, an address, a command line
    file: str  # the call site ("" when no frame of library code was on the stack)
    line: int

    def to_dict(self) -> dict[str, Any]:
        return {"class_name": self.class_name, "event": self.event, "target": self.target,
                "file": self.file, "line": self.line}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IOEvent:
        return cls(str(data["class_name"]), str(data["event"]), str(data.get("target", "")),
                   str(data.get("file", "")), int(data.get("line", 0)))


@dataclass
class IORecorder:
    """Collects the I/O events of one class's construction; ``events`` is safe to copy from any thread."""

    class_name: str
    library_dirs: tuple[str, ...]  # prefixes ending in a separator
    events: list[IOEvent] = field(default_factory=list)
    _sites: set[tuple[str, int]] = field(default_factory=set)

    def record(self, event: str, args: tuple[Any, ...], frame: FrameType | None) -> None:
        site = _call_site(frame, self.library_dirs)
        if site is None or site in self._sites or len(self.events) >= MAX_EVENTS_PER_CLASS:
            return  # an import's own reads, no caller of ours, a call site already named, or enough said
        self._sites.add(site)
        self.events.append(IOEvent(self.class_name, event, _target(event, args), site[0], site[1]))


_recorder: contextvars.ContextVar[IORecorder | None] = contextvars.ContextVar("nodeisle_io_recorder", default=None)
_busy = threading.local()  # set while the hook itself runs: the frames it reads raise audit events too
_install_lock = threading.Lock()
_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    # Called for every audit event in the process, forever: keep the common path to two lookups.
    if event not in IO_EVENTS or (event == "open" and args and isinstance(args[0], int)):
        return  # not I/O, or a file object wrapped around a descriptor already open (subprocess pipes)
    recorder = _recorder.get()
    if recorder is None or getattr(_busy, "on", False):
        return
    _busy.on = True
    try:
        recorder.record(event, args, sys._getframe(1))
    except Exception:  # an audit hook that raises would break the library's own call
        pass
    finally:
        _busy.on = False


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True


def recorder(class_name: str, library_dir: Path | str) -> IORecorder:
    """A recorder for ``class_name``'s construction; call sites are looked for under ``library_dir``."""
    return IORecorder(class_name, _dir_prefixes(library_dir))


@contextlib.contextmanager
def recording(active: IORecorder | None) -> Iterator[None]:
    """Record the I/O done in this context (this thread, this task) into ``active`` until the block exits.

    ``None`` records nothing and installs no hook.
    """
    if active is None:
        yield
        return
    _install()
    token = _recorder.set(active)
    try:
        yield
    finally:
        _recorder.reset(token)


_audited: contextvars.ContextVar[bool] = contextvars.ContextVar("nodeisle_audit_construction", default=False)


@contextlib.contextmanager
def auditing_construction() -> Iterator[None]:
    """Make schema probes started from this context audit I/O in ``__init__`` (``nodeisle check --shared``).

    Threads started with a copy of this context (``asyncio.to_thread``) inherit the request.
    """
    token = _audited.set(True)
    try:
        yield
    finally:
        _audited.reset(token)


def construction_audited() -> bool:
    return _audited.get()


def _call_site(frame: FrameType | None, library_dirs: tuple[str, ...]) -> tuple[str, int] | None:
    """The innermost frame in the library's folder, else the innermost one outside stdlib and nodeisle.

    None when the import system is on the stack (reading modules is not what the rule is about) or when
    no frame qualifies (the framework's own work, such as formatting a traceback).
    """
    in_library: tuple[str, int] | None = None
    fallback: tuple[str, int] | None = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith("<frozen importlib"):
            return None
        if in_library is None and filename.startswith(library_dirs):
            in_library = (filename, frame.f_lineno)
        elif fallback is None and not filename.startswith(_NOT_CALLERS):
            fallback = (filename, frame.f_lineno)
        frame = frame.f_back
    return in_library or fallback


def _target(event: str, args: tuple[Any, ...]) -> str:
    first = args[0] if args else ""
    if event == "open" or event.startswith(("os.", "shutil.", "sqlite3.")):
        text = os.fsdecode(first) if isinstance(first, (str, bytes, os.PathLike)) else repr(first)
    elif event in ("socket.connect", "socket.bind", "socket.sendto"):
        text = repr(args[1]) if len(args) > 1 else ""
    elif event == "socket.getaddrinfo":
        text = f"{args[0]}:{args[1]}" if len(args) > 1 else repr(first)
    elif event == "subprocess.Popen":
        command = args[1] if len(args) > 1 else first
        words = [os.fsdecode(a) for a in command] if isinstance(command, (list, tuple)) else [str(command)]
        text = " ".join([os.path.basename(words[0]), *words[1:]]) if words else ""  # the program, not its folder
    elif event in ("http.client.connect", "ftplib.connect", "smtplib.connect", "poplib.connect", "imaplib.open"):
        text = ":".join(str(a) for a in args[1:3])
    else:
        text = str(first)
    return text if len(text) <= 200 else text[:197] + "..."
