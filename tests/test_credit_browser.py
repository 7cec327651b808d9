"""Consumption credit and a top-up in a real browser, phone-sized (390 × 844): the pages fit the
screen, their controls are large enough to tap, and axe finds no serious or critical violation.

SQLite only, like the other browser journey: the pages are exercised here, the money paths on
both databases by the API tests (tests/test_credit_topups.py)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from browser_harness import PHONE, SCREENSHOTS, Recorder, chromium
from huafei.core.clock import FrozenClock
from huafei.core.db import Database
from huafei.identity.models import Seller
from huafei.ledger import NewTransfer, transfer
from huafei.ledger.chart import PLATFORM, Code, ensure_account
from live import LiveApp, serve_live

pytestmark = [pytest.mark.browser, pytest.mark.db]

PHONE_NUMBER = "13800138000"
TOPPED_UP = "13912345678"


@pytest.fixture
def live(db: Database, clock: FrozenClock, tmp_path: Path) -> Iterator[LiveApp]:
    with serve_live(db, clock, env="test", sandbox_dir=str(tmp_path / "sandbox")) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def assert_fits_a_phone(page: Page) -> None:
    """No horizontal scrolling at 390 px, and every control in the page's content at least
    44 px tall (a finger's tap)."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"
    small = page.evaluate(
        """() => [...document.querySelectorAll('main a, main button, main input, main select')]
            .filter(e => e.type !== 'hidden' && e.getClientRects().length > 0)
            .map(e => [(e.textContent || e.name).trim(), e.getBoundingClientRect().height])
            .filter(([, height]) => height < 44)"""
    )
    assert small == [], f"controls under 44 px on {page.url}: {small}"


def give_credit(db: Database, clock: FrozenClock, fen: int) -> None:
    """The seller's card proceeds settled into consumption credit (backed in escrow)."""
    now = clock.now()

    def work(session: object) -> None:
        seller = session.scalars(select(Seller).where(Seller.phone == PHONE_NUMBER)).one()  # type: ignore[attr-defined]
        escrow = ensure_account(session, Code.ESCROW, PLATFORM, now=now)  # type: ignore[arg-type]
        credit = ensure_account(session, Code.CREDIT_AVAILABLE, f"seller:{seller.id}", now=now)  # type: ignore[arg-type]
        transfer(
            session,  # type: ignore[arg-type]
            NewTransfer(f"test-credit:{uuid.uuid4().hex}", escrow.id, credit.id, fen, ref="test"),
            now=now,
        )

    db.run(work)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_seller_tops_up_a_phone_with_consumption_credit(
    live: LiveApp, browser: Browser, db: Database, clock: FrozenClock
) -> None:
    shots = Recorder(SCREENSHOTS / "credit")
    context = browser.new_context(
        base_url=live.url,
        viewport=PHONE,  # type: ignore[arg-type]
        locale="zh-CN",
        is_mobile=True,
        has_touch=True,
        bypass_csp=True,  # axe-core is injected as an inline script; the pages forbid those
    )
    context.set_default_timeout(20_000)
    page = context.new_page()

    page.goto("/sign-in?next=/wallet/credit")
    page.get_by_label("手机号").fill(PHONE_NUMBER)
    page.keyboard.press("Enter")
    with httpx.Client(base_url=live.url, timeout=20) as http:
        text = http.get("/sandbox/sms", params={"phone": PHONE_NUMBER}).json()[0]["text"]
    page.get_by_label("6 位验证码").fill(re.search(r"\d{6}", text).group())  # type: ignore[union-attr]
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/wallet/credit"))

    give_credit(db, clock, 10_000)
    page.reload()
    expect(page.locator("h1")).to_have_text("消费金")
    expect(page.locator("#credit-available")).to_have_text("¥100.00")
    expect(page.locator("#discount")).to_contain_text("¥100.00 的话费只需 ¥98.00 消费金")
    assert_fits_a_phone(page)
    shots.step(page, "credit")

    page.get_by_label("充值手机号").fill(TOPPED_UP)
    page.get_by_label("金额").select_option("5000")
    page.get_by_role("button", name="查看价格").click()
    expect(page.locator("#price")).to_have_text("¥49.00")
    expect(page.locator("#discount")).to_have_text("¥1.00")
    expect(page.get_by_text("139****5678")).to_be_visible()
    assert_fits_a_phone(page)
    shots.step(page, "top-up price")

    page.get_by_role("button", name="支付 ¥49.00 并充值").click()
    expect(page.get_by_role("status")).to_have_text("充值成功，话费已到账。")
    expect(page.locator('.topup[data-status="succeeded"]')).to_have_count(1)
    expect(page.locator("#credit-available")).to_have_text("¥51.00")
    assert_fits_a_phone(page)
    shots.step(page, "top-up done")

    page.goto("/wallet")
    page.get_by_role("link", name="消费金与充话费").click()
    expect(page).to_have_url(re.compile(r"/wallet/credit$"))
    context.close()
