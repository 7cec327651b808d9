"""When the carrier channel does not say what happened to a card, the worker asks it.

A channel down when the card is handed over, a channel that never calls back, a channel whose
query fails: each order is asked about at its next check and ends paid once. A callback about a
consumption no order has is kept and changes nothing.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from huafei.carriers.gateway import Carrier
from huafei.carriers.models import CarrierNotification
from huafei.carriers.sandbox_cards import issue_cards
from huafei.composition.runtime import build_worker
from huafei.rates.defaults import install_defaults
from live import LiveApp, serve_live
from test_carriers import notification, post_callback
from test_orders import Seller, lines

CMCC = Carrier.CMCC
CHECK_AFTER = 30  # HUAFEI_ORDERS_CHECK_AFTER_SECONDS's default
PAYOUT_FEN = 8_800  # a ¥100 card sold as third_party


@pytest.fixture
def platform(db, clock):
    db.run(lambda s: install_defaults(s, now=clock.now()))
    with serve_live(db, clock) as live:
        yield live


def sell_one(live: LiveApp, db, clock, start: int) -> tuple[Seller, int]:
    secret = live.container.settings.sandbox_card_secret.get_secret_value()
    seller = Seller(live, db, clock)
    response = seller.submit(lines(issue_cards(secret, CMCC, 10_000, 1, start=start))[0])
    assert response.status_code == 201, response.text
    (order,) = response.json()["orders"]
    return seller, order["id"]


def state(seller: Seller, order_id: int) -> str:
    (order,) = [o for o in seller.orders() if o["id"] == order_id]
    return str(order["state"])


def consumptions(live: LiveApp) -> list[dict]:
    return list(httpx.get(live.sandbox_url(CMCC) + "/control/consumptions").json())


def test_a_card_the_channel_never_received_is_sent_at_the_check(platform, db, clock) -> None:
    seller, order_id = sell_one(platform, db, clock, start=7100)
    worker = build_worker(platform.container, name="test")
    platform.sandbox(CMCC).set_switches(fail_status=503)  # down when the card is handed over
    worker.run_until_idle()
    assert state(seller, order_id) == "consuming"
    assert consumptions(platform) == []

    platform.sandbox(CMCC).set_switches(fail_status=None)
    clock.advance(seconds=CHECK_AFTER)
    worker.run_until_idle()  # the check: the channel never heard of it, so it is sent again
    platform.wait_for_callbacks()
    worker.run_until_idle()
    assert state(seller, order_id) == "settled"
    assert len(consumptions(platform)) == 1
    assert seller.wallet()["available_fen"] == PAYOUT_FEN


def test_a_lost_callback_and_a_failed_query_end_in_one_payment(platform, db, clock) -> None:
    sandbox = platform.sandbox(CMCC)
    sandbox.set_switches(lose_callbacks=True)
    seller, order_id = sell_one(platform, db, clock, start=7200)
    worker = build_worker(platform.container, name="test")
    worker.run_until_idle()
    platform.wait_for_callbacks()  # consumed; nobody is told
    assert state(seller, order_id) == "consuming"

    sandbox.set_switches(fail_status=503)
    clock.advance(seconds=CHECK_AFTER)
    worker.run_until_idle()  # the query fails: wait for the next check
    assert state(seller, order_id) == "consuming"

    sandbox.set_switches(fail_status=None)
    clock.advance(seconds=2 * CHECK_AFTER)  # checks back off: 30 s, then 60 s
    worker.run_until_idle()
    assert state(seller, order_id) == "settled"
    assert seller.wallet()["available_fen"] == PAYOUT_FEN
    assert [c["outcome"] for c in consumptions(platform)] == ["succeeded"]


def test_a_callback_about_no_order_is_kept_and_changes_nothing(platform, db, clock) -> None:
    seller, order_id = sell_one(platform, db, clock, start=7300)
    worker = build_worker(platform.container, name="test")
    worker.run_until_idle()
    platform.wait_for_callbacks()
    worker.run_until_idle()
    assert state(seller, order_id) == "settled"

    stray = notification(notification_id="stray-1", consumption_id="hf-nobody")
    response = post_callback(platform, stray, timestamp=int(clock.now().timestamp()))
    assert response.status_code == 200, response.text
    worker.run_until_idle()
    (row,) = db.run(
        lambda s: list(
            s.scalars(
                select(CarrierNotification).where(CarrierNotification.notification_id == "stray-1")
            )
        )
    )
    assert row.handled_at is not None
    assert state(seller, order_id) == "settled"
    assert seller.wallet()["available_fen"] == PAYOUT_FEN
