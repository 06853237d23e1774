"""No import circle in ``verl_ccrl``: every module-level import between its modules, ``TYPE_CHECKING`` ones
included, points one way (``eval/table.py`` and the modules it imported once imported it back for a type). Imports
inside a function are left out: a deferred import is how a module reaches a heavy or optional one at run time
(``integration.cpu`` loads its rollout only when verl asks for it)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "verl_ccrl"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_level(statements: list[ast.stmt]):
    """The statements run when the module is imported: the body, into ``if`` / ``try`` / ``with`` blocks."""
    for statement in statements:
        yield statement
        if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for block in ("body", "orelse", "finalbody", "handlers"):
                yield from module_level(getattr(statement, block, []))


def import_graph() -> dict[str, set[str]]:
    """Module -> the ``verl_ccrl`` modules it imports (a package's ``__init__`` only when named itself)."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in module_level(ast.parse(path.read_text(), str(path)).body):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from a.b import c` imports the module a.b.c when there is one, else the name c of a.b.
                targets.update(
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                    for alias in node.names
                )
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first = last), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = "done"
        stack.pop()
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_graph_sees_the_imports_of_the_eval_modules():
    graph = import_graph()
    assert {"verl_ccrl.eval.rows", "verl_ccrl.eval.calibration_table", "verl_ccrl.eval.plots"} <= graph[
        "verl_ccrl.eval.table"
    ]
    assert "verl_ccrl.eval.rows" in graph["verl_ccrl.eval.plots"]  # a TYPE_CHECKING import counts too


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_verl_ccrl_has_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)
