"""充话费 with consumption credit, through the HTTP API and the portal, with the carrier
sandboxes: the price with its discount, a refusal, a lost answer, too little credit — and
credit is never cash."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from factories import bearer, make_seller, open_seller_session
from huafei.identity.models import Seller
from huafei.ledger import NewTransfer, transfer, transfers_by_ref
from huafei.ledger.chart import PLATFORM, Code, ensure_account
from huafei.payouts.models import MethodKind
from huafei.payouts.service.methods import store_method
from payouts_harness import Platform, icbc_card, running_platform
from portal_helpers import HTML, field, sign_in_with_forms

#: A China Mobile number the sandbox holds no balance for: every fen it has came from a test.
NUMBER = "13912345678"
SANDBOX = "/sandbox/carriers/cmcc/control"


@pytest.fixture
def platform(db, clock, tmp_path):
    # An impatient carrier client, so a slow channel looks like a lost answer quickly.
    with running_platform(db, clock, tmp_path, carrier_timeout_seconds=3.0) as running:
        yield running


def fund_credit(platform: Platform, owner_ref: str, fen: int) -> None:
    """Consumption credit owed to the owner and backed in escrow, as a settlement makes it."""
    now = platform.container.clock.now()

    def work(session: Any) -> None:
        escrow = ensure_account(session, Code.ESCROW, PLATFORM, now=now)
        credit = ensure_account(session, Code.CREDIT_AVAILABLE, owner_ref, now=now)
        transfer(
            session,
            NewTransfer(f"test-credit:{uuid.uuid4().hex}", escrow.id, credit.id, fen, ref="test"),
            now=now,
        )

    platform.db.run(work)


class Buyer:
    """A seller with consumption credit, over the API."""

    def __init__(self, platform: Platform, db, clock, *, credit_fen: int = 10_000) -> None:
        self.platform = platform
        self.record = make_seller(db, clock, tier=3)
        self.owner_ref = f"seller:{self.record.id}"
        self.headers = bearer(open_seller_session(db, clock, self.record.id))
        if credit_fen:
            fund_credit(platform, self.owner_ref, credit_fen)

    def get(self, path: str) -> Any:
        response = self.platform.http.get(path, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def quote(self, face_value_fen: int = 5_000, phone: str = NUMBER) -> httpx.Response:
        return self.platform.http.post(
            "/api/v1/credit/topups/quote",
            json={"phone": phone, "face_value_fen": face_value_fen},
            headers=self.headers,
        )

    def top_up(
        self, face_value_fen: int = 5_000, *, phone: str = NUMBER, key: str | None = None, **extra
    ) -> httpx.Response:
        return self.platform.http.post(
            "/api/v1/credit/topups",
            json={"phone": phone, "face_value_fen": face_value_fen, **extra},
            headers={**self.headers, "Idempotency-Key": key or uuid.uuid4().hex},
        )

    def credit(self) -> tuple[int, int]:
        credit = self.get("/api/v1/credit")
        return credit["available_fen"], credit["held_fen"]

    def history(self) -> list[tuple[str, int]]:
        return [(r["reason"], r["change_fen"]) for r in self.get("/api/v1/credit/history")["rows"]]


def topped_up(platform: Platform, phone: str = NUMBER) -> int:
    """What the carrier sandbox holds for the number: what it was topped up with."""
    return int(platform.http.get(f"{SANDBOX}/balances").json().get(phone, 0))


def switch(platform: Platform, **switches: Any) -> None:
    response = platform.http.put(f"{SANDBOX}/switches", json=switches)
    assert response.status_code == 200, response.text


class TestTopUp:
    def test_spends_credit_at_the_disclosed_discount_and_tops_up_once(self, platform, db, clock):
        buyer = Buyer(platform, db, clock)
        assert buyer.get("/api/v1/credit")["discount_percent"] == "2%"
        quote = buyer.quote().json()
        assert (quote["carrier"], quote["phone_masked"]) == ("cmcc", "139****5678")
        assert (quote["price_fen"], quote["discount_fen"], quote["refusal"]) == (4_900, 100, None)

        key = uuid.uuid4().hex
        first = buyer.top_up(key=key, price_fen=4_900)
        assert first.status_code == 201, first.text
        topup = first.json()
        assert (topup["status"], topup["price_fen"], topup["face_value_fen"]) == (
            "succeeded",
            4_900,
            5_000,
        )
        assert topup["channel_ref"].startswith("CMCCCZ")
        assert NUMBER not in first.text  # the number only ever shows masked
        assert topped_up(platform) == 5_000
        assert buyer.credit() == (5_100, 0)

        again = buyer.top_up(key=key, price_fen=4_900)
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == topup["id"]
        assert topped_up(platform) == 5_000

        spent = {
            t.id.rsplit(":", 1)[1]: t.amount
            for t in db.run(lambda s: transfers_by_ref(s, topup["topup_id"]))
        }
        # the price held, then paid to the carrier out of escrow; the discount is the platform's
        assert {k: v for k, v in spent.items() if k != "post"} == {
            "hold": 4_900,
            "paid": 4_900,
            "discount": 100,
        }
        assert buyer.history() == [("其他", 10_000), ("充话费冻结", -4_900)]
        (notice, *_) = buyer.get("/api/v1/notices")
        assert notice["title"] == "充话费成功"
        assert [t["id"] for t in buyer.get("/api/v1/credit/topups")] == [topup["id"]]

    def test_a_refusal_returns_the_credit(self, platform, db, clock):
        buyer = Buyer(platform, db, clock)
        switch(platform, topup_refusal="unknown_number")
        response = buyer.top_up()
        assert response.status_code == 201, response.text
        topup = response.json()
        assert (topup["status"], topup["failure_code"]) == ("refused", "carrier_unknown_number")
        assert topped_up(platform) == 0
        assert buyer.credit() == (10_000, 0)
        assert buyer.history() == [("其他", 10_000), ("充话费冻结", -4_900), ("充话费退回", 4_900)]
        (notice, *_) = buyer.get("/api/v1/notices")
        assert notice["title"] == "充话费未成功"

    def test_a_lost_answer_is_resolved_by_a_query_and_never_tops_up_twice(
        self, platform, db, clock
    ):
        buyer = Buyer(platform, db, clock)
        switch(platform, slow_response_ms=6_000)  # the top-up is made; its answer comes late
        key = uuid.uuid4().hex
        response = buyer.top_up(key=key)
        assert response.status_code == 201, response.text
        topup = response.json()
        assert topup["status"] == "pending"
        assert buyer.credit() == (5_100, 4_900)  # held, not spent, not lost
        assert topped_up(platform) == 5_000
        switch(platform, slow_response_ms=0)

        again = buyer.top_up(key=key)  # the seller retries: the same top-up, not a new one
        assert (again.json()["id"], again.json()["status"]) == (topup["id"], "pending")

        clock.advance(seconds=31)
        platform.worker.run_until_idle()  # the check asks the carrier, which made it
        assert buyer.get(f"/api/v1/credit/topups/{topup['id']}")["status"] == "succeeded"
        assert buyer.credit() == (5_100, 0)
        assert topped_up(platform) == 5_000

    def test_a_failed_send_is_sent_again_once_the_carrier_says_it_made_none(
        self, platform, db, clock
    ):
        buyer = Buyer(platform, db, clock)
        switch(platform, fail_status=503)
        topup = buyer.top_up().json()
        assert topup["status"] == "pending"
        assert topped_up(platform) == 0
        clock.advance(seconds=31)
        platform.worker.run_until_idle()  # the carrier still fails: asked again later
        assert buyer.get(f"/api/v1/credit/topups/{topup['id']}")["status"] == "pending"
        switch(platform, fail_status=None)
        clock.advance(minutes=11)
        platform.worker.run_until_idle()
        assert buyer.get(f"/api/v1/credit/topups/{topup['id']}")["status"] == "succeeded"
        assert topped_up(platform) == 5_000
        assert buyer.credit() == (5_100, 0)

    def test_too_little_credit_is_refused_and_writes_nothing(self, platform, db, clock):
        buyer = Buyer(platform, db, clock, credit_fen=1_000)
        refusal = buyer.quote().json()["refusal"]
        assert refusal["code"] == "insufficient_credit"
        key = uuid.uuid4().hex
        response = buyer.top_up(key=key)
        assert response.status_code == 409, response.text
        problem = response.json()
        assert (problem["code"], problem["available_fen"], problem["needed_fen"]) == (
            "insufficient_credit",
            1_000,
            4_900,
        )
        assert buyer.top_up(key=key).json()["code"] == "insufficient_credit"
        assert buyer.get("/api/v1/credit/topups") == []
        assert buyer.credit() == (1_000, 0)
        assert topped_up(platform) == 0

    def test_bad_requests_are_typed_and_write_nothing(self, platform, db, clock):
        buyer = Buyer(platform, db, clock)
        for kwargs, status, code in (
            ({"phone": "12345"}, 422, "invalid_phone_number"),
            ({"face_value_fen": 4_000}, 422, "topup_amount_not_sold"),
            ({"phone": "13012345678", "face_value_fen": 1_000}, 422, "topup_amount_not_sold"),
            ({"price_fen": 4_800}, 409, "topup_price_changed"),
            ({"face_value_fen": 0}, 422, "validation_failed"),
        ):
            response = buyer.top_up(**kwargs)
            assert (response.status_code, response.json()["code"]) == (status, code), kwargs
        keyless = platform.http.post(
            "/api/v1/credit/topups",
            json={"phone": NUMBER, "face_value_fen": 5_000},
            headers=buyer.headers,
        )
        assert keyless.json()["code"] == "idempotency_key_required"
        assert buyer.get("/api/v1/credit/topups") == []
        assert buyer.credit() == (10_000, 0)


class TestCreditIsNotCash:
    def test_credit_cannot_be_withdrawn(self, platform, db, clock):
        buyer = Buyer(platform, db, clock)
        keyring = platform.container.keyring
        card = db.run(
            lambda s: store_method(
                s, owner_ref=buyer.owner_ref, kind=MethodKind.BANK_CARD,
                account_no=icbc_card(), holder_name="王小明",
                verified_real_name="王小明", keyring=keyring, now=clock.now(),
            ).id
        )  # fmt: skip
        refused = platform.http.post(
            "/api/v1/withdrawals",
            json={"method_id": card, "amount": "50"},
            headers={**buyer.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert refused.json()["code"] == "insufficient_balance"
        assert buyer.get("/api/v1/wallet")["total_fen"] == 0
        assert buyer.credit() == (10_000, 0)
        wallet = platform.http.post(
            "/api/v1/payout-methods",
            json={
                "kind": "carrier_wallet",
                "account_no": buyer.record.phone,
                "holder_name": "王小明",
                "sms_code": "000000",
            },
            headers=buyer.headers,
        )
        assert wallet.json()["code"] == "invalid_payout_account"  # added by the platform only


def test_the_portal_shows_the_price_before_it_tops_up(platform, db, clock) -> None:
    with httpx.Client(base_url=platform.base_url, headers=HTML, timeout=20) as browser:
        phone = f"1380{uuid.uuid4().int % 10**7:07d}"
        csrf = sign_in_with_forms(browser, phone)  # type: ignore[arg-type]
        seller_id = db.run(
            lambda s: s.scalars(select(Seller).where(Seller.phone == phone)).one().id
        )
        fund_credit(platform, f"seller:{seller_id}", 10_000)

        page = browser.get("/wallet/credit")
        assert page.status_code == 200
        assert "¥100.00 的话费只需 ¥98.00 消费金" in page.text
        assert "/wallet/credit" in browser.get("/wallet").text

        confirm = browser.post(
            "/wallet/credit/topup",
            data={"phone": NUMBER, "face_value_fen": "10000", "csrf_token": csrf},
        )
        assert confirm.status_code == 200, confirm.text
        assert "¥98.00" in confirm.text
        assert "139****5678" in confirm.text
        assert topped_up(platform) == 0  # nothing moves before the confirmation

        form = {
            name: field(confirm.text, name)
            for name in ("phone", "face_value_fen", "price_fen", "idempotency_key")
        }
        done = browser.post(
            "/wallet/credit/topup/confirm",
            data={**form, "csrf_token": csrf},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/wallet/credit?done=topup_succeeded#topups"
        twice = browser.post(
            "/wallet/credit/topup/confirm",
            data={**form, "csrf_token": csrf},
            follow_redirects=False,
        )
        assert twice.headers["location"] == done.headers["location"]
        assert topped_up(platform) == 10_000  # once, whatever the double click

        after = browser.get(done.headers["location"])
        assert "已充值" in after.text
        assert "¥2.00" in after.text

        short = browser.post(
            "/wallet/credit/topup",
            data={"phone": NUMBER, "face_value_fen": "50000", "csrf_token": csrf},
        )
        assert short.status_code == 409
        assert "消费金不足" in short.text
