"""The command line and the commands form no import cycle (imports inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers import REPO

PACKAGE = REPO / "nplint"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_graph() -> dict[str, set[str]]:
    """Module → the nplint modules it imports anywhere in its body, ``TYPE_CHECKING`` blocks aside."""
    paths = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        checking = {
            id(child)
            for node in ast.walk(tree)
            if isinstance(node, ast.If)
            and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
            for statement in node.body
            for child in ast.walk(statement)
        }
        targets: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in checking:
                continue  # never executed: a type annotation's import is no runtime edge
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    # `from package import module` imports the module; `from module import name` the module.
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in paths else base)
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def _cycles_through(graph: dict[str, set[str]], start: str) -> list[list[str]]:
    """Import paths that lead from ``start`` back to it."""
    found: list[list[str]] = []
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for target in sorted(graph.get(node, ())):
            if target == start:
                found.append([*path, start])
            elif target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return found


GRAPH = _import_graph()


def test_the_graph_sees_imports_inside_functions() -> None:
    # cli imports the commands at the top; check imports lint; run_command imports nothing by name.
    assert {"nplint.commands.check", "nplint.commands.common"} <= GRAPH["nplint.cli"]
    assert "nplint.lint" in GRAPH["nplint.commands.reach"]  # imported inside run()


def test_a_cycle_is_found_when_there_is_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles_through(graph, "a") == [["a", "b", "c", "a"]]
    assert _cycles_through(graph, "d") == []


@pytest.mark.parametrize(
    "module", sorted(m for m in GRAPH if m == "nplint.cli" or m.startswith("nplint.commands"))
)
def test_no_import_cycle_through_the_command_line_or_a_command(module: str) -> None:
    assert _cycles_through(GRAPH, module) == []
