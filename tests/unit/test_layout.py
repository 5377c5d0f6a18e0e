"""
The package's layout rules (docs/architecture.md): the engine imports no Airflow, no module imports itself
through a cycle, and every import names the module that defines the name (no re-export shims).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_obkafka"
PUBLIC_FACADES = {f"{PACKAGE}.dag_factory"}  # the provider's API: DAG files import from the package
AIRFLOW_SIDE = ("airflow", f"{PACKAGE}.hooks", f"{PACKAGE}.operators", f"{PACKAGE}.sensors",
                f"{PACKAGE}.triggers", f"{PACKAGE}.dag_factory")  # fmt: skip


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its `__init__.py`)."""
    found = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, tuple[str, ...], int]]:
    """`(module, names, line)` of every import in the file, at any depth (TYPE_CHECKING and lazy ones too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, tuple(alias.name for alias in node.names), node.lineno))
    return found


def _targets(module: str, names: tuple[str, ...]) -> set[str]:
    """The package's modules an import loads: the module, its parent packages, and submodules named."""
    loaded = {module} | {f"{module}.{name}" for name in names if f"{module}.{name}" in MODULES}
    parents = {".".join(m.split(".")[:i]) for m in loaded for i in range(1, m.count(".") + 1)}
    return {m for m in loaded | parents if m in MODULES}


def _graph() -> dict[str, set[str]]:
    """Module -> the modules it imports. A package a module lives in is left out: Python loads it first
    anyway, and a facade `__init__` that imports its own submodules (the public `dag_factory`) is no cycle."""
    return {
        name: {t for module, names, _ in _imports(path) for t in _targets(module, names)
               if t != name and not name.startswith(f"{t}.")}  # fmt: skip
        for name, path in MODULES.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_inside_the_package() -> None:
    assert _cycles(_graph()) == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith(f"{PACKAGE}.engine")))
def test_engine_module_imports_nothing_of_airflow(name: str) -> None:
    """Statically: no import of airflow, or of the provider's Airflow side, anywhere in an engine module."""
    bad = [
        f"line {line}: {module}"
        for module, _, line in _imports(MODULES[name])
        if any(module == side or module.startswith(f"{side}.") for side in AIRFLOW_SIDE)
    ]
    assert bad == [], f"{name} imports the Airflow side"


def test_engine_loads_with_airflow_absent() -> None:
    """At run time, too: every engine module imports in a process where `import airflow` fails."""
    engine = sorted(n for n in MODULES if n.startswith(f"{PACKAGE}.engine"))
    code = (
        "import importlib, sys\n"
        "sys.modules['airflow'] = None\n"
        f"for name in {engine!r}:\n"
        "    importlib.import_module(name)\n"
        "print('ok', len(sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok")


def _defined(path: Path) -> set[str]:
    """Names a module binds at top level other than by importing them."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.If):  # e.g. a name bound per Python version
            for inner in node.body + node.orelse:
                if isinstance(inner, (ast.FunctionDef, ast.ClassDef)):
                    names.add(inner.name)
    return names


def test_every_import_names_the_defining_module() -> None:
    """`from package.x import y` needs `y` defined in `x` (or `x.y` a module): no re-export shims."""
    shims = []
    everywhere = {**MODULES, **{
        ".".join(p.relative_to(ROOT).with_suffix("").parts): p for top in ("tests", "bench", "scripts", "dags")
        for p in (ROOT / top).rglob("*.py")
    }}  # fmt: skip
    for name, path in sorted(everywhere.items()):
        for module, names, line in _imports(path):
            if module not in MODULES:
                continue
            defined = _defined(MODULES[module])
            for item in names:
                if module in PUBLIC_FACADES or item == "*" or item in defined or f"{module}.{item}" in MODULES:
                    continue
                shims.append(f"{path.relative_to(ROOT)}:{line}: {item} is not defined in {module}")
    assert shims == []


def _module_aliases(tree: ast.AST) -> dict[str, str]:
    """`alias -> module` for every module of the package a file imports as a name (`from x import mod as m`)."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


def test_every_module_attribute_is_defined_there() -> None:
    """`mod.name` on an imported module of the package needs `name` defined in it (no shim reached as an attribute)."""
    wrong = []
    files = list(MODULES.values()) + [p for top in ("tests", "bench", "scripts", "dags") for p in (ROOT / top).rglob("*.py")]
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        aliases = _module_aliases(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                module = aliases[node.value.id]
                if node.attr not in _defined(MODULES[module]) and f"{module}.{node.attr}" not in MODULES:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr} ({module})")
    assert wrong == []
