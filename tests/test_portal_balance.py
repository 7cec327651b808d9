"""Selling balance through the pages over HTTP, against the carrier sandboxes: verify with the
carrier, see the balance and the limits, get the rate with the agreement, sell, follow the
sale to the wallet. Refusals come back as the page with the reason in Chinese."""

from __future__ import annotations

import re

import httpx
import pytest

from balance_harness import BalanceSeller, balance_platform, worker_for
from portal_helpers import field, sign_in_with_forms

pytestmark = pytest.mark.db
PHONE = "13800138000"  # China Mobile, ¥123.45, service password 138000


@pytest.fixture
def pages(db, clock):
    """A level-3 seller signed in to the pages (cookies), with the platform serving over HTTP."""
    with balance_platform(db, clock) as live:
        seller = BalanceSeller(live, db, clock, PHONE)
        with httpx.Client(base_url=live.url, timeout=20) as client:
            csrf = sign_in_with_forms(client, PHONE, next_url="/balance")  # type: ignore[arg-type]
            yield live, seller, client, csrf


def test_sell_balance_in_the_pages_step_by_step(pages) -> None:
    live, seller, client, csrf = pages
    start = client.get("/balance")
    assert start.status_code == 200
    assert "话费余额回收" in start.text and "138****8000" in start.text
    assert PHONE not in start.text

    started = client.post(
        "/balance", data={"csrf_token": csrf, "service_password": "138000"}, follow_redirects=False
    )
    assert started.status_code == 303, started.text
    step = started.headers["location"]
    assert "输入运营商验证码" in client.get(step).text
    confirmed = client.post(
        f"{step}/code", data={"csrf_token": csrf, "code": seller.texted_code()},
        follow_redirects=False,
    )  # fmt: skip
    assert confirmed.status_code == 303, confirmed.text

    amount = client.get(step).text
    assert "¥123.45" in amount  # the balance the carrier answered
    assert 'value="123.00"' in amount  # the most that can be sold: whole yuan
    assert "¥500.00" in amount  # the carrier's monthly limit
    quote = client.post(
        f"{step}/quote", data={"csrf_token": csrf, "amount": "80", "profile": "third_party"}
    )
    assert quote.status_code == 200, quote.text
    assert "¥68.80" in quote.text and "已含手续费" in quote.text

    form = {
        "csrf_token": csrf,
        "idempotency_key": field(quote.text, "idempotency_key"),
        "quote_id": field(quote.text, "quote_id"),
        "agreement_version": field(quote.text, "agreement_version"),
        "agreement_sha256": field(quote.text, "agreement_sha256"),
        "agreement": "yes",
        "lawful_source": "yes",
    }
    sold = client.post(f"{step}/sell", data=form, follow_redirects=False)
    assert sold.status_code == 303, sold.text
    sale_url = sold.headers["location"]
    assert re.fullmatch(r"/balance/sales/\d+", sale_url)
    again = client.post(f"{step}/sell", data=form, follow_redirects=False)  # the form resent
    assert again.headers["location"] == sale_url
    sale = client.get(sale_url).text
    assert "回收款已冻结" in sale and 'hx-trigger="every 2s"' in sale

    worker_for(live).run_until_idle()
    sale = client.get(sale_url).text
    assert "已结算" in sale and "运营商已完成转赠" in sale and "款项已到可用余额" in sale
    assert 'hx-trigger="every 2s"' not in sale
    # The verification is used: its page leads to the sale.
    assert client.get(step, follow_redirects=False).headers["location"] == sale_url


def test_refusals_are_shown_with_their_reason(pages) -> None:
    _live, _seller, client, csrf = pages
    wrong = client.post("/balance", data={"csrf_token": csrf, "service_password": "000000"})
    assert wrong.status_code == 422
    assert "服务密码不正确" in wrong.text and "剩余次数：4" in wrong.text
    started = client.post(
        "/balance", data={"csrf_token": csrf, "service_password": "138000"}, follow_redirects=False
    )
    step = started.headers["location"]
    code = client.post(f"{step}/code", data={"csrf_token": csrf, "code": "99999999"})
    assert code.status_code == 422
    assert "验证码" in code.text
    unticked = client.post(f"{step}/sell", data={"csrf_token": csrf, "quote_id": "q_x"})
    assert unticked.status_code == 422
    assert "请勾选两项" in unticked.text
