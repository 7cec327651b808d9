"""Where a settled card's money goes, on each channel profile, through the HTTP API with the
carrier and payout-rail sandboxes: the available wallet (third party), the carrier wallet of the
seller's phone by the fifth payout rail (carrier official), consumption credit (social)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from factories import bearer, make_seller, open_seller_session
from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import issue_cards
from huafei.core.days import local_day
from huafei.credit.destinations import credit_seller
from huafei.ledger import transfers_by_ref
from huafei.notices.service import InboxNotifier
from huafei.orders.models import OrderState
from huafei.rates.defaults import install_defaults
from huafei.rates.models import Destination
from payouts_harness import Platform, running_platform
from waiting import wait_for

FINAL = {s.value for s in OrderState if s.final}


@pytest.fixture
def platform(db, clock, tmp_path):
    db.run(lambda s: install_defaults(s, now=clock.now()))
    with running_platform(db, clock, tmp_path) as running:
        yield running


class CardSeller:
    """A level-3 seller selling one ¥100 China Mobile card over HTTP."""

    def __init__(self, platform: Platform, db, clock) -> None:
        self.platform, self.db, self.clock = platform, db, clock
        self.record = make_seller(db, clock, tier=3)
        self.owner_ref = f"seller:{self.record.id}"
        self.headers = bearer(open_seller_session(db, clock, self.record.id))

    def sign_in_again(self) -> None:
        """Sessions end while the clock jumps to a settlement day."""
        self.headers = bearer(open_seller_session(self.db, self.clock, self.record.id))

    def get(self, path: str, **params: Any) -> Any:
        response = self.platform.http.get(path, params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def wallet(self) -> tuple[int, int, int]:
        """Pending, available and held, in fen."""
        wallet = self.get("/api/v1/wallet")
        return wallet["pending_fen"], wallet["available_fen"], wallet["held_fen"]

    def sell_a_card(self, profile: str, *, start: int) -> dict[str, Any]:
        secret = self.platform.container.settings.sandbox_card_secret.get_secret_value()
        (card,) = issue_cards(secret, Carrier.CMCC, 10_000, 1, start=start)
        agreement = self.get("/api/v1/agreement")
        response = self.platform.http.post(
            "/api/v1/orders/batch",
            json={
                "profile": profile,
                "carrier": "cmcc",
                "face_value_fen": 10_000,
                "agreement_version": agreement["version"],
                "agreement_sha256": agreement["sha256"],
                "lawful_source_confirmed": True,
                "cards": f"{card.serial} {card.pin}",
            },
            headers={**self.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        return self.until_order(lambda o: o["state"] in {"settling", *FINAL})

    def until_order(self, done: Any) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            self.platform.worker.run_until_idle()
            (order,) = self.get("/api/v1/orders")
            return dict(order)

        return wait_for(read, until=done, what="the order to move on", timeout=20)

    def settle(self, order: dict[str, Any]) -> dict[str, Any]:
        """Let the clock reach the order's settlement time (T+N) and the worker settle it."""
        if order["state"] == "settling":
            self.clock.current = datetime.fromisoformat(order["settle_at"])
            self.sign_in_again()
        return self.until_order(lambda o: o["state"] == "settled")


def test_third_party_pays_into_the_withdrawable_wallet(platform, db, clock) -> None:
    seller = CardSeller(platform, db, clock)
    order = seller.settle(seller.sell_a_card("third_party", start=2001))
    assert order["payout_fen"] == 8_800
    assert seller.wallet() == (0, 8_800, 0)
    assert seller.get("/api/v1/credit")["total_fen"] == 0
    assert seller.get("/api/v1/withdrawals") == []
    (arrived, *_) = seller.get("/api/v1/notices")
    assert arrived["title"] == "到账通知"
    assert "已到可用余额" in arrived["body"]


def test_carrier_official_pays_out_to_the_carrier_wallet_of_the_sellers_phone(
    platform, db, clock
) -> None:
    seller = CardSeller(platform, db, clock)
    order = seller.sell_a_card("carrier_official", start=2101)
    assert order["state"] == "settling"  # T+1 working day
    order = seller.settle(order)
    assert order["payout_fen"] == 9_300

    (payout,) = seller.get("/api/v1/withdrawals")
    assert (payout["rail"], payout["amount_fen"], payout["fee_fen"]) == ("carrier_wallet", 9_300, 0)
    paid = wait_for(
        lambda: seller.get(f"/api/v1/withdrawals/{payout['id']}"),
        until=lambda w: w["status"] == "paid",
        what="the carrier-wallet payout to be paid",
    )
    (on_rail,) = platform.rail_payouts("carrier_wallet")
    assert (on_rail["payout_id"], on_rail["amount_fen"], on_rail["paid"]) == (
        paid["payout_id"],
        9_300,
        True,
    )
    assert on_rail["submissions"] == 1

    # Never withdrawable: the money went from pending to held to the wallet, in one step each.
    assert seller.wallet() == (0, 0, 0)
    (method,) = seller.get("/api/v1/payout-methods")
    phone = seller.record.phone
    assert method["id"] == paid["method_id"]
    assert (method["kind"], method["bank_code"], method["bank_name"]) == (
        "carrier_wallet",
        "cmcc",
        "中国移动和包",
    )
    assert method["account_masked"] == f"{phone[:3]}****{phone[-4:]}"
    titles = [n["title"] for n in seller.get("/api/v1/notices")]
    assert titles[:2] == ["提现到账", "到账通知"]

    # Reconciled like the other rails: the rail's statement of the day matches our payout.
    day = local_day(clock.now())
    report = platform.http.post(
        f"/api/v1/finance/reconciliation/carrier_wallet/{day}",
        headers=platform.staff_headers(1),
    )
    assert report.status_code == 200, report.text
    counts = report.json()["counts"]
    assert (counts["matched"], sum(counts.values())) == (1, 1)
    assert report.json()["cases_opened"] == 0


def test_social_commerce_pays_into_consumption_credit(platform, db, clock) -> None:
    seller = CardSeller(platform, db, clock)
    order = seller.settle(seller.sell_a_card("social_commerce", start=2201))
    assert order["payout_fen"] == 8_900
    assert seller.wallet() == (0, 0, 0)
    credit = seller.get("/api/v1/credit")
    assert (credit["available_fen"], credit["held_fen"], credit["withdrawable"]) == (
        8_900,
        0,
        False,
    )
    history = seller.get("/api/v1/credit/history")
    assert [(r["reason"], r["change_fen"], r["ref"]) for r in history["rows"]] == [
        ("转入消费金", 8_900, f"order:{order['id']}")
    ]
    assert seller.get("/api/v1/withdrawals") == []
    (arrived, *_) = seller.get("/api/v1/notices")
    assert "已转入消费金" in arrived["body"]


def test_a_repeated_settlement_moves_nothing_twice(platform, db, clock) -> None:
    """``credit_seller`` derives every transfer id from the reference: a second call for the
    same reference (a job run twice) is the same transfers, and no second payout."""
    seller = CardSeller(platform, db, clock)
    owner, now = seller.owner_ref, clock.now()

    def fund_pending(session):
        from huafei.ledger import NewTransfer, transfer
        from huafei.ledger.chart import PLATFORM, Code, ensure_account, ensure_wallet

        escrow = ensure_account(session, Code.ESCROW, PLATFORM, now=now)
        pending = ensure_wallet(session, owner, now=now)[Code.WALLET_PENDING]
        transfer(session, NewTransfer("test:fund", escrow.id, pending.id, 3_000), now=now)

    db.run(fund_pending)
    for destination, amount, ref in (
        (Destination.CONSUMPTION_CREDIT, 1_000, "order:9001"),
        (Destination.CASH, 1_000, "order:9002"),
        (Destination.CARRIER_WALLET, 1_000, "order:9003"),
    ):
        for _ in range(2):
            db.run(
                lambda s, d=destination, a=amount, r=ref: credit_seller(
                    s, destination=d, owner_ref=owner, amount_fen=a, ref=r,
                    subject="订单", now=now, notifier=InboxNotifier(),
                )
            )  # fmt: skip
        assert len(db.run(lambda s, r=ref: transfers_by_ref(s, r))) == 1
    assert seller.get("/api/v1/credit")["available_fen"] == 1_000
    assert seller.wallet() == (0, 1_000, 1_000)
    (payout,) = seller.get("/api/v1/withdrawals")
    assert (payout["rail"], payout["amount_fen"], payout["status"]) == (
        "carrier_wallet",
        1_000,
        "queued",
    )
