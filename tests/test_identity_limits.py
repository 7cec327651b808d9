"""KYC limits: the one check every money flow calls, per tier and flow, per order/day/year/life."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from factories import bearer, make_client, make_seller, open_seller_session
from huafei.core.money import InvalidAmount
from huafei.identity.errors import LimitExceeded, LimitUsageConflict, UnknownLimitFlow
from huafei.identity.limits import (
    DEFAULT_LIMITS,
    check_limit,
    record_usage,
    release_usage,
)
from huafei.identity.models import KycLimit


def _yuan(amount: int) -> int:
    return amount * 100


def _refusal(db, clock, seller_id: int, flow: str, amount: int) -> dict:
    with pytest.raises(LimitExceeded) as caught, db.session() as session:
        check_limit(session, seller_id=seller_id, flow=flow, amount_fen=amount, now=clock.now())
    return caught.value.to_problem()


def _use(db, clock, seller_id: int, amount: int, ref: str, flow: str = "card_sale") -> None:
    db.run(
        lambda s: record_usage(
            s, seller_id=seller_id, flow=flow, amount_fen=amount, ref=ref, now=clock.now()
        )
    )


def _allowed(db, clock, seller_id: int, amount: int, flow: str = "card_sale") -> bool:
    try:
        with db.session() as session:
            check_limit(session, seller_id=seller_id, flow=flow, amount_fen=amount, now=clock.now())
    except LimitExceeded:
        return False
    return True


def test_the_migration_seeds_the_documented_defaults(db) -> None:
    with db.session() as session:
        rows = {
            (r.tier, r.flow): (r.per_order_fen, r.daily_fen, r.annual_fen, r.lifetime_fen)
            for r in session.scalars(select(KycLimit))
        }
    assert rows == {
        (d.tier, d.flow.value): (d.per_order_fen, d.daily_fen, d.annual_fen, d.lifetime_fen)
        for d in DEFAULT_LIMITS
    }


class TestCheckLimit:
    def test_per_order(self, db, clock) -> None:
        seller = make_seller(db, clock, tier=1)
        problem = _refusal(db, clock, seller.id, "card_sale", _yuan(501))
        assert problem["code"] == "limit_exceeded"
        assert problem["status"] == 422
        assert (problem["limit"], problem["size_fen"], problem["remaining_fen"]) == (
            "per_order",
            _yuan(500),
            _yuan(500),
        )
        assert problem["tier"] == 1
        assert problem["flow"] == "card_sale"
        assert "¥500.00" in problem["detail"]
        assert _allowed(db, clock, seller.id, _yuan(500))

    def test_level_one_has_a_lifetime_limit(self, db, clock) -> None:
        seller = make_seller(db, clock, tier=1)
        _use(db, clock, seller.id, _yuan(500), "order:1")
        _use(db, clock, seller.id, _yuan(400), "order:2")
        # Today's ¥1,000 and the lifetime ¥1,000 both have ¥100 left: the lifetime one is named,
        # since waiting for tomorrow would not help.
        problem = _refusal(db, clock, seller.id, "card_sale", _yuan(200))
        assert (problem["limit"], problem["size_fen"], problem["remaining_fen"]) == (
            "lifetime",
            _yuan(1_000),
            _yuan(100),
        )
        assert "in total" in problem["detail"]
        assert _allowed(db, clock, seller.id, _yuan(100))
        clock.advance(days=400)
        assert _refusal(db, clock, seller.id, "card_sale", _yuan(200))["limit"] == "lifetime"

    def test_daily(self, db, clock) -> None:
        seller = make_seller(db, clock, tier=3)
        for n in range(2):
            _use(db, clock, seller.id, _yuan(20_000), f"order:{n}")
        problem = _refusal(db, clock, seller.id, "card_sale", _yuan(10_001))
        assert (problem["limit"], problem["size_fen"], problem["remaining_fen"]) == (
            "daily",
            _yuan(50_000),
            _yuan(10_000),
        )
        assert "today" in problem["detail"]
        clock.advance(days=1)
        assert _allowed(db, clock, seller.id, _yuan(20_000))

    def test_days_are_beijing_days(self, db, clock) -> None:
        seller = make_seller(db, clock, tier=2)
        clock.current = datetime(2026, 11, 26, 15, 59, tzinfo=UTC)  # 23:59 in Beijing
        for n in range(4):
            _use(db, clock, seller.id, _yuan(5_000), f"order:{n}")
        assert not _allowed(db, clock, seller.id, 1)
        clock.advance(minutes=1)  # midnight in Beijing, still the 26th in UTC
        assert _allowed(db, clock, seller.id, _yuan(5_000))

    def test_annual_limit_and_a_new_year(self, db, clock) -> None:
        seller = make_seller(db, clock, tier=2)
        clock.current = datetime(2026, 1, 1, tzinfo=UTC)
        for n in range(20):  # ¥5,000 a day for 20 days: ¥100,000
            _use(db, clock, seller.id, _yuan(5_000), f"order:{n}")
            clock.advance(days=1)
        problem = _refusal(db, clock, seller.id, "card_sale", 1)
        assert (problem["limit"], problem["remaining_fen"], problem["tier"]) == ("annual", 0, 2)
        clock.current = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 1 January in Beijing
        assert _allowed(db, clock, seller.id, _yuan(5_000))

    def test_withdrawals_need_level_two(self, db, clock) -> None:
        l1 = make_seller(db, clock, tier=1)
        problem = _refusal(db, clock, l1.id, "withdrawal", 1_000)
        assert (problem["limit"], problem["size_fen"], problem["remaining_fen"]) == (
            "per_order",
            0,
            0,
        )
        l2 = make_seller(db, clock, tier=2)
        assert _allowed(db, clock, l2.id, _yuan(50_000), "withdrawal")
        assert not _allowed(db, clock, l2.id, _yuan(50_001), "withdrawal")

    def test_balance_sales_need_level_three(self, db, clock) -> None:
        l2 = make_seller(db, clock, tier=2)
        l3 = make_seller(db, clock, tier=3)
        assert not _allowed(db, clock, l2.id, 100, "balance_sale")
        assert _allowed(db, clock, l3.id, _yuan(500), "balance_sale")
        assert not _allowed(db, clock, l3.id, _yuan(501), "balance_sale")

    def test_flows_are_independent(self, db, clock) -> None:
        seller = make_seller(db, clock, tier=2)
        _use(db, clock, seller.id, _yuan(50_000), "withdrawal:1", flow="withdrawal")
        assert not _allowed(db, clock, seller.id, 1, "withdrawal")
        assert _allowed(db, clock, seller.id, _yuan(5_000), "card_sale")

    def test_bad_requests(self, db, clock) -> None:
        seller = make_seller(db, clock)
        with pytest.raises(UnknownLimitFlow), db.session() as session:
            check_limit(session, seller_id=seller.id, flow="lottery", amount_fen=1, now=clock.now())
        for amount in (0, -5):
            with pytest.raises(InvalidAmount), db.session() as session:
                check_limit(
                    session,
                    seller_id=seller.id,
                    flow="card_sale",
                    amount_fen=amount,
                    now=clock.now(),
                )


class TestUsage:
    def test_recording_checks_too_and_writes_nothing_when_refused(self, db, clock) -> None:
        seller = make_seller(db, clock, tier=1)
        with pytest.raises(LimitExceeded):
            _use(db, clock, seller.id, _yuan(501), "order:big")
        _use(db, clock, seller.id, _yuan(500), "order:ok")
        assert _refusal(db, clock, seller.id, "card_sale", _yuan(501))["remaining_fen"] == _yuan(
            500
        )

    def test_recording_is_idempotent_on_the_reference(self, db, clock) -> None:
        seller = make_seller(db, clock, tier=1)
        _use(db, clock, seller.id, _yuan(300), "order:7")
        _use(db, clock, seller.id, _yuan(300), "order:7")
        assert _allowed(db, clock, seller.id, _yuan(500))
        with pytest.raises(LimitUsageConflict):
            _use(db, clock, seller.id, _yuan(200), "order:7")

    def test_release_frees_the_amount(self, db, clock) -> None:
        seller = make_seller(db, clock, tier=1)
        _use(db, clock, seller.id, _yuan(500), "order:1")
        _use(db, clock, seller.id, _yuan(500), "order:2")
        assert not _allowed(db, clock, seller.id, 1)
        assert db.run(lambda s: release_usage(s, ref="order:2", now=clock.now())) is True
        assert db.run(lambda s: release_usage(s, ref="order:2")) is False
        assert db.run(lambda s: release_usage(s, ref="order:nope")) is False
        assert _allowed(db, clock, seller.id, _yuan(500))

    def test_the_seller_sees_used_and_left(self, db, clock) -> None:
        client = make_client(db, clock)
        seller = make_seller(db, clock, tier=1)
        _use(db, clock, seller.id, _yuan(120), "order:1")
        body = client.get(
            "/api/v1/me/limits", headers=bearer(open_seller_session(db, clock, seller.id))
        ).json()
        card = next(f for f in body["flows"] if f["flow"] == "card_sale")
        assert card["daily"] == {
            "size_fen": _yuan(1_000),
            "used_fen": _yuan(120),
            "remaining_fen": _yuan(880),
        }
        assert card["lifetime"]["remaining_fen"] == _yuan(880)


@pytest.mark.postgres_only
def test_racing_orders_cannot_pass_a_limit_together(db, clock) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    seller = make_seller(db, clock, tier=1)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def order(n: int) -> None:
        barrier.wait()
        try:
            _use(db, clock, seller.id, _yuan(200), f"order:{n}")
            outcomes.append("ok")
        except LimitExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=order, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] * 5 + ["refused"] * 3
