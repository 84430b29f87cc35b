"""A package's runtime import graph, read with ``ast``, and the cycles in it.

What counts as an import: every ``import`` / ``from ... import`` that can run, at module
level or inside a function (a lazy import that closes a cycle is still a cycle: it only
moves the failure, or a lock taken while importing, to the first call). Imports under
``if TYPE_CHECKING:`` never run and do not count. Modules go by their dotted names
("ibkr_core.connection"); imports from outside the package are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    """The dotted name Python imports ``path`` as ("ibkr_core.connection")."""
    parts = list(path.resolve().relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The ``modules`` that ``path`` imports when it runs (absolute or relative)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for child in node.body for n in ast.walk(child)}
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([target] if target else [])])
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    return {m for m in found if m in modules and m != name}


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package (under ``root``) it imports at runtime."""
    files = {module_name(p): p for p in root.rglob("*.py")}
    modules = set(files)
    return {name: runtime_imports(path, modules) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """One import cycle found from each module that starts one (empty: no cycles)."""

    def cycle_from(node: str, trail: tuple[str, ...]) -> tuple[str, ...] | None:
        if node in trail:
            return (*trail, node)
        for nxt in sorted(graph.get(node, ())):
            found = cycle_from(nxt, (*trail, node))
            if found:
                return found
        return None

    return [c for name in sorted(graph) if (c := cycle_from(name, ()))]
