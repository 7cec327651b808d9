"""Vouchers of balance sales (docs/vouchers.md, docs/balance.md): a sale that became settled
gets one, downloaded as JSON and PDF by its seller only, checked on the public page."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest

from balance_harness import BalanceSeller, balance_platform, worker_for
from test_vouchers import pdf_text

CMCC_NUMBER = "13800138000"  # third_party: settled at once
CUCC_NUMBER = "13000130000"  # carrier_official: settled a working day later


@pytest.fixture
def platform(db, clock):
    with balance_platform(db, clock) as live:
        yield live


def test_a_settled_balance_sale_gets_a_voucher_only_its_seller_downloads(
    platform, db, clock
) -> None:
    seller = BalanceSeller(platform, db, clock, CMCC_NUMBER)
    other = BalanceSeller(platform, db, clock, CUCC_NUMBER)
    sale = seller.sold(8_000)
    waiting = other.sold(8_000, profile="carrier_official")
    worker = worker_for(platform)
    worker.run_until_idle()
    detail = seller.sale(sale["id"])
    assert detail["state"] == "settled"

    response = seller.http.get(f"/api/v1/balance/sales/{sale['id']}/voucher")
    assert response.status_code == 200, response.text
    digest = hashlib.sha256(response.content).hexdigest()
    assert response.headers["x-voucher-sha256"] == digest
    voucher = response.json()
    assert re.fullmatch(rf"BS\d{{8}}{sale['id']:06d}", voucher["number"])
    assert (voucher["kind"], voucher["title"]) == ("balance_sale", "话费余额回收交易凭证")
    assert voucher["subject"] == {"type": "balance_sale", "id": sale["id"]}
    assert voucher["item"] == {
        "carrier": "cmcc",
        "phone_masked": "138****8000",
        "amount_fen": 8_000,
        "channel_ref": detail["channel_ref"],
    }
    assert voucher["amounts"] == {
        "currency": "CNY", "gross_fen": 8_000, "fee_fen": 1_120, "net_fen": 6_880,
    }  # fmt: skip
    quote = voucher["quote"]
    assert (quote["profile"], quote["rate"], quote["payout_fen"]) == ("third_party", "0.86", 6_880)
    assert quote["rate_card_version"] >= 1
    assert voucher["agreement"]["version"] == seller.agreement["version"]
    assert voucher["agreement"]["sha256"] == seller.agreement["sha256"]
    ref = f"balance:{sale['id']}"
    assert [(t["id"], t["amount_fen"]) for t in voucher["ledger"]] == [
        (f"{ref}:hold", 6_880), (f"{ref}:owed", 6_880), (f"{ref}:fee", 1_120),
        (f"{ref}:escrow", 6_880), (f"{ref}:available", 6_880),
    ]  # fmt: skip
    times = voucher["times"]
    assert set(times) == {"submitted_at", "transferred_at", "settled_at"}
    assert times["submitted_at"] <= times["transferred_at"] <= times["settled_at"]
    assert all(m.endswith("+08:00") for m in [voucher["issued_at"], *times.values()])
    assert "service_password" not in response.text and CMCC_NUMBER not in response.text

    pdf = seller.http.get(f"/api/v1/balance/sales/{sale['id']}/voucher.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    shown = pdf_text(pdf.content)
    for words in ("话费余额回收交易凭证", "中国移动", "138****8000", "转赠金额", digest):
        assert words in shown, words
    assert voucher["number"] in shown

    page = seller.http.get(f"/balance/sales/{sale['id']}").text
    assert f'href="/api/v1/balance/sales/{sale["id"]}/voucher.pdf"' in page
    assert f'href="/api/v1/balance/sales/{sale["id"]}/voucher"' in page
    assert voucher["number"] in page

    # Someone else's sale, and a sale not settled yet: no voucher to be had.
    for path in ("voucher", "voucher.pdf"):
        stranger = other.http.get(f"/api/v1/balance/sales/{sale['id']}/{path}")
        assert stranger.status_code == 404
        assert stranger.json()["code"] == "voucher_not_found"
        early = other.http.get(f"/api/v1/balance/sales/{waiting['id']}/{path}")
        assert early.json()["code"] == "voucher_not_found"
    assert "/voucher" not in other.http.get(f"/balance/sales/{waiting['id']}").text

    # Settled a working day later, it has its own.
    clock.advance(days=5)
    worker.run_until_idle()
    other.sign_in_again()
    later = other.http.get(f"/api/v1/balance/sales/{waiting['id']}/voucher")
    assert later.status_code == 200, later.text
    assert later.json()["item"]["carrier"] == "cucc"


def test_a_balance_sale_voucher_is_verified_on_the_public_page(platform, db, clock) -> None:
    seller = BalanceSeller(platform, db, clock, CMCC_NUMBER)
    sale = seller.sold(8_000)
    worker_for(platform).run_until_idle()
    voucher = seller.http.get(f"/api/v1/balance/sales/{sale['id']}/voucher").json()
    anonymous = httpx.Client(base_url=platform.url, timeout=20)
    query = {"number": voucher["number"], "code": voucher["check_code"]}
    checked = anonymous.get("/api/v1/vouchers/verify", params=query)
    assert checked.status_code == 200, checked.text
    assert checked.json()["hash_matches"] is True
    assert checked.json()["document"] == voucher

    page = anonymous.get(voucher["verify_url"].replace(platform.url, ""))
    assert page.status_code == 200
    for words in ("话费余额回收交易凭证", voucher["number"], "138****8000", "内容与存档一致"):
        assert words in page.text, words
    wrong = anonymous.get("/api/v1/vouchers/verify", params={**query, "code": "ABCDEFGH"})
    assert wrong.status_code == 404
