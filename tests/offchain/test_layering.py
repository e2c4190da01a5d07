"""The import layering of src/consortium, read with `ast` (nothing is imported, no chain).

- no import cycle among the package's modules, counting every import: those at module level and
  those inside functions (a deferred import still ties the two modules together); imports under
  `if TYPE_CHECKING:` are left out, they never run;
- `consortium.domain` imports neither brownie nor web3 (the pure twins of the contracts);
- `consortium.deploy` imports no `consortium.reporting` module at module level (deploying must not
  load the indexer and SQLAlchemy; it reads the rules file from inside its reporting deployer).

The cycle finder and the import reader are checked on hand-made graphs and a hand-made package, so
a test here can fail.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "consortium"


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # a module of the package when the name is one, else the dotted name as written
    line: int
    deferred: bool  # inside a function: runs when the function is called, not at import


def modules_of(root: Path, package: str) -> dict[str, Path]:
    """{dotted module name: file} of every module under root/package."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, deferred: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other, deferred
                yield from _walk(other, deferred)
            continue
        inner = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield child, inner
        yield from _walk(child, inner)


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> list[Import]:
    """The imports one module makes, resolved to the package's modules where they are one."""
    is_package = path.name == "__init__.py"
    out = []
    for node, deferred in _walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for name in dict.fromkeys(names):
            out.append(Import(module, name, node.lineno, deferred))
    return out


def import_graph(root: Path = SRC, package: str = PACKAGE) -> tuple[dict, list[Import]]:
    """({module: {modules of the package it imports}}, every import read)."""
    known = modules_of(root, package)
    found = [i for m, p in known.items() for i in imports_of(m, p, known)]
    graph: dict[str, set[str]] = {m: set() for m in known}
    for i in found:
        if i.imported in known and i.imported != i.importer:
            graph[i.importer].add(i.imported)
    return graph, found


@functools.cache
def src_graph() -> tuple[dict, list[Import]]:
    """The graph of src/consortium, read once per run."""
    return import_graph(SRC, PACKAGE)


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as [a, b, ..., a], or None when it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


# ------------------------------------------------------------------ the tools can fail
def test_find_cycle__hand_made_graphs__finds_the_cycle_and_only_it():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": {"a"}}) is None
    assert find_cycle({"x": {"y"}, "y": {"z"}, "z": {"y"}}) == ["y", "z", "y"]


def test_import_graph__injected_cycle_in_a_package__is_found(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from .. import c\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import d\n"
        "def later():\n    from pkg.a import name\n"
    )
    (pkg / "d.py").write_text("import pkg.c\n")
    graph, found = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.c"}
    assert graph["pkg.c"] == {"pkg.a"}  # the TYPE_CHECKING import is not counted
    assert [(i.imported, i.deferred) for i in found if i.importer == "pkg.c"] == [
        ("typing", False),
        ("pkg.a", True),
    ]
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]
    (pkg / "c.py").write_text("")
    assert find_cycle(import_graph(tmp_path, "pkg")[0]) is None


# ------------------------------------------------------------------ the rules
def test_src__no_import_cycle():
    graph, _ = src_graph()
    assert len(graph) > 40  # the whole package was read
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_domain__imports_neither_brownie_nor_web3():
    _, found = src_graph()
    bad = [
        f"{i.importer} line {i.line}: {i.imported}"
        for i in found
        if (i.importer == "consortium.domain" or i.importer.startswith("consortium.domain."))
        and i.imported.split(".")[0] in {"brownie", "web3"}
    ]
    assert not bad, "domain/ must stay free of chain libraries: " + "; ".join(bad)


def test_business_layers__never_import_the_agent_runtime():
    """Roles, scenarios, domain and reporting stay usable without the process runtime (the
    in-process driver of tests and bench uses them); only entry points and agent/ know agents."""
    _, found = src_graph()
    layers = (
        "consortium.domain",
        "consortium.roles",
        "consortium.scenarios",
        "consortium.reporting",
    )
    bad = [
        f"{i.importer} line {i.line}: {i.imported}"
        for i in found
        if i.importer.startswith(layers)
        and (i.imported == "consortium.agent" or i.imported.startswith("consortium.agent."))
    ]
    assert not bad, "a business layer imports agent/: " + "; ".join(bad)


def test_deploy__imports_no_reporting_module_at_module_level():
    _, found = src_graph()
    bad = [
        f"line {i.line}: {i.imported}"
        for i in found
        if i.importer == "consortium.deploy"
        and not i.deferred
        and (i.imported == "consortium.reporting" or i.imported.startswith("consortium.reporting."))
    ]
    assert not bad, "consortium.deploy imports reporting at module level: " + "; ".join(bad)


def test_reporting_init__only_re_exports_what_it_lists():
    graph, found = src_graph()
    tree = ast.parse((SRC / "consortium" / "reporting" / "__init__.py").read_text())
    exported = next(
        ast.literal_eval(n.value)
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__all__"
    )
    from consortium import reporting

    assert set(exported) == set(reporting._EXPORTS)
    assert graph["consortium.reporting"] == set()  # nothing loaded at import: names come lazily
    assert not [i for i in found if i.importer == "consortium.reporting" and i.deferred]


MAX_FUNCTION_LINES = 80


def long_functions(root: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Every function (or method) under `root` longer than `limit` lines, decorators aside."""
    out = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    out.append(
                        f"{path.relative_to(root)}:{node.lineno} {node.name} ({lines} lines)"
                    )
    return out


def test_long_functions__hand_made_module__is_found(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "m.py").write_text(f"def short():\n    pass\n\n\ndef long():\n{body}\n")
    assert long_functions(tmp_path) == [f"m.py:5 long ({MAX_FUNCTION_LINES + 1} lines)"]


def test_src__no_function_over_80_lines():
    found = long_functions(SRC)
    assert not found, "split along its natural steps: " + "; ".join(found)


def test_portal__is_an_entry_point__only_cli_imports_it():
    """The web portal sits on top like cli: a business module importing it would pull aiohttp
    and the sign-in into the day's code."""
    _, found = src_graph()
    bad = [
        f"{i.importer} line {i.line}: {i.imported}"
        for i in found
        if (i.imported == "consortium.portal" or i.imported.startswith("consortium.portal."))
        and not i.importer.startswith("consortium.portal")
        and i.importer != "consortium.cli"
    ]
    assert not bad, "only cli may import the portal: " + "; ".join(bad)
