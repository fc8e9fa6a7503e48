"""The exception tree of nodeisle.

    NodeisleError
    ├── ManifestError            a library manifest is unreadable or invalid (file, JSON path)
    ├── LibraryError             a library failed to load, build or start (library name)
    │   └── EnvironmentBuildError    its virtualenv could not be built (installer output, log path)
    ├── WorkflowError            a workflow file is invalid (file, JSON path)
    ├── NodeError                a node-level failure (node name)
    │   └── ValueTransferError       a value cannot cross the bus (node, parameter, type)
    ├── BusError                 the worker bus failed
    │   ├── ProtocolError            a malformed or unexpected frame
    │   ├── HandshakeRefused         the peer refused the connection (token or protocol version)
    │   └── WorkerCrashed            a worker process died (exit code or signal, stderr tail)
    ├── NotConnectedError        a request was made where no engine can answer it
    └── RequestRefused           a worker's library may not make that request (request, library, rule)

Every error carries its subject as attributes and a message that says what failed, on what,
why, and how to fix it.
"""

from __future__ import annotations

from typing import Any


class NodeisleError(Exception):
    """Base class of every error nodeisle raises on purpose."""


class ManifestError(NodeisleError):
    """A library manifest is unreadable or invalid."""

    def __init__(self, file: str, json_path: str, found: str, expected: str, hint: str = "") -> None:
        self.file = file
        self.json_path = json_path
        self.found = found
        self.expected = expected
        self.hint = hint
        text = f"{file}: {json_path}: found {found}; expected {expected}"
        if hint:
            text += f". {hint}"
        super().__init__(text)


class LibraryError(NodeisleError):
    """A library failed to load, build or start."""

    def __init__(self, library: str, message: str) -> None:
        self.library = library
        self.detail = message  # the message without the library's name
        super().__init__(f"library {library!r}: {message}")


def headline(message: str) -> str:
    """The first line of a (possibly multi-line) error message, without the colon that introduces the rest."""
    lines = [line for line in message.splitlines() if line.strip()]
    return lines[0].rstrip().rstrip(":") if lines else message


class EnvironmentBuildError(LibraryError):
    """A library's virtualenv could not be built."""

    def __init__(self, library: str, message: str, log_path: str, installer_output: str = "") -> None:
        self.log_path = log_path
        self.installer_output = installer_output
        super().__init__(library, f"{message} (installer log: {log_path})")


class WorkflowError(NodeisleError):
    """A workflow file is invalid."""

    def __init__(self, file: str, json_path: str, message: str) -> None:
        self.file = file
        self.json_path = json_path
        super().__init__(f"{file}: {json_path}: {message}")


class NodeError(NodeisleError):
    """A failure that belongs to one node."""

    def __init__(self, node: str, message: str) -> None:
        self.node = node
        super().__init__(message)


class ValueTransferError(NodeError):
    """A value cannot cross the bus between orchestrator and worker."""

    def __init__(self, node: str, parameter: str, type_name: str, why: str = "", path: str = "") -> None:
        self.parameter = parameter
        self.type_name = type_name
        self.path = path
        where = f" (at {parameter}{path if path.startswith('[') else '.' + path})" if path else ""
        msg = (
            f"node {node!r}, parameter {parameter!r}: a value of type {type_name}{where} cannot cross the bus"
            f"{' (' + why + ')' if why else ''}; pass JSON values, bytes or arrays instead"
        )
        super().__init__(node, msg)


class BusError(NodeisleError):
    """The worker bus failed."""


class ProtocolError(BusError):
    """A malformed or unexpected frame. ``events``: what the same frame still delivered (a new message
    that arrived while an earlier one was incomplete: the earlier one is dropped, the new one is not)."""

    def __init__(self, message: str, events: list[Any] | None = None) -> None:
        super().__init__(message)
        self.events: list[Any] = events or []


class HandshakeRefused(BusError):
    """The peer refused the connection."""


class WorkerCrashed(BusError):
    """A worker process died."""

    def __init__(self, library: str, worker_id: str, reason: str, stderr_tail: str = "") -> None:
        self.library = library
        self.worker_id = worker_id
        self.reason = reason
        self.stderr_tail = stderr_tail
        text = f"worker Worker-{worker_id} of library {library!r} died: {reason}"
        if stderr_tail:
            text += "\nlast lines of its stderr:\n" + stderr_tail
        super().__init__(text)


class NotConnectedError(NodeisleError):
    """A request was made where no engine can answer it."""


class RequestRefused(NodeisleError, PermissionError):
    """The orchestrator refused a request forwarded by a worker: its library may not make it.

    Raised in node code by ``handle_request``; unless the code catches it, the node fails with the
    message, which names the request, the library and the rule (docs/workers.md).
    """
