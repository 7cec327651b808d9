"""Size limits of the code: no function in ``src/`` over 80 lines, no module over 500 lines.

Migrations are exempt (a revision is a declarative list of tables). Anything else over a limit
must be in an allowlist below with its reason; an entry no longer needed fails too, so the lists
only shrink. Ruff checks complexity, branches, returns and statements (pyproject.toml).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500

#: (module path below src/, qualified function name) → why it may be longer
LONG_FUNCTIONS: dict[tuple[str, str], str] = {}
#: module path below src/ → why it may be longer
LONG_MODULES: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(path for path in (SRC / "huafei").rglob("*.py") if "migrations" not in path.parts)


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, int]]:
    """Every function and method, nested ones too: (qualified name, lines)."""
    found = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = prefix + node.name
            if not isinstance(node, ast.ClassDef):
                found.append((name, (node.end_lineno or node.lineno) - node.lineno + 1))
            found += _functions(node, name + ".")
    return found


def _long_functions() -> dict[tuple[str, str], int]:
    long = {}
    for path in _modules():
        module = path.relative_to(SRC).as_posix()
        for name, lines in _functions(ast.parse(path.read_text(encoding="utf-8"))):
            if lines > MAX_FUNCTION_LINES:
                long[(module, name)] = lines
    return long


def _long_modules() -> dict[str, int]:
    long = {}
    for path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            long[path.relative_to(SRC).as_posix()] = lines
    return long


def test_the_walk_sees_the_code() -> None:
    assert len(_modules()) > 100
    functions = [f for path in _modules() for f in _functions(ast.parse(path.read_text()))]
    assert len(functions) > 1000


def test_no_function_is_longer_than_the_limit() -> None:
    over = {key: lines for key, lines in _long_functions().items() if key not in LONG_FUNCTIONS}
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines: {over}"


def test_no_module_is_longer_than_the_limit() -> None:
    over = {key: lines for key, lines in _long_modules().items() if key not in LONG_MODULES}
    assert not over, f"modules over {MAX_MODULE_LINES} lines: {over}"


def test_every_allowlist_entry_is_still_needed() -> None:
    stale = sorted(set(LONG_FUNCTIONS) - set(_long_functions()))
    stale += sorted(set(LONG_MODULES) - set(_long_modules()))
    assert not stale, f"within the limits now, remove from the allowlist: {stale}"
