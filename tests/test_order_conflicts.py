"""A channel that loses its record of a consumption and then answers the resent card under a new
reference has not said the card failed: the order is held in ``conflict`` for an operator, never
failed, and an operator's resolution settles or fails it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import issue_cards
from huafei.cli.main import app
from huafei.composition.runtime import build_worker
from huafei.identity.models import KycLimitUsage as LimitUsage
from huafei.invariants import check_everything
from huafei.notices.models import Notice
from huafei.orders import errors
from huafei.orders.conflicts import list_conflicts, resolve_conflict
from huafei.orders.models import Order, OrderEvent
from huafei.rates.defaults import install_defaults
from live import serve_live
from test_orders import Seller, lines

runner = CliRunner()


@pytest.fixture
def platform(db, clock):
    db.run(lambda s: install_defaults(s, now=clock.now()))
    with serve_live(db, clock) as live:
        yield live


def order_row(db, order_id: int) -> Order:
    return db.run(lambda s: s.get(Order, order_id))


def lose_the_record_of_a_consumption(platform, db, clock, *, start: int) -> tuple[Seller, int]:
    """A card accepted under one reference; the channel then crashes without its records (the
    card stays consumed) and the order's check resends the card."""
    sandbox = platform.sandbox(Carrier.CMCC)
    sandbox.set_switches(lose_callbacks=True)
    secret = platform.container.settings.sandbox_card_secret.get_secret_value()
    seller = Seller(platform, db, clock)
    cards = issue_cards(secret, Carrier.CMCC, 10_000, 1, start=start)
    response = seller.submit("\n".join(lines(cards)))
    assert response.status_code == 201, response.text
    order_id = response.json()["orders"][0]["id"]
    worker = build_worker(platform.container, name="test")
    worker.run_until_idle()
    platform.wait_for_callbacks()
    accepted = order_row(db, order_id)
    assert accepted.state == "consuming"
    assert accepted.channel_ref and accepted.send_attempts == 1

    sandbox.reset(forget_consumptions=True)
    clock.advance(seconds=platform.container.settings.orders_check_after_seconds + 1)
    for _ in range(3):
        worker.run_until_idle()
        platform.wait_for_callbacks()
    return seller, order_id


def test_a_used_answer_under_a_new_reference_is_a_conflict_not_a_failure(
    platform, db, clock
) -> None:
    seller, order_id = lose_the_record_of_a_consumption(platform, db, clock, start=4100)
    order = order_row(db, order_id)
    assert order.state == "conflict"
    assert order.failure_reason is None
    assert order.send_attempts == 2  # the resend from the check counts as an attempt
    (again,) = platform.sandbox(Carrier.CMCC).consumptions
    assert again["outcome"] == "used"
    assert again["channel_ref"] != order.channel_ref  # the reference accepted first is kept
    reason = db.run(
        lambda s: s.scalar(
            select(OrderEvent.reason).where(
                OrderEvent.order_id == order_id, OrderEvent.to_state == "conflict"
            )
        )
    )
    assert again["channel_ref"] in reason and order.channel_ref in reason
    # Nothing told the seller the card failed; the card still counts towards their limits.
    kinds = db.run(
        lambda s: set(s.scalars(select(Notice.kind).where(Notice.ref == f"order:{order_id}")))
    )
    assert "order_failed" not in kinds
    usage = db.run(
        lambda s: s.scalars(select(LimitUsage).where(LimitUsage.ref == f"order:{order_id}")).one()
    )
    assert usage.released_at is None
    assert [o["state"] for o in seller.orders()] == ["conflict"]
    assert [o.id for o in db.run(list_conflicts)] == [order_id]

    # Nothing more happens to it on its own.
    clock.advance(minutes=30)
    worker = build_worker(platform.container, name="later")
    worker.run_until_idle()
    platform.wait_for_callbacks()
    assert order_row(db, order_id).state == "conflict"
    assert order_row(db, order_id).send_attempts == 2


def test_an_operator_settles_a_conflict_the_channel_confirms(platform, db, clock) -> None:
    seller, order_id = lose_the_record_of_a_consumption(platform, db, clock, start=4200)
    container = platform.container

    def resolve(session, **kwargs):
        return resolve_conflict(
            session, order_id, actor="staff:1", now=clock.now(), notifier=container.notifier,
            **kwargs,
        )  # fmt: skip

    with pytest.raises(errors.InvalidResolution):
        db.run(lambda s: resolve(s, consumed=True, actual_face_value_fen=12_345))
    db.run(lambda s: resolve(s, consumed=True))
    assert order_row(db, order_id).state == "settled"
    assert seller.wallet()["available_fen"] == 8_800
    with pytest.raises(errors.InvalidTransition):
        db.run(lambda s: resolve(s, consumed=False))
    with db.session() as session:
        report = check_everything(session)
    assert report.ok, report.render()


def test_an_operator_fails_a_conflict_the_channel_denies(platform, db, clock) -> None:
    _seller, order_id = lose_the_record_of_a_consumption(platform, db, clock, start=4300)
    db.run(
        lambda s: resolve_conflict(
            s,
            order_id,
            consumed=False,
            reason="the channel's statement has no such consumption",
            actor="staff:1",
            now=clock.now(),
            notifier=platform.container.notifier,
        )
    )
    order = order_row(db, order_id)
    assert (order.state, order.failure_reason) == ("failed", "rejected")
    usage = db.run(
        lambda s: s.scalars(select(LimitUsage).where(LimitUsage.ref == f"order:{order_id}")).one()
    )
    assert usage.released_at is not None


def test_an_operator_sees_and_resolves_conflicts_from_the_cli(
    platform, db, clock, monkeypatch
) -> None:
    _seller, order_id = lose_the_record_of_a_consumption(platform, db, clock, start=4400)
    monkeypatch.setenv("HUAFEI_DATABASE_URL", db.url)
    monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
    listed = runner.invoke(app, ["orders", "conflicts"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith(f"{order_id}\t") and "1 order(s) in conflict" in listed.output
    refused = runner.invoke(
        app, ["orders", "resolve", str(order_id), "--consumed", "--actual-face", "7"]
    )
    assert refused.exit_code == 2 and "invalid_conflict_resolution" in refused.output
    resolved = runner.invoke(
        app, ["orders", "resolve", str(order_id), "--consumed", "--actual-face", "50"]
    )
    assert resolved.exit_code == 0, resolved.output
    order = order_row(db, order_id)
    assert (order.state, order.actual_face_value_fen) == ("settled", 5_000)
    assert runner.invoke(app, ["orders", "conflicts"]).output.strip() == "0 order(s) in conflict"
