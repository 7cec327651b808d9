"""The whole seller journey and the finance approval in a real browser, phone-sized.

The platform runs as in production — uvicorn on a port of its own, the carrier and rail
sandboxes mounted, a worker in a background thread — and Debian's chromium drives the pages a
seller and two finance staff use. Every step is screenshotted to ``var/artifacts/screenshots/``
and checked with axe-core (no serious or critical violation).

These run on SQLite only: they exercise the pages, not the database (the API and service tests
cover both backends), and one browser run keeps the suite's time on two cores.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from browser_harness import DESKTOP, PHONE, SCREENSHOTS, Recorder, chromium
from factories import StaffCreds, make_id_number, make_staff
from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import issue_cards
from huafei.composition.runtime import build_registry
from huafei.core.clock import FrozenClock
from huafei.core.db import Database
from huafei.identity.passwords import totp_code
from huafei.invariants import check_everything
from huafei.jobs.worker import Worker
from huafei.rates.defaults import install_defaults
from live import LiveApp, serve_live
from payouts_harness import icbc_card
from waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.db]

PHONE_NUMBER = "13900139000"
REAL_NAME = "张三"
#: withdrawals above ¥200 wait for finance (the default is ¥20,000; a test seller sells ¥500)
APPROVAL_THRESHOLD_FEN = 20_000
WAIT_MS = 20_000


@dataclass
class Platform:
    live: LiveApp
    clock: FrozenClock
    http: httpx.Client

    @property
    def url(self) -> str:
        return self.live.url

    def sms_code(self, phone: str) -> str:
        messages = self.http.get("/sandbox/sms", params={"phone": phone}).json()
        match = re.search(r"\d{6}", messages[0]["text"])
        assert match
        return match.group()


@pytest.fixture
def platform(db: Database, clock: FrozenClock, tmp_path: Path) -> Iterator[Platform]:
    db.run(lambda s: install_defaults(s, now=clock.now()))
    with serve_live(
        db,
        clock,
        env="test",
        sandbox_dir=str(tmp_path / "sandbox"),
        sandbox_rail_settle_seconds=0.05,
        payout_approval_threshold_fen=APPROVAL_THRESHOLD_FEN,
    ) as live:
        registry = build_registry(live.container)
        registry.periodic.clear()  # daily reconciliation and sweeps are not this test's story
        worker = Worker(db, clock, registry, name="browser-test-worker", poll_seconds=0.05)
        thread = worker.start_thread()
        try:
            with httpx.Client(base_url=live.url, timeout=20) as http:
                yield Platform(live, clock, http)
        finally:
            worker.stop()
            thread.join(timeout=10)
    with db.session() as session:
        report = check_everything(session)
    assert report.ok, report.render()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _context(browser: Browser, platform: Platform, viewport: dict[str, int]) -> BrowserContext:
    context = browser.new_context(
        base_url=platform.url,
        viewport=viewport,  # type: ignore[arg-type]
        locale="zh-CN",
        is_mobile=viewport is PHONE,
        has_touch=viewport is PHONE,
        bypass_csp=True,  # axe-core is injected as an inline script; the pages forbid those
    )
    context.set_default_timeout(WAIT_MS)
    return context


def _until(check: Callable[[], bool], page: Page, *, timeout: float = 20.0) -> None:
    """Reload ``page`` until ``check`` holds (for results that arrive in the background)."""

    def reloaded_check() -> bool:
        if check():
            return True
        page.reload()
        return False

    wait_for(reloaded_check, what=f"the awaited state of {page.url}", timeout=timeout, interval=0.2)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_seller_sells_cards_and_withdraws_and_finance_approves(
    platform: Platform, browser: Browser, db: Database, clock: FrozenClock
) -> None:
    shots = Recorder(SCREENSHOTS)
    seller = _context(browser, platform, PHONE)
    page = seller.new_page()

    # -- the home page: what Huafei does, today's rates, the three profiles, the agreement ----
    page.goto("/")
    expect(page.locator("h1")).to_have_text("按公开透明的费率回收话费")
    expect(page.locator("table.rates").first).to_contain_text("8.8折")
    shots.step(page, "home")

    # -- sign in with the code texted to the phone (the sandbox outbox), keyboard only --------
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()  # the first stop skips to the content
    page.get_by_role("link", name="登录").first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("手机号")).to_be_focused()
    page.keyboard.type(PHONE_NUMBER)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("139****9000")
    shots.step(page, "sign-in code sent")
    expect(page.get_by_label("6 位验证码")).to_be_focused()
    page.keyboard.type(platform.sms_code(PHONE_NUMBER))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/sell\?done=signed_in$"))

    # -- verification: level 2 with the sandbox liveness selfie; limits before and after -----
    _nav(page, "实名认证").click()
    expect(page.get_by_text("您的等级：一级：手机号")).to_be_visible()
    shots.step(page, "verification before")
    page.get_by_label("真实姓名（与身份证一致）").fill(REAL_NAME)
    page.get_by_label("身份证号").fill(make_id_number())
    page.get_by_role("button", name="拍摄自拍（沙箱）").click()
    expect(page.locator("#selfie-status")).to_have_text("已完成自拍。")
    page.get_by_role("button", name="提交实名认证").click()
    expect(page.get_by_role("status")).to_contain_text("二级认证已完成")
    expect(page.get_by_text("您的等级：二级：实名与活体")).to_be_visible()
    shots.step(page, "verification after")

    # -- sell five cards: one bad line is marked with its reason, fixed, then accepted -------
    cards = issue_cards(
        platform.live.container.settings.sandbox_card_secret.get_secret_value(),
        Carrier.CMCC,
        10_000,
        5,
    )
    lines = [f"{card.serial} {card.pin}" for card in cards]
    with_a_typo = [*lines[:2], f"{cards[2].serial} {cards[2].pin[:-1]}", *lines[3:]]
    _nav(page, "卖卡").click()
    # The face list follows the carrier: Unicom sells no ¥10 card; back on Mobile, ¥100.
    faces = page.locator("#face_value_fen option")
    expect(faces.first).to_have_text("¥10.00")
    page.get_by_label("运营商").select_option("cucc")
    expect(faces.first).to_have_text("¥20.00")
    page.get_by_label("运营商").select_option("cmcc")
    expect(faces.first).to_have_text("¥10.00")
    page.get_by_label("面值").select_option("10000")
    page.locator("#cards").fill("\n".join(with_a_typo))
    bad = page.locator('#check li.bad[data-line="3"]')
    expect(bad).to_contain_text("卡密位数与该运营商不符")
    expect(page.locator("#check li.good")).to_have_count(4)
    shots.step(page, "sell a bad line")
    page.locator("#cards").fill("\n".join(lines))
    expect(page.locator("#check li.good")).to_have_count(5)
    expect(page.locator("#check li.bad")).to_have_count(0)
    expect(page.locator("#quote-total")).to_have_text("¥440.00")  # 5 × ¥100 at 8.8折
    page.get_by_label("我已阅读并同意回收服务协议。").check()
    page.get_by_label("这些卡属于我本人，来源合法。").check()
    shots.step(page, "sell ready")
    page.get_by_role("button", name="提交卡密").click()

    # -- the batch: the progress bar and each card's state update until all are final -------
    expect(page).to_have_url(re.compile(r"/batches/\d+$"))
    expect(page.locator("#progress")).to_have_attribute("data-done", "yes")
    expect(page.locator('#progress tr[data-state="settled"]')).to_have_count(5)
    expect(page.locator("#progress-text")).to_have_text("5 / 5 张卡已完成")
    shots.step(page, "batch settled")

    # -- orders: the list with filters, then one order's timeline ----------------------------
    _nav(page, "订单").click()
    page.get_by_label("状态").select_option("settled")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("tbody tr")).to_have_count(5)
    shots.step(page, "orders")
    page.locator("tbody tr a").first.click()
    expect(page.locator("#order-state")).to_have_text("已结算")
    expect(page.locator(".timeline li")).to_have_count(6)
    shots.step(page, "order timeline")

    # -- wallet: the balance, a bank card with the SMS code, a withdrawal with its fee -------
    _nav(page, "钱包").click()
    expect(page.locator("#available")).to_have_text("¥440.00")
    page.get_by_label("借记卡卡号").fill(icbc_card())
    page.get_by_label("持卡人").fill(REAL_NAME)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("status")).to_contain_text("139****9000")
    expect(page.get_by_label("短信验证码")).to_be_focused()
    page.keyboard.type(platform.sms_code(PHONE_NUMBER))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("收款账户已添加。")
    page.get_by_label("金额（元）").fill("100")
    page.get_by_role("button", name="查看手续费").click()
    expect(page.locator("#fee")).to_have_text("¥2.00")
    expect(page.locator("#total")).to_have_text("¥102.00")
    shots.step(page, "withdrawal fee")
    page.get_by_role("button", name="提现 ¥100.00").click()
    expect(page.get_by_role("status")).to_contain_text("提现申请已提交")
    _until(lambda: page.locator('[data-status="paid"]').count() == 1, page)
    expect(page.locator("#available")).to_have_text("¥338.00")
    shots.step(page, "wallet after withdrawal")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    statement = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "提现" in statement
    assert "order:" in statement

    # -- a withdrawal above the threshold waits for finance --------------------------------
    page.get_by_label("金额（元）").fill("300")
    page.get_by_role("button", name="查看手续费").click()
    expect(page.locator(".warn")).to_contain_text("财务审核")
    page.get_by_role("button", name="提现 ¥300.00").click()
    expect(page.get_by_role("status")).to_contain_text("等待财务审核")
    expect(page.locator('[data-status="awaiting_approval"]')).to_have_count(1)

    # -- finance, on a desktop: four eyes, enforced by the payout service -------------------
    first = make_staff(db, clock, role="finance")
    second = make_staff(db, clock, role="finance")
    console = _context(browser, platform, DESKTOP)
    desk = console.new_page()
    _staff_sign_in(desk, first, clock, shots)
    shots.step(desk, "console home")
    desk.get_by_label("手机号或用户编号").fill(PHONE_NUMBER)
    desk.get_by_role("button", name="查找用户").click()
    desk.get_by_role("link", name=re.compile("^用户 ")).click()
    expect(desk.locator("h1")).to_contain_text("用户")
    shots.step(desk, "console seller")
    desk.locator(".list a").first.click()
    expect(desk.locator("#order-state")).to_have_text("已结算")
    shots.step(desk, "console order timeline")
    _nav(desk, "提现审核").click()
    shots.step(desk, "approval queue")
    desk.locator("tbody tr a").first.click()
    desk.get_by_label("给同事的备注").fill("大额提现，已电话核实")
    desk.get_by_role("button", name="添加备注").click()
    desk.get_by_role("button", name="批准").click()
    expect(desk.get_by_role("alert")).to_contain_text("双人复核")
    shots.step(desk, "four eyes refusal")
    desk.get_by_role("button", name="退出登录").click()
    _staff_sign_in(desk, second, clock)
    desk.goto("/console/withdrawals")
    desk.locator("tbody tr a").first.click()
    desk.get_by_role("button", name="批准").click()
    expect(desk.get_by_role("status")).to_have_text("已批准。")
    shots.step(desk, "approved")
    console.close()

    # -- the seller sees it paid, reads the notices, and switches language ------------------
    _nav(page, "钱包").click()
    _until(lambda: page.locator('[data-status="paid"]').count() == 2, page)
    expect(page.locator("#available")).to_have_text("¥36.00")
    _nav(page, re.compile("^通知")).click()
    expect(page.locator(".notice.unread").first).to_be_visible()
    shots.step(page, "notices")
    page.get_by_role("button", name="全部标为已读").click()
    expect(page.locator(".notice.unread")).to_have_count(0)
    _nav(page, "账户安全").click()
    shots.step(page, "security")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Security")
    _nav(page, "Wallet").click()
    expect(page.locator("#available")).to_have_text("CN¥36.00")
    shots.step(page, "wallet in english")
    page.get_by_role("button", name="简体中文").click()
    expect(page.locator("h1")).to_have_text("钱包")
    page.goto("/no-such-page")
    expect(page.get_by_role("alert")).to_have_text("找不到该页面。")
    shots.step(page, "not found")
    seller.close()
    assert len(shots.checked) >= 20


def _nav(page: Page, name: str | re.Pattern[str]) -> Locator:
    """A link of the page's main menu."""
    return page.locator("nav.menu").get_by_role("link", name=name, exact=isinstance(name, str))


def _staff_sign_in(
    page: Page, creds: StaffCreds, clock: FrozenClock, shots: Recorder | None = None
) -> None:
    page.goto("/console/sign-in")
    if shots is not None:
        shots.step(page, "console sign-in")
    page.get_by_label("用户名").fill(creds.username)
    page.get_by_label("密码").fill(creds.password)
    page.get_by_label("身份验证器动态码").fill(totp_code(creds.totp_secret, clock.now()))
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/console$"))
