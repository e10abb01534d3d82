"""The import graph of a package, read from its source (nothing is imported): every `import` and `from ... import`
of the package's own modules counts, at module level, inside functions and under `if TYPE_CHECKING:`.

Used by tests/test_architecture.py (no circles, imports only down docs/architecture.md's layers) and, as
`python -m facegate_dev.imports [package folder]`, to print the graph's size, its circles and its longest chain.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
from functools import cache
from pathlib import Path

Graph = dict[str, set[str]]  # module -> the package's modules it imports


def package_modules(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under `package_dir` (a package's __init__ is the package)."""
    root = Path(package_dir)
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The module `name` refers to: itself, or the closest enclosing package of it that is a module here."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(package_dir: Path) -> Graph:
    modules = package_modules(package_dir)
    top = Path(package_dir).name
    graph: Graph = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: from the package `level - 1` steps above this module's package
                    base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                # `from a import b` imports the module a.b when there is one, else a name from a
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                           for alias in node.names]
            for target in targets:
                if target == top or target.startswith(top + "."):
                    found = _known(target, modules)
                    if found is not None and found != name:
                        graph[name].add(found)
    return graph


def circles(graph: Graph) -> list[list[str]]:
    """The groups of modules that import each other, directly or round a loop (strongly connected components of
    more than one module, and modules that import themselves), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm; the graph is small enough for recursion
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1 or module in graph[module]:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def longest_chain(graph: Graph) -> list[str]:
    """The longest path of imports (a circle counts as one step), as module names."""
    if circles(graph):
        raise ValueError("the graph has circles; the longest chain is defined on an acyclic one")

    @cache
    def from_module(module: str) -> tuple[str, ...]:
        longest: tuple[str, ...] = ()
        for target in graph[module]:
            chain = from_module(target)
            if len(chain) > len(longest):
                longest = chain
        return (module, *longest)

    return list(max((from_module(module) for module in sorted(graph)), key=len, default=()))


def layers_from_doc(doc: Path) -> list[tuple[int, str, list[str]]]:
    """docs/architecture.md's layer table: (number, name, module patterns), bottom first. A pattern is a module
    name, or `package.*` for a package and every module inside it."""
    rows = []
    for line in Path(doc).read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit():
            rows.append((int(cells[0]), cells[1], re.findall(r"`([\w.*]+)`", cells[2])))
    return sorted(rows)


def layer_of(module: str, layers: list[tuple[int, str, list[str]]]) -> int | None:
    for number, _, patterns in layers:
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and (module == pattern[:-2] or
                                                                  fnmatch.fnmatchcase(module, pattern))):
                return number
    return None


def summary(package_dir: Path) -> list[str]:
    graph = import_graph(package_dir)
    found = circles(graph)
    lines = [f"modules: {len(graph)}, imports between them: {sum(len(t) for t in graph.values())}",
             f"circles: {len(found)}, modules in them: {sum(len(group) for group in found)}"]
    lines += [f"  circle: {' <-> '.join(group)}" for group in found]
    if not found:
        chain = longest_chain(graph)
        lines.append(f"longest chain: {len(chain)} modules: {' -> '.join(chain)}")
    return lines


if __name__ == "__main__":
    print("\n".join(summary(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "facegate")))
