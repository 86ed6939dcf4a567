"""Print the import cycles among primitives, tasks, search and discover, and any import that
goes up the layers (primitives <- tasks <- search <- discover); exit 1 if there is either.

Every import counts, module-level and function-level alike (a lazy import still couples two
modules). ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to
``pkg`` (its ``__init__``). A package's ``__init__`` importing its own submodules is not a cycle
by itself; a submodule importing its package's ``__init__`` back is reported.

    python .ci/import_cycles.py [ROOT]

``tests/test_imports.py`` runs the same checks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import networkx as nx

PACKAGES = ("primitives", "tasks", "search", "discover")


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _base(module: str, is_package: bool, level: int, name: str | None) -> str:
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join(parts + ([name] if name else []))


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (_base(module, is_package, node.level, node.module) if node.level
                    else node.module)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # import a.b.c of a non-module: its package
                target = target.rpartition(".")[0]
            if target and target != module:
                out.add(target)
    return out


def graph(root: Path) -> nx.DiGraph:
    """module -> modules it imports, within the four packages."""
    known = modules(root)
    out = nx.DiGraph()
    out.add_nodes_from(known)
    for module, path in known.items():
        for target in imports(module, path, known):
            if known[module].name == "__init__.py" and target.startswith(module + "."):
                continue  # a package importing its own submodules
            out.add_edge(module, target)
    return out


def cycles(root: Path) -> list[list[str]]:
    """Every set of modules that import each other, directly or through others."""
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph(root)) if len(c) > 1)


def upward(root: Path) -> list[tuple[str, str]]:
    """Imports from a lower layer of a higher one, e.g. ``search`` importing ``discover``."""
    rank = {p: i for i, p in enumerate(PACKAGES)}
    return sorted((a, b) for a, b in graph(root).edges
                  if rank[b.split(".")[0]] > rank[a.split(".")[0]])


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[1]
    found, up = cycles(root), upward(root)
    for cycle in found:
        print("cycle: " + " <-> ".join(cycle))
    for a, b in up:
        print(f"upward: {a} imports {b}")
    print(f"{len(found)} import cycle(s), {len(up)} upward import(s) among {', '.join(PACKAGES)}")
    return 1 if found or up else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
