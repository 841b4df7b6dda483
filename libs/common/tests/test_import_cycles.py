"""No module of Folio imports, directly or through others, a module that imports it back.

Every import counts — at the top, inside a function, under ``TYPE_CHECKING`` — because a
cycle hidden in a function (``runtime`` building ``middleware`` that typed ``runtime``)
is still two modules that cannot be understood, or loaded, one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = {
    "folio_common": ROOT / "libs/common/src/folio_common",
    "folio_cli": ROOT / "libs/cli/src/folio_cli",
    "folio_api": ROOT / "services/api/src/folio_api",
    "folio_worker": ROOT / "services/worker/src/folio_worker",
}


def _module_name(package: str, root: Path, path: Path) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(module: str, is_package: bool, tree: ast.AST) -> set[str]:
    """Every Folio module (or module attribute) ``module`` imports, anywhere in its body."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(here[: len(here) - node.level + 1]) if node.level else ""
            target = ".".join(p for p in (base, node.module or "") if p)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            module = _module_name(package, root, path)
            graph[module] = _imported(
                module, path.name == "__init__.py", ast.parse(path.read_text())
            )
    return {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for dep in sorted(graph[module]):
            cycle = visit(dep, [*path, module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return None


def test_the_checker_sees_a_cycle_hidden_in_a_function() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    tree = ast.parse("def build():\n    from .middleware import Liveness\n")
    assert "folio_worker.middleware" in _imported("folio_worker.runtime", False, tree)


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert "folio_worker.actors" in graph and "folio_common.connections" in graph
    assert find_cycle(graph) is None
