"""Project rules: settings documented; the import contracts hold, and catch a broken one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from huafei.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "huafei"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"`HUAFEI_{name.upper()}`" in readme, name


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the project's contracts on the package under ``tree/src``."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(  # noqa: S603 - our own venv's lint-imports, fixed arguments
        [str(LINT_IMPORTS), "--no-logo", "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    shutil.copytree(SRC, tmp_path / "src" / "huafei", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _add_import(tree: Path, module: str, line: str) -> None:
    path = tree / "src" / "huafei" / Path(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_package_keeps_every_import_contract(package_copy: Path) -> None:
    outcome = _lint_imports(package_copy)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "0 broken" in outcome.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "orders.service",
            "from huafei.composition.container import Container",
            "Layers: entry points > composition > portal > domains",
        ),
        ("payouts.service.holds", "import huafei.portal.pages", "Layers: entry points"),
        ("ledger.engine", "import huafei.payouts.models", "Layers: entry points"),
        (
            "payouts.service.common",
            "from huafei.orders.tasks import OrderTasks",
            "wired by the composition root alone",
        ),
        (
            "notices.service",
            "from huafei.identity.deps import SellerCtx",
            "never by services",
        ),
        ("rates.service", "import fastapi", "Services and tables know nothing of HTTP"),
        ("carriers.gateway", "import huafei.orders.models", "No package imports itself back"),
    ],
    ids=["domain-imports-container", "domain-imports-portal", "ledger-imports-domain",
         "domain-imports-tasks", "service-imports-deps", "service-imports-http", "cycle"],
)  # fmt: skip
def test_a_broken_contract_fails_the_lint(
    package_copy: Path, module: str, line: str, contract: str
) -> None:
    _add_import(package_copy, module, line)
    outcome = _lint_imports(package_copy)
    assert outcome.returncode != 0
    report = " ".join((outcome.stdout + outcome.stderr).split())
    assert f"{contract}" in report
    assert "BROKEN" in report
