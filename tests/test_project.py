"""Project rules: settings documented, dependencies pointing inward."""

from __future__ import annotations

import ast
from pathlib import Path

from huafei.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "huafei"
DOMAINS = {"ledger", "cards", "carriers", "identity", "risk", "payouts", "evidence", "orders",
           "notices", "jobs", "partners", "disputes", "rates", "sandbox", "wallets",
           "sms"}  # fmt: skip


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"`HUAFEI_{name.upper()}`" in readme, name


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_dependencies_point_inward() -> None:
    problems = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        top = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for module in _imports(path):
            if not module.startswith("huafei."):
                continue
            target = module.split(".")[1]
            if top == "core" and target != "core":
                problems.append(f"{rel}: core imports {module}")
            if top == "ledger" and target not in ("core", "ledger"):
                problems.append(f"{rel}: the ledger imports {module}")
            if top in DOMAINS and target in ("web", "cli"):
                problems.append(f"{rel}: a domain imports the {target} layer ({module})")
            if rel.name == "service.py" and module.endswith(".routes"):
                problems.append(f"{rel}: a service imports routes ({module})")
    assert problems == []
