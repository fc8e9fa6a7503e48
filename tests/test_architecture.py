"""The import contracts of ``src/nodeisle``, read from the source with ``ast`` (nothing is imported).

Every ``import`` counts wherever it is written: at module level and inside functions (a
function-local import runs too, only later). An import under ``if TYPE_CHECKING:`` never runs, so the
cycle contract is checked twice: without those imports (what runs) and with them (what a reader and
mypy see); both must hold. For cycles, an import of ``a.b.c`` is an edge to the module ``a.b.c``
only, not to the packages whose ``__init__`` it also runs (a package re-exporting its modules is no
cycle). For what a module *reaches* (the pure cores, the runtime, the orchestrator side), those
packages count too, except the root ``nodeisle/__init__`` (the library-facing API every import runs).

The contracts:

- no import cycle between modules;
- the pure cores import no asyncio, websockets or subprocess (checked for their own imports, and
  for what they reach through other modules);
- only ``nodeisle.bus.ws`` imports websockets (and the bench's floor scripts, which measure bare
  websockets in processes of their own and never import nodeisle);
- the orchestrator's side never imports ``nodeisle.worker``;
- the worker runtime (``RUNTIME_PARTS``, what a worker env gets) imports only the standard library,
  websockets and other parts of the runtime; an optional import guarded by ``except ImportError``
  (numpy) is allowed;
- no module is over 500 lines;
- the editor's web stack (starlette, uvicorn) is imported only by the editor's server modules, and
  nothing of the engine imports ``nodeisle.editor``: only the ``nodeisle editor`` command does.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from nodeisle.orchestrator.runtime_copy import RUNTIME_PARTS
from tests.conftest import REPO

SRC = REPO / "src"
PACKAGE = SRC / "nodeisle"
MAX_LINES = 500

#: The pure cores: state and decisions, no I/O. Modules not written yet are skipped, naming why.
PURE = (
    "nodeisle.flow.graph",
    "nodeisle.flow.scheduling",
    "nodeisle.orchestrator.authority",
    "nodeisle.orchestrator.supervision",
    "nodeisle.orchestrator.relay",
    "nodeisle.orchestrator.pythons",
    "nodeisle.orchestrator.plan",
    "nodeisle.orchestrator.containment",
    "nodeisle.orchestrator.sandbox",
    "nodeisle.bus.protocol",
    "nodeisle.bus.codec",
    "nodeisle.strict.rules",
    "nodeisle.orchestrator.events",
)
IMPURE = ("asyncio", "websockets", "subprocess")
OPTIONAL_THIRD_PARTY = ("numpy",)  # what the runtime may import in try/except ImportError
#: Scripts run by file path in processes of their own: the floors measure bare websockets.
BENCH_SCRIPTS = (
    "nodeisle.bench.floor_child",
    "nodeisle.bench.floor_harness",
    "nodeisle.bench.editor_floor",
    "nodeisle.bench.peer_driver",
    "nodeisle.bench.peer_extension",
)
WEBSOCKETS_IMPORTERS = ("nodeisle.bus.ws", "nodeisle.bench.floor_child", "nodeisle.bench.floor_harness",
                        "nodeisle.bench.editor_floor")
#: The only modules that import the editor's web stack, and the only one outside the editor that imports the editor.
WEB_STACK = ("starlette", "uvicorn")
WEB_IMPORTERS = ("nodeisle.editor.server", "nodeisle.editor.serve")
EDITOR_IMPORTERS = ("nodeisle.cli.editor",)
#: The packages that make up the orchestrator's side (node/, bus/, strict/ ... are shared by both roles).
ORCHESTRATOR_SIDE = ("nodeisle.orchestrator", "nodeisle.flow", "nodeisle.check", "nodeisle.cli", "nodeisle.bench",
                     "nodeisle.config")


@dataclass(frozen=True)
class Import:
    target: str  # the module imported, absolute
    line: int
    type_checking: bool  # under `if TYPE_CHECKING:`: never runs
    optional: bool  # inside `try: ... except ImportError:`


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _catches_import_error(node: ast.Try) -> bool:
    names = []
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names += [k.id for k in kinds if isinstance(k, ast.Name)]
    return any(name in ("ImportError", "ModuleNotFoundError") for name in names)


def _walk(node: ast.AST, type_checking: bool = False, optional: bool = False) -> Iterator[tuple[ast.AST, bool, bool]]:
    """Every node below ``node`` with whether it sits under ``if TYPE_CHECKING:`` and in an ImportError guard."""
    for child in ast.iter_child_nodes(node):
        yield child, type_checking, optional
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for part in child.body:
                yield part, True, optional
                yield from _walk(part, True, optional)
            for part in child.orelse:
                yield part, type_checking, optional
                yield from _walk(part, type_checking, optional)
        elif isinstance(child, ast.Try) and _catches_import_error(child):
            for part in child.body:
                yield part, type_checking, True
                yield from _walk(part, type_checking, True)
            for part in [*child.handlers, *child.orelse, *child.finalbody]:
                yield part, type_checking, optional
                yield from _walk(part, type_checking, optional)
        else:
            yield from _walk(child, type_checking, optional)


def _absolute(module: str, level: int, name: str | None, is_package: bool) -> str:
    if level == 0:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


@cache
def imports(module: str) -> tuple[Import, ...]:
    """What ``module`` imports: for ``from a import b``, the module ``a.b`` when it is one, else ``a``."""
    path = modules()[module]
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found = []
    for node, type_checking, optional in _walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno, type_checking, optional) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node.level, node.module, path.name == "__init__.py")
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in modules() else base
                found.append(Import(target, node.lineno, type_checking, optional))
    return tuple(dict.fromkeys(found))


def _internal(target: str) -> str | None:
    """The nodeisle module an import runs (the longest known prefix), or None for a third-party one."""
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in modules():
            return name
        parts.pop()
    return None


def graph(with_type_checking: bool, with_packages: bool = False) -> dict[str, set[str]]:
    """Module -> the modules it imports. ``with_packages``: importing ``nodeisle.a.b`` runs
    ``nodeisle/a/__init__`` first, so that package counts as imported too (for what a module *reaches*;
    not for cycles, since a package's ``__init__`` re-exporting its modules is no cycle). The root
    ``nodeisle/__init__`` (the library-facing API, which every module's import runs) is left out."""
    edges: dict[str, set[str]] = {m: set() for m in modules()}
    for module in modules():
        for imp in imports(module):
            target = _internal(imp.target)
            if target is not None and target != module and (with_type_checking or not imp.type_checking):
                edges[module].add(target)
                if with_packages:
                    edges[module].update(p for p in _packages_of(target) if p not in (module, "nodeisle"))
    return edges


def _packages_of(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules()]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(edges)))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def reachable(module: str, edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _top(target: str) -> str:
    return target.split(".")[0]


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def runtime_modules() -> set[str]:
    """The modules a worker env gets: the files RUNTIME_PARTS names (see orchestrator/runtime_copy.py)."""
    found = set()
    for module, path in modules().items():
        rel = path.relative_to(PACKAGE).as_posix()
        if any(rel == part or (part.endswith("/") and rel.startswith(part)) for part in RUNTIME_PARTS):
            found.add(module)
    return found


def _where(module: str, imp: Import) -> str:
    return f"{modules()[module].relative_to(REPO)}:{imp.line} imports {imp.target}"


# -- the contracts ----------------------------------------------------------------------------------
def test_the_source_is_read() -> None:
    assert {"nodeisle", "nodeisle.bus.ws", "nodeisle.orchestrator.engine", "nodeisle.manifest"} <= set(modules())
    assert any(i.target == "nodeisle.flow.runner" for i in imports("nodeisle.orchestrator.engine")), (
        "function-local imports must count"
    )


def test_no_import_cycle_in_what_runs() -> None:
    """Module-level and function-local imports; not those under TYPE_CHECKING, which never run."""
    found = cycles(graph(with_type_checking=False))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_import_cycle_even_under_type_checking() -> None:
    found = cycles(graph(with_type_checking=True))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def _impure_imports(module: str, through: bool) -> list[str]:
    edges = graph(with_type_checking=False, with_packages=True)
    found = sorted({module} | reachable(module, edges)) if through else [module]
    return [
        f"{_where(m, imp)}" + (f" (reached from {module})" if m != module else "")
        for m in found
        for imp in imports(m)
        if not imp.type_checking and _top(imp.target) in IMPURE
    ]


@pytest.mark.parametrize("module", PURE)
def test_a_pure_core_imports_no_asyncio_websockets_or_subprocess(module: str) -> None:
    if module not in modules():
        pytest.skip(f"{module} is not written yet (issue 11, item 3)")
    bad = _impure_imports(module, through=False)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "module",
    PURE,
)
def test_a_pure_core_reaches_no_asyncio_websockets_or_subprocess_through_other_modules(module: str) -> None:
    if module not in modules():
        pytest.skip(f"{module} is not written yet (issue 11, item 3)")
    bad = _impure_imports(module, through=True)
    assert not bad, "\n".join(bad)


def test_only_the_websocket_transport_imports_websockets() -> None:
    bad = [_where(m, imp) for m in modules() for imp in imports(m)
           if _top(imp.target) == "websockets" and m not in WEBSOCKETS_IMPORTERS]
    assert not bad, "\n".join(bad)


def test_the_bench_scripts_import_no_nodeisle() -> None:
    """They run by file path in processes of their own (a library env, pyisolate's venv), where the bench is not."""
    bad = [_where(m, imp) for m in BENCH_SCRIPTS for imp in imports(m) if _top(imp.target) == "nodeisle"]
    assert not bad, "\n".join(bad)


def test_the_orchestrator_side_never_imports_the_worker_package() -> None:
    edges = graph(with_type_checking=True, with_packages=True)
    bad = [
        f"{m} -> {w}"
        for m in sorted(modules())
        if _in(m, ORCHESTRATOR_SIDE)
        for w in sorted(reachable(m, edges))
        if _in(w, ("nodeisle.worker",))
    ]
    assert not bad, "\n".join(bad)
    # nodeisle.testing wires both roles into one process on purpose (tests of Isolated semantics); no
    # module of the product imports it.
    direct = [_where(m, imp) for m in modules() if not _in(m, ("nodeisle.worker", "nodeisle.testing"))
              for imp in imports(m) if _in(imp.target, ("nodeisle.worker",))]
    assert not direct, "\n".join(direct)


def test_nothing_in_the_product_imports_the_test_wiring() -> None:
    bad = [_where(m, imp) for m in modules() if not _in(m, ("nodeisle.testing",)) for imp in imports(m)
           if _in(imp.target, ("nodeisle.testing",))]
    assert not bad, "\n".join(bad)


def test_the_worker_runtime_imports_only_the_stdlib_websockets_and_itself() -> None:
    runtime = runtime_modules()
    assert {"nodeisle", "nodeisle.worker.runtime", "nodeisle.requests", "nodeisle.manifest"} <= runtime
    assert "nodeisle.config.store" not in runtime and "nodeisle.orchestrator.engine" not in runtime
    bad = []
    for module in sorted(runtime):
        for imp in imports(module):
            top = _top(imp.target)
            # An optional import (try/except ImportError) may name only a third-party package the runtime
            # can do without; never nodeisle's own other parts.
            if imp.type_checking or (imp.optional and top in OPTIONAL_THIRD_PARTY):
                continue
            internal = _internal(imp.target)
            if top == "nodeisle" and internal in runtime:
                continue
            if top != "nodeisle" and (top in sys.stdlib_module_names or top == "websockets"):
                continue
            bad.append(_where(module, imp))
    assert not bad, "\n".join(bad)


def test_every_module_runtime_part_exists() -> None:
    for part in RUNTIME_PARTS:
        if part.endswith((".py", "/")):
            assert (PACKAGE / part).exists(), f"RUNTIME_PARTS names {part!r}, which is not in {PACKAGE}"


def test_no_module_is_over_500_lines() -> None:
    long = {str(p.relative_to(REPO)): n for p in modules().values() if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"split these by concept (at most {MAX_LINES} lines each)"


@pytest.mark.parametrize("module", ["nodeisle.flow.scheduling", "nodeisle.orchestrator.supervision"])
def test_the_state_machines_are_driven_by_now_and_read_no_clock(module: str) -> None:
    """The scheduler and supervision take ``now`` and return decisions: no clock, no sleep, no threads."""
    edges = graph(with_type_checking=True, with_packages=True)
    bad = [_where(m, imp) for m in sorted({module} | reachable(module, edges)) for imp in imports(m)
           if _top(imp.target) in ("time", "asyncio", "threading", "subprocess", "socket")]
    assert not bad, "\n".join(bad)


def test_only_the_editor_server_imports_the_web_stack() -> None:
    bad = [_where(m, imp) for m in modules() for imp in imports(m)
           if _top(imp.target) in WEB_STACK and m not in WEB_IMPORTERS]
    assert not bad, "\n".join(bad)
    assert any(_top(imp.target) == "starlette" for imp in imports("nodeisle.editor.server")), "the rule reads the imports"


def test_the_engine_never_imports_the_editor() -> None:
    """The editor observes the engine (Orchestrator.events); the engine works without the editor's extra."""
    bad = [_where(m, imp) for m in modules() if not _in(m, ("nodeisle.editor",)) and m not in EDITOR_IMPORTERS
           for imp in imports(m) if _in(imp.target, ("nodeisle.editor",))]
    assert not bad, "\n".join(bad)
    edges = graph(with_type_checking=True, with_packages=True)
    reached = [f"{m} -> {e}" for m in sorted(modules()) if _in(m, ("nodeisle.orchestrator", "nodeisle.flow"))
               for e in sorted(reachable(m, edges)) if _in(e, ("nodeisle.editor", "nodeisle.cli"))]
    assert not reached, "\n".join(reached)
