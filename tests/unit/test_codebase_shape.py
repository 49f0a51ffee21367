"""The shape of the code base, read from the source with ``ast`` (nothing is imported):

- the import graph of ``layers/facesvg``, ``functions/`` and ``infra/`` (imports inside functions
  included) has no cycle, and no module imports a higher layer than its own;
- no module over ``MAX_MODULE_LINES`` and no function over ``MAX_FUNCTION_LINES`` in ``layers/`` and
  ``infra/``.

Layers, lowest first (a module may import its own layer and the layers below it, never above):

    0  facesvg.names, facesvg        constants every layer shares; the package root (its version)
    1  facesvg.core                  the render core (image work only)
    1  facesvg.client                request bodies and the local stack's addresses (HTTP clients' side)
    2  facesvg.service               the job service
    3  facesvg.stack_config          the stack's operator settings (reads the service's Settings model)
    4  facesvg.local, functions/     the local runtime; the Lambda handlers
    5  infra/                        the CDK app (its artefact check boots the local runtime)
    6  facesvg.commands              the CLI's subcommands
    7  facesvg.cli                   the CLI's entry point

Two packages of the same rank (core, client) may not import each other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80

LAYERS: dict[str, int] = {
    "facesvg.names": 0,
    "facesvg.core": 1,
    "facesvg.client": 1,
    "facesvg.service": 2,
    "facesvg.stack_config": 3,
    "facesvg.local": 4,
    "functions": 4,
    "infra": 5,
    "facesvg.commands": 6,
    "facesvg.cli": 7,
    "facesvg": 0,
}

# Import cycles left in service/ and core/ (none today).
CYCLES_ALLOWED: set[frozenset[str]] = set()


def _sources() -> Iterator[Path]:
    yield from sorted((ROOT / "layers" / "facesvg").rglob("*.py"))
    yield from sorted((ROOT / "functions").rglob("*.py"))
    yield from sorted((ROOT / "infra").rglob("*.py"))


def _module_name(path: Path) -> str:
    layers = ROOT / "layers"
    rel = path.relative_to(layers) if path.is_relative_to(layers) else path.relative_to(ROOT)
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The known modules ``path`` imports, anywhere in it (module level, functions, TYPE_CHECKING)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name`` imports mod
            candidates = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        else:
            continue
        for name in candidates:
            while name and name not in known:  # ``import a.b.c`` where only a.b is a module of ours
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in _sources()}
    known = set(paths)
    return {module: _imported(module, path, known) for module, path in paths.items()}


def layer_of(module: str) -> str:
    best = max((layer for layer in LAYERS if module == layer or module.startswith(layer + ".")), key=len)
    return best


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, imports in sorted(graph.items()):
        own = layer_of(module)
        for target in sorted(imports):
            other = layer_of(target)
            if other != own and LAYERS[other] >= LAYERS[own]:
                bad.append(f"{module} ({own}, {LAYERS[own]}) imports {target} ({other}, {LAYERS[other]})")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def oversized_modules() -> set[str]:
    return {
        str(path.relative_to(ROOT))
        for path in _sources()
        if path.is_relative_to(ROOT / "layers") or path.is_relative_to(ROOT / "infra")
        if len(path.read_text(encoding="utf-8").splitlines()) > MAX_MODULE_LINES
    }


def long_functions() -> dict[str, int]:
    found = {}
    for path in _sources():
        if not (path.is_relative_to(ROOT / "layers") or path.is_relative_to(ROOT / "infra")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found[f"{path.relative_to(ROOT)}::{node.name}"] = length
    return found


def test_every_module_has_a_layer() -> None:
    graph = import_graph()
    assert "facesvg.core.pipeline" in graph and "infra.api" in graph  # the scan sees the code
    for module in graph:
        assert layer_of(module) in LAYERS


def test_no_module_imports_a_higher_layer() -> None:
    assert upward_imports(import_graph()) == []


def test_the_import_graph_has_no_cycle() -> None:
    assert set(cycles(import_graph())) - CYCLES_ALLOWED == set()


def test_no_module_over_the_size_limit() -> None:
    assert oversized_modules() == set()


def test_no_function_over_the_size_limit() -> None:
    assert long_functions() == {}


def test_the_checks_catch_what_they_guard() -> None:
    """The detectors themselves: a cycle, an upward import, a long function are found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]
    assert upward_imports({"facesvg.core.x": {"facesvg.service.y"}, "facesvg.service.y": set()}) != []
    assert upward_imports({"facesvg.core.x": {"facesvg.client.y"}, "facesvg.client.y": set()}) != []
    assert upward_imports({"facesvg.service.y": {"facesvg.core.x"}, "facesvg.core.x": set()}) == []
