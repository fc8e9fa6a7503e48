"""Static reads of node source for ``nodeisle check``: what one probe and one run cannot show.

The library is not imported here (its dependencies may exist only in its worker's virtualenv): each
node file is parsed with :mod:`ast`. A class's methods include those of base classes defined in the
same file (subclass first). From a root method (``process``, ``__init__`` ...) the scan follows
calls to ``self.<method>(...)``, so a helper called from ``process`` counts as ``process``.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nodeisle.manifest import LibraryManifest
from nodeisle.requests import REQUEST_TYPES

Function = ast.FunctionDef | ast.AsyncFunctionDef

PROCESS_ROOTS = ("process", "aprocess")
HYDRATION_HOOKS = ("before_value_set", "after_value_set")
MUTATORS = frozenset({"add_parameter", "remove_parameter_element"})
BUS_CALLS = frozenset({"handle_request", "ahandle_request"})
BEHAVIOR_KEYWORDS = ("converters", "validators", "traits")


def _read_requests() -> dict[str, bool]:
    """Requests that read orchestrator state (Get* / List*), each with whether reading one's own node is fine.

    A node reading its own values through a request is a round trip, not a cross-node read; its own
    connections are flow state all the same.
    """
    return {
        cls.__name__: "Connections" not in cls.__name__ and any(f.name == "node_name" for f in dataclasses.fields(cls))
        for cls in REQUEST_TYPES
        if cls.__name__.startswith(("Get", "List"))
    }


READ_REQUESTS = _read_requests()


@dataclass(frozen=True)
class Finding:
    """Something the source does, and where."""

    class_name: str
    method: str  # the method it is in: process, __init__, or a helper reached from them
    file: Path
    line: int
    what: str  # e.g. "self.add_parameter(...)", "ListConnectionsForNodeRequest(node_name=self.name)"


@dataclass(frozen=True)
class ClassSource:
    name: str
    file: Path
    line: int
    methods: dict[str, Function]


@dataclass
class SourceScan:
    """What the node source shows, per checklist concern."""

    classes: dict[str, ClassSource] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # files that cannot be parsed, classes not found
    unread: dict[str, str] = field(default_factory=dict)  # class name -> why its source was not read
    init_requests: list[Finding] = field(default_factory=list)  # bus calls reachable from __init__
    process_mutations: list[Finding] = field(default_factory=list)  # add_parameter & co reachable from process
    flow_reads: list[Finding] = field(default_factory=list)  # reads of other nodes / flows / connections
    parameter_behaviors: list[Finding] = field(default_factory=list)  # what = the parameter's name


def scan_library(manifest: LibraryManifest) -> SourceScan:
    scan = SourceScan()
    trees: dict[Path, dict[str, ast.ClassDef] | None] = {}
    unreadable: dict[Path, str] = {}
    for entry in manifest.nodes:
        if entry.path not in trees:
            trees[entry.path] = _parse(entry.path, scan.problems, unreadable, entry.file_path)
        classes = trees[entry.path]
        if classes is None:
            scan.unread.setdefault(entry.class_name, unreadable[entry.path])
            continue
        node = classes.get(entry.class_name)
        if node is None:
            scan.problems.append(f"{entry.file_path}: no class {entry.class_name!r} defined at module level")
            scan.unread.setdefault(entry.class_name, f"{entry.file_path} defines no class {entry.class_name!r} at "
                                                     "module level")
            continue
        source = ClassSource(entry.class_name, entry.path, node.lineno, _methods(classes, node))
        scan.classes[entry.class_name] = source
        _scan_class(source, scan)
    return scan


def _parse(path: Path, problems: list[str], unreadable: dict[Path, str], shown: str) -> dict[str, ast.ClassDef] | None:
    """The module-level classes of ``path``; else None, with why in ``problems`` and ``unreadable`` (as ``shown``)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError) as exc:
        problems.append(f"{path}: cannot be read as Python: {exc}")
        if isinstance(exc, FileNotFoundError):
            unreadable[path] = f"{shown} does not exist"
        elif isinstance(exc, OSError):
            unreadable[path] = f"{shown} cannot be read: {exc.strerror or exc}"
        else:
            unreadable[path] = f"{shown} is not valid Python: {exc}"
        return None
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def _methods(classes: dict[str, ast.ClassDef], cls: ast.ClassDef) -> dict[str, Function]:
    methods: dict[str, Function] = {}
    seen: set[str] = set()

    def visit(c: ast.ClassDef) -> None:
        if c.name in seen:
            return
        seen.add(c.name)
        for item in c.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                methods.setdefault(item.name, item)
        for base in c.bases:
            if isinstance(base, ast.Name) and base.id in classes:
                visit(classes[base.id])

    visit(cls)
    return methods


def _reachable(methods: dict[str, Function], roots: Iterable[str]) -> Iterator[tuple[str, Function]]:
    """The root methods and every ``self.<method>`` they call, transitively, each once."""
    todo = [r for r in roots if r in methods]
    seen = set(todo)
    while todo:
        name = todo.pop(0)
        yield name, methods[name]
        for node in ast.walk(methods[name]):
            callee = _self_call(node)
            if callee is not None and callee in methods and callee not in seen:
                seen.add(callee)
                todo.append(callee)


def _self_call(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        receiver = node.func.value
        if isinstance(receiver, ast.Name) and receiver.id == "self":
            return node.func.attr
    return None


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _calls(functions: Iterable[tuple[str, Function]]) -> Iterator[tuple[str, ast.Call]]:
    for method, function in functions:
        for node in ast.walk(function):
            if isinstance(node, ast.Call):
                yield method, node


def _scan_class(source: ClassSource, scan: SourceScan) -> None:
    def finding(method: str, call: ast.Call, what: str) -> Finding:
        return Finding(source.name, method, source.file, call.lineno, what)

    def by_line(found: Iterable[Finding]) -> list[Finding]:
        return sorted(found, key=lambda f: f.line)

    scan.init_requests += by_line(
        finding(method, call, _describe_bus_call(call))
        for method, call in _calls(_reachable(source.methods, ["__init__"])) if _called_name(call) in BUS_CALLS)
    scan.process_mutations += by_line(
        finding(method, call, f"{ast.unparse(call.func)}(...)")
        for method, call in _calls(_reachable(source.methods, PROCESS_ROOTS))
        if isinstance(call.func, ast.Attribute) and call.func.attr in MUTATORS)
    reads = []
    for method, call in _calls(_reachable(source.methods, (*PROCESS_ROOTS, *HYDRATION_HOOKS))):
        name = _called_name(call)
        if name is not None and name in READ_REQUESTS and not (READ_REQUESTS[name] and _names_own_node(call)):
            reads.append(finding(method, call, _describe_request(name, call)))
    scan.flow_reads += by_line(reads)
    behaviors = []
    for method, call in _calls(_reachable(source.methods, ("__init__", *HYDRATION_HOOKS))):
        parameter = _parameter_with_behaviors(call)
        if parameter is not None:
            behaviors.append(finding(method, call, parameter))
    scan.parameter_behaviors += by_line(behaviors)


def _names_own_node(call: ast.Call) -> bool:
    """``node_name=self.name``: a read of the node's own state, not of another node's."""
    for keyword in call.keywords:
        if keyword.arg == "node_name":
            return ast.unparse(keyword.value) == "self.name"
    return False


def _describe_request(name: str, call: ast.Call) -> str:
    node = next((k for k in call.keywords if k.arg in ("node_name", "flow_name")), None)
    return f"{name}({node.arg}={ast.unparse(node.value)})" if node is not None and node.arg else f"{name}(...)"


def _describe_bus_call(call: ast.Call) -> str:
    argument = call.args[0] if call.args else None
    inner = _called_name(argument) if isinstance(argument, ast.Call) else None
    return f"{ast.unparse(call.func)}({inner or '...'})"


def _parameter_with_behaviors(call: ast.Call) -> str | None:
    """The parameter name of a ``Parameter(...)`` call given converters, validators or traits."""
    if _called_name(call) != "Parameter":
        return None
    carried = [k for k in call.keywords if k.arg in BEHAVIOR_KEYWORDS and not _is_empty(k.value)]
    if not carried:
        return None
    name = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "name"), None)
    return name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else "?"


def _is_empty(value: ast.expr) -> bool:
    if isinstance(value, ast.Constant):
        return value.value is None
    return isinstance(value, (ast.List, ast.Tuple, ast.Set)) and not value.elts
