"""plate_ocr's import graph has no cycles and points only down: never at the handlers or training.

Read with ast, not by importing: every import counts, those inside functions (the engines' lazy
imports) and under TYPE_CHECKING too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "layers" / "plate_ocr"
#: Top-level names plate_ocr must never import: the handlers (functions/), training and tests.
UPWARD = frozenset({"api", "batch", "functions", "training", "tests", "scripts"})


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted((ROOT / "plate_ocr").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imported_names(name: str, path: Path) -> set[str]:
    """Every name ``name`` imports, absolute (``plate_ocr.grammar.parse``, ``numpy``)."""
    names: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    """plate_ocr module -> the plate_ocr modules it imports; and every upward import found."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    upward = []
    for name, path in modules.items():
        for imported in _imported_names(name, path):
            if imported.split(".")[0] in UPWARD:
                upward.append(f"{name} imports {imported}")
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.startswith("plate_ocr") and target != name:
                graph[name].add(target)
    return graph, upward


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` (its modules in import order), or [] when there is none."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return []
        path.append(node)
        for target in sorted(graph[node]):
            if found := visit(target):
                return found
        path.pop()
        done.add(node)
        return []

    for node in sorted(graph):
        if found := visit(node):
            return found
    return []


def test_the_graph_is_read_from_the_whole_package() -> None:
    graph, _ = _graph()

    assert {"plate_ocr.pipeline", "plate_ocr.imaging.pool", "plate_ocr.locate"} <= graph.keys()
    assert "plate_ocr.grammar" in graph["plate_ocr.pipeline"]


def test_plate_ocr_has_no_import_cycle() -> None:
    graph, _ = _graph()

    assert _cycle(graph) == []


def test_a_cycle_would_be_found() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_plate_ocr_never_imports_the_handlers_training_or_tests() -> None:
    _, upward = _graph()

    assert upward == []
