"""The package's import graph: no cycle, counting imports made inside functions (issue 13).

import-linter's layers contract (`make lint`) checks that imports only go down
(app > workflow > stages > ml > config > core); it does not see a cycle inside one layer, and a
cycle hidden in a function import still makes a reader unable to tell which module depends on
which. So this test builds the graph itself with `ast`, function bodies included, and also asks
that every import of a sauti module inside a function says why it is deferred.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sauti"


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["sauti", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imported(node: ast.AST, module: str, is_package: bool, known: dict) -> list[str]:
    """The sauti modules an import statement names (a package's module, not the package, when
    the imported name is a module: `from sauti.ml import plots` is an edge to sauti.ml.plots)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parent = module.split(".")[: None if is_package else -1]
            parent = parent[: len(parent) - (node.level - 1)]
            base = ".".join(parent + ([node.module] if node.module else []))
        targets = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
            for alias in node.names
        ]
    found = []
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target.startswith("sauti"):
            found.append(target)
    return found


def import_graph() -> dict[str, set[str]]:
    known = module_names()
    graph = {name: set() for name in known}
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[name].update(
                    t for t in imported(node, name, path.name == "__init__.py", known) if t != name
                )
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first = last), or None; depth-first with colours."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle_counting_imports_inside_functions():
    graph = import_graph()
    assert len(graph) > 100  # the whole package was read
    assert "sauti.stages.features" in graph["sauti.workflow.plan"]  # function bodies count too
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_find_cycle_finds_one_through_a_function_import(tmp_path):
    """The checker itself: a cycle closed only by an import inside a function is found."""
    graph = {"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a"}}
    assert find_cycle(graph) is None
    graph["c"].add("a")
    assert find_cycle(graph) == ["a", "b", "c", "a"]


def test_every_deferred_sauti_import_says_why():
    """An import of a sauti module inside a function defers a heavy package (torch,
    scikit-learn, matplotlib, ...) and says which in a comment on its line."""
    silent = []
    for name, path in module_names().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for func in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sauti"):
                    text = lines[node.lineno - 1 : node.end_lineno]
                    if not any("#" in line for line in text):
                        silent.append(f"{name}:{node.lineno}")
    assert not silent, "in-function imports without a reason: " + ", ".join(silent)
