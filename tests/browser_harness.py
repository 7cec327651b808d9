"""Driving Debian's chromium with Playwright: launch, screenshots, the axe-core check.

Never a downloaded browser: ``/usr/bin/chromium`` (``.ci/run`` installs Debian's package when it
is missing). axe-core is vendored in ``tests/assets/axe.min.js`` (version in docs/portal.md).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parent / "assets" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: axe impacts that fail a page
BLOCKING = frozenset({"serious", "critical"})


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Recorder:
    """Numbered screenshots of each step, and the axe check of each page on the way."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        self.count = 0
        self.checked: list[str] = []

    def shot(self, page: Page, name: str) -> Path:
        self.count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        path = self.directory / f"{self.count:02d}-{slug}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def step(self, page: Page, name: str) -> None:
        """Screenshot the page, then check it with axe: no serious or critical violation."""
        self.shot(page, name)
        violations = axe_violations(page)
        self.checked.append(page.url)
        assert violations == [], f"accessibility of {name} ({page.url}):\n" + "\n".join(violations)


def axe_violations(page: Page) -> list[str]:
    """Serious and critical axe-core violations of the page, one line each."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    lines = []
    for violation in result["violations"]:
        if violation.get("impact") in BLOCKING:
            targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
            lines.append(f"{violation['impact']} {violation['id']}: {violation['help']} {targets}")
    return lines
