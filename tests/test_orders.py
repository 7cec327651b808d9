"""Recharge-card recycling end to end, through the HTTP API and the carrier sandboxes."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from factories import bearer, make_seller, open_seller_session
from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import SandboxCardKind, issue_cards
from huafei.cli.main import app as cli
from huafei.composition.runtime import build_worker
from huafei.invariants import check_everything
from huafei.jobs.models import Job
from huafei.ledger import find_account
from huafei.ledger.chart import Code
from huafei.ledger.models import Transfer
from huafei.notices.models import Notice
from huafei.orders.models import Order, OrderEvent, OrderState
from huafei.orders.state import transition
from huafei.rates.defaults import install_defaults
from huafei.sms.models import SmsOutboxMessage
from live import LiveApp, serve_live

FINAL = {s.value for s in OrderState if s.final}


class Seller:
    def __init__(self, live: LiveApp, db, clock, *, tier: int = 3) -> None:
        self.live = live
        self.record = make_seller(db, clock, tier=tier)
        self.owner_ref = f"seller:{self.record.id}"
        self.db, self.clock = db, clock
        self.http = httpx.Client(
            base_url=live.url,
            headers=bearer(open_seller_session(db, clock, self.record.id)),
            timeout=20,
        )
        self.agreement = self.http.get("/api/v1/agreement").json()

    def submit(self, cards: str, *, face_yuan: int = 100, key: str | None = None, **extra):
        body = {
            "profile": "third_party",
            "carrier": "cmcc",
            "face_value_fen": face_yuan * 100,
            "agreement_version": self.agreement["version"],
            "agreement_sha256": self.agreement["sha256"],
            "lawful_source_confirmed": True,
            "cards": cards,
            **extra,
        }
        return self.http.post(
            "/api/v1/orders/batch",
            json=body,
            headers={"Idempotency-Key": key or uuid.uuid4().hex},
        )

    def sign_in_again(self) -> None:
        """Sessions time out; after the clock jumps days ahead, sign in again."""
        self.http.headers.update(bearer(open_seller_session(self.db, self.clock, self.record.id)))

    def orders(self) -> list[dict]:
        return self.http.get("/api/v1/orders", params={"limit": 200}).json()

    def wallet(self) -> dict:
        return self.http.get("/api/v1/wallet").json()


def run_until_final(live: LiveApp, seller: Seller, worker, *, rounds: int = 200) -> list[dict]:
    orders: list[dict] = []
    for _ in range(rounds):
        worker.run_until_idle()
        live.wait_for_callbacks()
        worker.run_until_idle()
        orders = seller.orders()
        if orders and all(o["state"] in FINAL for o in orders):
            return orders
    raise AssertionError(Counter(o["state"] for o in orders))


def lines(cards) -> list[str]:
    return [f"{card.serial} {card.pin}" for card in cards]


@pytest.fixture
def platform(db, clock):
    db.run(lambda s: install_defaults(s, now=clock.now()))
    with serve_live(db, clock) as live:
        yield live


def test_a_batch_of_fifty_cards_ends_in_the_right_states(platform, db, clock) -> None:
    secret = platform.container.settings.sandbox_card_secret.get_secret_value()
    good = issue_cards(secret, Carrier.CMCC, 10_000, 30)
    used = issue_cards(secret, Carrier.CMCC, 10_000, 4, kind=SandboxCardKind.USED)
    expired = issue_cards(secret, Carrier.CMCC, 10_000, 4, kind=SandboxCardKind.EXPIRED)
    wrong_face = issue_cards(
        secret, Carrier.CMCC, 10_000, 4, kind=SandboxCardKind.WRONG_FACE,
        actual_face_value_fen=5_000,
    )  # fmt: skip
    wrong_pin = issue_cards(secret, Carrier.CMCC, 10_000, 3, start=500)
    pasted = (
        lines(good[:15])
        + [f"{c.serial},{c.pin[:-1]}{(int(c.pin[-1]) + 1) % 10}" for c in wrong_pin]
        + ["12345 678", "serial-no pin-no", lines(good[:1])[0]]
        + lines(used)
        + [f"{c.serial}\t{c.pin}" for c in expired]
        + lines(wrong_face)
        + lines(good[15:])
        + [lines(good[20:21])[0].replace(" ", "，")]
        + ["1" * 17 + " " + "2" * 10]
    )
    assert len(pasted) == 50
    seller = Seller(platform, db, clock)
    response = seller.submit("\ufeff" + "\r\n".join(pasted))
    assert response.status_code == 201, response.text
    batch = response.json()
    assert len(batch["orders"]) == 45
    rejected = {(r["line"], r["code"]) for r in batch["rejected"]}
    assert {code for _, code in rejected} == {
        "serial_length",
        "not_digits",
        "duplicate_in_batch",
        "pin_length",
    }
    assert len(rejected) == 5
    assert batch["quote"]["payout_fen"] == 8_800
    assert all("pin" not in order and "*" in order["serial_masked"] for order in batch["orders"])

    worker = build_worker(platform.container, name="test")
    orders = run_until_final(platform, seller, worker)
    by_state = Counter(o["state"] for o in orders)
    assert by_state == {"settled": 34, "failed": 11}
    reasons = Counter(o["failure_reason"] for o in orders if o["state"] == "failed")
    assert reasons == {"used": 4, "expired": 4, "wrong_pin": 3}
    mismatched = [o for o in orders if o["actual_face_value_fen"] == 5_000]
    assert len(mismatched) == 4
    assert {o["payout_fen"] for o in mismatched} == {4_400}  # ¥50 at the ¥50 rate of 0.88
    detail = seller.http.get(f"/api/v1/orders/{mismatched[0]['id']}").json()
    assert [e["to_state"] for e in detail["timeline"]] == [
        "submitted", "queued", "consuming", "face_value_mismatch", "settling", "settled",
    ]  # fmt: skip
    assert seller.wallet()["available_fen"] == 30 * 8_800 + 4 * 4_400

    # Each consumed card was paid exactly once, and the ledger is sound.
    def owed(session):
        return session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.id.like("order:%:owed"))
        )

    assert db.run(owed) == 34
    with db.session() as session:
        report = check_everything(session)
    assert report.ok, report.render()
    kinds = Counter(
        db.run(
            lambda s: list(
                s.scalars(select(Notice.kind).where(Notice.owner_ref == seller.owner_ref))
            )
        )
    )
    assert kinds["funds_arrived"] == 34
    assert kinds["order_adjusted"] == 4
    assert kinds["order_failed"] == 11
    # Arrivals and adjustments also go out by SMS (failures only in the inbox, by default).
    texts = db.run(
        lambda s: list(
            s.scalars(
                select(SmsOutboxMessage.text).where(SmsOutboxMessage.phone == seller.record.phone)
            )
        )
    )
    assert sum("到账" in t for t in texts) == 34
    assert sum("面值不符" in t for t in texts) == 4
    assert len(texts) == 38


def test_submission_is_idempotent_and_duplicates_across_sellers_are_blocked(
    platform, db, clock
) -> None:
    secret = platform.container.settings.sandbox_card_secret.get_secret_value()
    cards = "\n".join(lines(issue_cards(secret, Carrier.CMCC, 10_000, 2, start=900)))
    first_seller = Seller(platform, db, clock)
    first = first_seller.submit(cards, key="same")
    again = first_seller.submit(cards, key="same")
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert first_seller.submit(cards + "\n", key="same").status_code == 409
    repeat = first_seller.submit(cards)
    assert repeat.status_code == 422
    assert repeat.json()["code"] == "batch_rejected"
    assert {r["code"] for r in repeat.json()["rejected"]} == {"already_submitted"}

    other = Seller(platform, db, clock)
    blocked = other.submit(cards)
    assert blocked.status_code == 201
    assert {o["state"] for o in blocked.json()["orders"]} == {"blocked"}
    reasons = db.run(
        lambda s: set(
            s.scalars(
                select(OrderEvent.reason).where(
                    OrderEvent.order_id == blocked.json()["orders"][0]["id"],
                    OrderEvent.to_state == "blocked",
                )
            )
        )
    )
    assert reasons == {"the same card was submitted by another account"}


def test_cancel_before_consumption_and_not_after(platform, db, clock) -> None:
    secret = platform.container.settings.sandbox_card_secret.get_secret_value()
    seller = Seller(platform, db, clock)
    chosen = seller.http.put("/api/v1/notices/preferences", json={"funds_arrived": False})
    assert chosen.json()["funds_arrived"] is False
    card = issue_cards(secret, Carrier.CMCC, 5_000, 2, start=700)
    batch = seller.submit("\n".join(lines(card)), face_yuan=50).json()
    first, second = (o["id"] for o in batch["orders"])
    cancelled = seller.http.post(f"/api/v1/orders/{first}/cancel")
    assert cancelled.json()["state"] == "cancelled"
    worker = build_worker(platform.container, name="test")
    orders = run_until_final(platform, seller, worker)
    assert {o["id"]: o["state"] for o in orders} == {first: "cancelled", second: "settled"}
    late = seller.http.post(f"/api/v1/orders/{second}/cancel")
    assert late.status_code == 409
    assert late.json()["code"] == "order_not_cancellable"
    assert seller.wallet()["available_fen"] == 4_400
    assert len(platform.sandbox(Carrier.CMCC).deliveries) == 1  # the cancelled card never went
    notices = seller.http.get("/api/v1/notices").json()
    assert any(n["kind"] == "funds_arrived" for n in notices)  # in the inbox …
    sms = db.run(
        lambda s: s.scalar(
            select(func.count())
            .select_from(SmsOutboxMessage)
            .where(SmsOutboxMessage.phone == seller.record.phone)
        )
    )
    assert sms == 0  # … but not by SMS, as the seller chose


def test_an_order_held_past_its_quote_expires_and_is_never_sent(platform, db, clock) -> None:
    secret = platform.container.settings.sandbox_card_secret.get_secret_value()
    seller = Seller(platform, db, clock)
    card = lines(issue_cards(secret, Carrier.CMCC, 10_000, 1, start=800))[0]
    (order,) = seller.submit(card).json()["orders"]

    def hold(session):
        record = session.get(Order, order["id"])
        transition(session, record, OrderState.REVIEW, actor="risk", now=clock.now())

    db.run(hold)
    clock.advance(seconds=platform.container.settings.quote_ttl_seconds)
    seller.sign_in_again()
    worker = build_worker(platform.container, name="test")
    worker.run_until_idle()
    detail = seller.http.get(f"/api/v1/orders/{order['id']}").json()
    assert detail["state"] == "expired"
    assert detail["timeline"][-1]["reason"] == (
        "the quote expired while the order was held for review"
    )
    assert platform.sandbox(Carrier.CMCC).deliveries == []


def test_tier_limits_and_pin_guessing_stop_submissions(platform, db, clock) -> None:
    secret = platform.container.settings.sandbox_card_secret.get_secret_value()
    beginner = Seller(platform, db, clock, tier=1)
    too_much = beginner.submit(
        "\n".join(lines(issue_cards(secret, Carrier.CMCC, 10_000, 6, start=1000)))
    )
    assert too_much.status_code == 422
    problem = too_much.json()
    assert problem["code"] == "limit_exceeded"
    assert problem["limit"] == "per_order"
    assert problem["size_fen"] == 50_000

    guesser = Seller(platform, db, clock)
    wrong = [
        f"{c.serial} {c.pin[:-1]}{(int(c.pin[-1]) + 1) % 10}"
        for c in issue_cards(secret, Carrier.CMCC, 10_000, 5, start=1100)
    ]
    assert guesser.submit("\n".join(wrong)).status_code == 201
    run_until_final(platform, guesser, build_worker(platform.container, name="test"))
    paused = guesser.submit(
        "\n".join(lines(issue_cards(secret, Carrier.CMCC, 10_000, 1, start=1200)))
    )
    assert paused.status_code == 429
    assert paused.json()["code"] == "too_many_failed_cards"
    assert paused.json()["retry_after_seconds"] == 3600
    clock.advance(hours=1, seconds=1)
    retried = guesser.submit(
        "\n".join(lines(issue_cards(secret, Carrier.CMCC, 10_000, 1, start=1200)))
    )
    assert retried.status_code == 201


def test_one_sellers_failed_cards_do_not_pause_their_neighbours(db, clock) -> None:
    """The README's `--kind used` cards from one seller pause that seller, not every seller
    behind the same network address; the address pauses only at its own, higher threshold."""
    db.run(lambda s: install_defaults(s, now=clock.now()))
    with serve_live(db, clock, guessing_max_failures_per_address=8) as live:
        secret = live.container.settings.sandbox_card_secret.get_secret_value()
        worker = build_worker(live.container, name="test")

        def used(count: int, start: int) -> str:
            cards = issue_cards(secret, Carrier.CMCC, 10_000, count, kind=SandboxCardKind.USED,
                                start=start)  # fmt: skip
            return "\n".join(lines(cards))

        def good(start: int) -> str:
            return "\n".join(lines(issue_cards(secret, Carrier.CMCC, 10_000, 1, start=start)))

        tester = Seller(live, db, clock)
        assert tester.submit(used(5, 1500)).status_code == 201
        run_until_final(live, tester, worker)
        paused = tester.submit(good(1520))
        assert paused.status_code == 429
        assert "account" in paused.json()["detail"]

        neighbour = Seller(live, db, clock)  # same address (127.0.0.1)
        assert neighbour.submit(good(1521)).status_code == 201
        assert neighbour.submit(used(3, 1530)).status_code == 201
        run_until_final(live, neighbour, worker)
        # 8 failed cards from the address now: it pauses everyone behind it.
        third = Seller(live, db, clock).submit(good(1540))
        assert third.status_code == 429
        assert third.json()["code"] == "too_many_failed_cards"
        assert "network address" in third.json()["detail"]


@pytest.mark.parametrize(
    ("consumed_at", "settles_at", "trade"),
    [
        # Wednesday 30 Sep 2026, the eve of the National Day holiday (1–7 Oct): T+1 is Thursday
        # 8 Oct, 00:00 in Beijing.
        (datetime(2026, 9, 30, 2, 0, tzinfo=UTC), datetime(2026, 10, 7, 16, 0, tzinfo=UTC), "eve"),
        # Friday 9 Oct 2026: T+1 is Saturday 10 Oct, an adjusted working day (调休).
        (datetime(2026, 10, 9, 2, 0, tzinfo=UTC), datetime(2026, 10, 9, 16, 0, tzinfo=UTC), "调休"),
    ],
)
def test_t_plus_one_lands_on_the_right_working_day(
    db, clock, consumed_at, settles_at, trade
) -> None:
    """A carrier-official (T+1) card: pending until 00:00 Beijing time of the next working day,
    across a holiday and onto an adjusted working day."""
    clock.current = consumed_at
    db.run(lambda s: install_defaults(s, now=clock.now()))
    with serve_live(db, clock) as live:
        secret = live.container.settings.sandbox_card_secret.get_secret_value()
        seller = Seller(live, db, clock)
        card = lines(issue_cards(secret, Carrier.CMCC, 10_000, 1, start=1300))[0]
        response = seller.submit(card, profile="carrier_official")
        assert response.status_code == 201, response.text
        worker = build_worker(live.container, name="test")
        for _ in range(50):
            worker.run_until_idle()
            live.wait_for_callbacks()
            worker.run_until_idle()
            (order,) = seller.orders()
            if order["state"] == "settling":
                break
        assert order["state"] == "settling", trade
        assert datetime.fromisoformat(order["settle_at"]) == settles_at
        wallet = seller.wallet()
        assert wallet["pending_fen"] == 9_300
        assert wallet["available_fen"] == 0
        clock.current = settles_at - timedelta(minutes=1)
        seller.sign_in_again()
        worker.run_until_idle()
        assert seller.orders()[0]["state"] == "settling"
        clock.current = settles_at
        worker.run_until_idle()
        assert seller.orders()[0]["state"] == "settled"
        assert_paid_to_the_carrier_wallet(seller, 9_300)

        def pending_account(session):
            account = find_account(session, code=Code.WALLET_PENDING, owner_ref=seller.owner_ref)
            return account.balance if account else None

        assert db.run(pending_account) == 0


def assert_paid_to_the_carrier_wallet(seller: Seller, payout_fen: int) -> None:
    """A carrier-official card's payout leaves the wallet for the seller's carrier wallet at
    settlement: a withdrawal on the carrier-wallet rail, never withdrawable cash."""
    wallet = seller.wallet()
    assert (wallet["pending_fen"], wallet["available_fen"]) == (0, 0)
    (payout,) = seller.http.get("/api/v1/withdrawals").json()
    assert (payout["rail"], payout["amount_fen"], payout["fee_fen"]) == (
        "carrier_wallet",
        payout_fen,
        0,
    )


def _consume_one(live, db, clock, *, start: int, profile: str = "carrier_official"):
    secret = live.container.settings.sandbox_card_secret.get_secret_value()
    seller = Seller(live, db, clock)
    card = lines(issue_cards(secret, Carrier.CMCC, 10_000, 1, start=start))[0]
    response = seller.submit(card, profile=profile)
    assert response.status_code == 201, response.text
    worker = build_worker(live.container, name="test")
    for _ in range(50):
        worker.run_until_idle()
        live.wait_for_callbacks()
        worker.run_until_idle()
        (order,) = seller.orders()
        if order["state"] == "settling":
            break
    assert order["state"] == "settling"
    return seller, worker, order


def test_a_fallback_settlement_time_moves_when_the_arrangement_is_loaded(
    db, clock, tmp_path, monkeypatch
) -> None:
    """chinese-calendar stops at 2026. A T+1 card of Thursday 31 Dec 2026 settles by the
    statutory holidays' rule on Monday 4 Jan 2027 (not on New Year's Day); when the 2027
    arrangement is loaded and makes 4 Jan a day off, the order and its settle job move."""
    clock.current = datetime(2026, 12, 31, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
    db.run(lambda s: install_defaults(s, now=clock.now()))
    by_rule = datetime(2027, 1, 3, 16, 0, tzinfo=UTC)  # Mon 4 Jan 00:00 Beijing
    by_arrangement = datetime(2027, 1, 4, 16, 0, tzinfo=UTC)  # Tue 5 Jan
    with serve_live(db, clock) as live:
        seller, worker, order = _consume_one(live, db, clock, start=1400)
        assert datetime.fromisoformat(order["settle_at"]) == by_rule

        def recorded(session):
            row = session.get(Order, order["id"])
            job = session.scalars(select(Job).where(Job.dedupe_key == f"settle:{row.id}")).one()
            return row.settle_calendar, job.run_at

        assert db.run(recorded) == ("rules", by_rule)

        monkeypatch.setenv("HUAFEI_DATABASE_URL", db.url)
        monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
        arrangement = tmp_path / "2027.csv"
        arrangement.write_text(
            "date,type,name\n2027-01-01,holiday,元旦\n2027-01-04,holiday,元旦\n",
            encoding="utf-8",
        )
        loaded = CliRunner().invoke(cli, ["calendar", "load", str(arrangement)])
        assert loaded.exit_code == 0, loaded.output
        assert "1 settling order(s) got a new settlement time" in loaded.output
        # counted over 2026 (the published calendar) and 2027 (the loaded arrangement)
        assert db.run(recorded) == ("calendar", by_arrangement)
        assert datetime.fromisoformat(seller.orders()[0]["settle_at"]) == by_arrangement

        # A time computed from published or loaded arrangements is not computed again.
        again = CliRunner().invoke(cli, ["calendar", "load", str(arrangement)])
        assert "0 settling order(s)" in again.output

        clock.current = by_rule
        seller.sign_in_again()
        worker.run_until_idle()
        assert seller.orders()[0]["state"] == "settling"
        clock.current = by_arrangement
        worker.run_until_idle()
        assert seller.orders()[0]["state"] == "settled"
        assert_paid_to_the_carrier_wallet(seller, 9_300)


def test_a_result_that_cannot_be_applied_is_retried_by_a_job_and_holds_up_no_other(
    platform, db, clock, monkeypatch
) -> None:
    from huafei.orders import tasks

    secret = platform.container.settings.sandbox_card_secret.get_secret_value()
    seller = Seller(platform, db, clock)
    batch = seller.submit("\n".join(lines(issue_cards(secret, Carrier.CMCC, 5_000, 2, start=900))),
                          face_yuan=50).json()  # fmt: skip
    poisoned, healthy = (o["id"] for o in batch["orders"])
    real_apply = tasks.apply_result
    broken = {f"hf{poisoned}"}

    def apply_result(session, order, result, **kwargs):
        if result.consumption_id in broken:
            raise RuntimeError("cannot apply this result")
        return real_apply(session, order, result, **kwargs)

    monkeypatch.setattr(tasks, "apply_result", apply_result)
    worker = build_worker(platform.container, name="test")
    for _ in range(5):
        worker.run_until_idle()
        platform.wait_for_callbacks()
    states = {o["id"]: o["state"] for o in seller.orders()}
    assert states == {poisoned: "consuming", healthy: "settled"}
    (job,) = db.run(
        lambda s: list(s.scalars(select(Job).where(Job.kind == "orders.consumption_result")))
    )
    assert job.status == "queued" and job.attempts >= 1  # retried later, with its error kept
    assert "cannot apply this result" in (job.last_error or "")

    broken.clear()  # the cause is fixed: the job's next attempt applies it
    clock.advance(minutes=30)
    worker.run_until_idle()
    states = {o["id"]: o["state"] for o in seller.orders()}
    assert states == {poisoned: "settled", healthy: "settled"}
    assert db.run(lambda s: s.get(Job, job.id).status) == "done"
    with db.session() as session:
        assert check_everything(session).ok
