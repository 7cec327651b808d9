"""Balance recycling end to end: a seller sells their number's balance through the HTTP API,
the carrier sandboxes transfer it to the platform's receiving numbers, the ledger holds, posts
and settles it. Lost answers are queried (never a second transfer), refusals void the hold."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from balance_harness import BalanceSeller, balance_platform, sandbox_balance, worker_for
from huafei.balance.models import BalanceAuthorisation
from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_numbers import RECEIVING_NUMBERS, TEST_NUMBERS
from huafei.cli.main import app as cli
from huafei.invariants import check_everything
from huafei.ledger import find_account
from huafei.ledger.chart import PLATFORM, Code
from huafei.notices.models import Notice

CMCC_NUMBER = "13800138000"  # ¥123.45
STEPS = ["verified", "quoted", "agreed", "frozen", "transferring", "transferred", "settling"]


@pytest.fixture
def platform(db, clock):
    with balance_platform(db, clock) as live:
        yield live


def received(live, carrier: Carrier) -> int:
    """What the platform's receiving numbers at ``carrier`` hold in the sandbox."""
    return sum(sandbox_balance(live, carrier, phone) for phone in RECEIVING_NUMBERS[carrier])


def test_a_level_3_seller_sells_80_yuan_on_each_carrier(platform, db, clock) -> None:
    # One number per carrier, one profile each: T+0, T+1 working day, T+2 working days.
    plans = {
        "13800138000": ("third_party", 6_880, "realtime"),  # cmcc at 0.86
        "13000130000": ("carrier_official", 7_360, "working_days"),  # cucc at 0.92
        "18900189000": ("social_commerce", 7_040, "working_days"),  # ctcc at 0.88
    }
    sellers = {phone: BalanceSeller(platform, db, clock, phone) for phone in plans}
    sales = {}
    for phone, (profile, payout, settlement) in plans.items():
        seller = sellers[phone]
        authorisation_id = seller.verified()
        balance = seller.balance(authorisation_id, profile).json()
        assert balance["balance_fen"] == TEST_NUMBERS[phone].balance_fen
        assert (balance["monthly_limit_fen"], balance["sold_this_month_fen"]) == (50_000, 0)
        assert balance["kyc"]["per_order_fen"] == 50_000
        assert balance["max_amount_fen"] == TEST_NUMBERS[phone].balance_fen // 100 * 100
        quote = seller.quote(authorisation_id, 8_000, profile).json()
        assert (quote["amount_fen"], quote["payout_fen"]) == (8_000, payout)
        assert quote["fee_fen"] == 8_000 - payout
        assert quote["settlement"] == settlement
        assert quote["destination"] and quote["agreement_sha256"] == seller.agreement["sha256"]
        sale = seller.sell(authorisation_id, quote["quote_id"]).json()
        assert sale["state"] == "frozen"
        assert [(t["id"], t["kind"], t["amount_fen"]) for t in sale["transfers"]] == [
            (f"balance:{sale['id']}:hold", "pending", payout)
        ]
        sales[phone] = sale

    worker = worker_for(platform)
    worker.run_until_idle()
    for phone, sale in sales.items():
        detail = sellers[phone].sale(sale["id"])
        carrier = TEST_NUMBERS[phone].carrier
        assert detail["state"] == ("settled" if carrier is Carrier.CMCC else "settling")
        assert detail["channel_ref"]
        assert sandbox_balance(platform, carrier, phone) == TEST_NUMBERS[phone].balance_fen - 8_000
        assert received(platform, carrier) == 8_000

    # T+1 and T+2 working days later everything is available.
    clock.advance(days=5)
    worker.run_until_idle()
    for phone, (profile, payout, _) in plans.items():
        seller = sellers[phone]
        seller.sign_in_again()
        detail = seller.sale(sales[phone]["id"])
        assert detail["state"] == "settled"
        assert [e["step"] for e in detail["timeline"]] == [*STEPS, "settled"]
        ref = f"balance:{detail['id']}"
        # The payout goes where the profile says (credit.destinations): the available wallet,
        # a payout to the carrier wallet of the seller's number, or consumption credit.
        last = {"third_party": "available", "carrier_official": "available"}.get(profile, "credit")
        assert [(t["id"], t["kind"], t["amount_fen"]) for t in detail["transfers"]] == [
            (f"{ref}:hold", "pending", payout),
            (f"{ref}:owed", "post_pending", payout),
            (f"{ref}:fee", "single", 8_000 - payout),
            (f"{ref}:escrow", "single", payout),
            (f"{ref}:{last}", "single", payout),
        ]
        wallet = seller.wallet()
        credit = seller.http.get("/api/v1/credit").json()["available_fen"]
        payouts = seller.http.get("/api/v1/withdrawals").json()
        if profile == "third_party":
            assert (wallet["available_fen"], wallet["pending_fen"], credit) == (payout, 0, 0)
        elif profile == "carrier_official":
            assert [(w["rail"], w["amount_fen"]) for w in payouts] == [("carrier_wallet", payout)]
            assert (wallet["available_fen"], wallet["pending_fen"], credit) == (0, 0, 0)
        else:
            assert (wallet["available_fen"], wallet["pending_fen"], credit) == (0, 0, payout)

    def inventory(session):
        account = find_account(session, code=int(Code.CARRIER_BALANCE), owner_ref=PLATFORM)
        return account.debits_posted - account.credits_posted

    # The inventory holds what the sellers were paid plus the fees: the 3 × ¥80 transferred.
    assert db.run(inventory) == 3 * 8_000
    with db.session() as session:
        report = check_everything(session)
    assert report.ok, report.render()
    # The service passwords are forgotten once the carriers answered.
    kept = db.run(lambda s: list(s.scalars(select(BalanceAuthorisation.service_password_enc))))
    assert kept == [None, None, None]


def test_a_lost_answer_is_queried_and_the_balance_moves_once(platform, db, clock) -> None:
    seller = BalanceSeller(platform, db, clock, CMCC_NUMBER)
    sandbox = platform.sandbox(Carrier.CMCC)
    sandbox.set_switches(lose_transfer_answers=True)
    sale = seller.sold(8_000)
    worker = worker_for(platform)
    worker.run_until_idle()

    detail = seller.sale(sale["id"])
    assert detail["state"] == "transferring"
    assert [e["step"] for e in detail["timeline"]][-1] == "answer_lost"
    # The carrier did transfer; only its answer was lost.
    assert sandbox_balance(platform, Carrier.CMCC, CMCC_NUMBER) == 12_345 - 8_000
    worker.run_until_idle()  # not due yet: nothing is sent again
    assert seller.sale(sale["id"])["state"] == "transferring"

    clock.advance(seconds=31)
    worker.run_until_idle()
    detail = seller.sale(sale["id"])
    assert detail["state"] == "settled"
    assert detail["channel_ref"]
    assert sandbox_balance(platform, Carrier.CMCC, CMCC_NUMBER) == 12_345 - 8_000
    assert received(platform, Carrier.CMCC) == 8_000
    kinds = Counter(t["kind"] for t in detail["transfers"])
    assert kinds == {"pending": 1, "post_pending": 1, "single": 3}
    assert seller.wallet()["available_fen"] == 6_880


def test_a_transfer_the_carrier_never_got_is_sent_again_under_its_id(platform, db, clock) -> None:
    seller = BalanceSeller(platform, db, clock, CMCC_NUMBER)
    sale = seller.sold(8_000)
    sandbox = platform.sandbox(Carrier.CMCC)
    sandbox.set_switches(fail_status=503)  # the channel is down when the transfer goes out
    worker = worker_for(platform)
    worker.run_until_idle()
    assert seller.sale(sale["id"])["state"] == "transferring"
    assert sandbox_balance(platform, Carrier.CMCC, CMCC_NUMBER) == 12_345

    # Still down at the first query: asked again later, the pause doubling.
    clock.advance(seconds=31)
    worker.run_until_idle()
    assert seller.sale(sale["id"])["state"] == "transferring"

    sandbox.set_switches(fail_status=None)
    clock.advance(seconds=61)
    worker.run_until_idle()
    detail = seller.sale(sale["id"])
    assert detail["state"] == "settled"
    assert sandbox_balance(platform, Carrier.CMCC, CMCC_NUMBER) == 12_345 - 8_000
    assert received(platform, Carrier.CMCC) == 8_000
    assert sum(t["kind"] == "post_pending" for t in detail["transfers"]) == 1


@pytest.mark.parametrize(
    ("switches", "reason"),
    [({"refuse_transfers": "risk_control"}, "risk_control"),
     ({"monthly_transfer_limit_fen": 5_000}, "monthly_limit")],
)  # fmt: skip
def test_a_refusal_voids_the_hold_and_releases_the_limit(
    platform, db, clock, switches, reason
) -> None:
    seller = BalanceSeller(platform, db, clock, CMCC_NUMBER)
    platform.sandbox(Carrier.CMCC).set_switches(**switches)
    sale = seller.sold(8_000)
    worker_for(platform).run_until_idle()

    detail = seller.sale(sale["id"])
    assert (detail["state"], detail["failure_reason"]) == ("failed", reason)
    assert [e["step"] for e in detail["timeline"]][-1] == "failed"
    ref = f"balance:{sale['id']}"
    assert [(t["id"], t["kind"]) for t in detail["transfers"]] == [
        (f"{ref}:hold", "pending"),
        (f"{ref}:void", "void_pending"),
    ]
    wallet = seller.wallet()
    assert (wallet["available_fen"], wallet["pending_fen"]) == (0, 0)
    assert sandbox_balance(platform, Carrier.CMCC, CMCC_NUMBER) == 12_345
    limits = seller.http.get("/api/v1/me/limits").json()
    balance_limits = next(f for f in limits["flows"] if f["flow"] == "balance_sale")
    assert balance_limits["daily"]["used_fen"] == 0
    kinds = db.run(
        lambda s: list(s.scalars(select(Notice.kind).where(Notice.owner_ref == seller.owner_ref)))
    )
    assert kinds == ["order_failed"]
    with db.session() as session:
        report = check_everything(session)
    assert report.ok, report.render()


def test_a_sale_is_idempotent_and_one_authorisation_sells_once(platform, db, clock) -> None:
    seller = BalanceSeller(platform, db, clock, CMCC_NUMBER)
    authorisation_id, quote = seller.quoted(5_000)
    first = seller.sell(authorisation_id, quote["quote_id"], key="same-sale")
    again = seller.sell(authorisation_id, quote["quote_id"], key="same-sale")
    assert first.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other_key = seller.sell(authorisation_id, quote["quote_id"])
    assert other_key.status_code == 409
    assert other_key.json()["code"] == "balance_authorisation_used"
    assert len(seller.http.get("/api/v1/balance/sales").json()) == 1


def test_a_fallback_settlement_time_moves_when_the_arrangement_is_loaded(
    db, clock, tmp_path, monkeypatch
) -> None:
    """As for card orders (tests/test_orders.py): a T+1 sale of Thursday 31 Dec 2026 settles by
    the holidays' rule on Monday 4 Jan 2027, and moves when the 2027 arrangement is loaded."""
    clock.current = datetime(2026, 12, 31, 2, 0, tzinfo=UTC)
    by_rule = datetime(2027, 1, 3, 16, 0, tzinfo=UTC)  # Mon 4 Jan 00:00 Beijing
    by_arrangement = datetime(2027, 1, 4, 16, 0, tzinfo=UTC)  # Tue 5 Jan
    with balance_platform(db, clock) as live:
        seller = BalanceSeller(live, db, clock, "13000130000")
        sale = seller.sold(8_000, profile="carrier_official")
        worker = worker_for(live)
        worker.run_until_idle()
        assert datetime.fromisoformat(seller.sale(sale["id"])["settle_at"]) == by_rule

        monkeypatch.setenv("HUAFEI_DATABASE_URL", db.url)
        monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
        arrangement = tmp_path / "2027.csv"
        arrangement.write_text(
            "date,type,name\n2027-01-01,holiday,元旦\n2027-01-04,holiday,元旦\n", encoding="utf-8"
        )
        loaded = CliRunner().invoke(cli, ["calendar", "load", str(arrangement)])
        assert loaded.exit_code == 0, loaded.output
        assert "1 settling balance sale(s) got a new settlement time" in loaded.output
        assert datetime.fromisoformat(seller.sale(sale["id"])["settle_at"]) == by_arrangement

        clock.current = by_rule
        seller.sign_in_again()
        worker.run_until_idle()
        assert seller.sale(sale["id"])["state"] == "settling"
        clock.current = by_arrangement
        worker.run_until_idle()
        assert seller.sale(sale["id"])["state"] == "settled"
        # carrier_official pays out to the carrier wallet of the seller's number.
        (payout,) = seller.http.get("/api/v1/withdrawals").json()
        assert (payout["rail"], payout["amount_fen"]) == ("carrier_wallet", 7_360)
