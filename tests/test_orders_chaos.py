"""Whatever the carrier channel and the workers do — callbacks late, twice, out of order, lost or
badly signed, a worker killed with SIGKILL mid-run — every card is consumed at most once and paid
exactly once. Real processes on PostgreSQL: the platform served by uvicorn, workers started as
`python -m huafei worker`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import issue_cards
from huafei.core.clock import SystemClock
from huafei.invariants import check_everything
from huafei.ledger.models import Transfer
from huafei.orders.models import Order, OrderState
from huafei.rates.defaults import install_defaults
from live import HuafeiProcess, LiveApp, serve_live
from test_orders import Seller, lines
from waiting import wait_for

FINAL = [s.value for s in OrderState if s.final]


def start_worker(live: LiveApp, db, tmp_path: Path, name: str) -> HuafeiProcess:
    env = {
        "HUAFEI_DATABASE_URL": db.url,
        "HUAFEI_PUBLIC_BASE_URL": live.url,
        "HUAFEI_CARRIER_BASE_URL": f"{live.url}/sandbox/carriers",
        "HUAFEI_ORDERS_CHECK_AFTER_SECONDS": "1",
        "HUAFEI_WORKER_LEASE_SECONDS": "3",
        "HUAFEI_CARRIER_TIMEOUT_SECONDS": "2",
        "HUAFEI_LOG_LEVEL": "WARNING",
    }
    return HuafeiProcess("worker", env=env, log=tmp_path / f"{name}.log")


def states(db) -> Counter[str]:
    return Counter(db.run(lambda s: list(s.scalars(select(Order.state)))))


@pytest.mark.slow
def test_chaotic_channel_and_a_killed_worker_pay_every_card_once(db, tmp_path) -> None:
    if db.is_sqlite:
        pytest.skip("several worker processes are a PostgreSQL deployment")
    clock = SystemClock()
    db.run(lambda s: install_defaults(s, now=clock.now()))
    with serve_live(db, clock, sandbox_callback_delay_ms=300) as live:
        secret = live.container.settings.sandbox_card_secret.get_secret_value()
        sandbox = live.sandbox(Carrier.CMCC)
        seller = Seller(live, db, clock)
        # First wave: callbacks duplicated, stale ones after the final, two cards' results
        # swapped in time.
        sandbox.set_switches(
            callback_delay_ms=300,
            duplicate_callbacks=True,
            stale_callback_after_final=True,
            swap_callbacks=True,
            swap_wait_ms=500,
        )
        first_wave = issue_cards(secret, Carrier.CMCC, 10_000, 12, start=2000)
        assert seller.submit("\n".join(lines(first_wave))).status_code == 201
        first = start_worker(live, db, tmp_path, "first")
        try:
            wait_for(
                lambda: states(db)["consuming"] + states(db)["settled"] >= 4,
                timeout=60,
                interval=0.2,
                what="the first worker to start consuming",
            )
        finally:
            first.kill()
        # Second wave while nobody works: callbacks lost, or signed with the wrong secret (the
        # platform refuses them and the sandbox gives up) — only queries can tell the results.
        sandbox.set_switches(
            callback_delay_ms=200,
            duplicate_callbacks=False,
            stale_callback_after_final=False,
            swap_callbacks=False,
            lose_callbacks=True,
        )
        lost = issue_cards(secret, Carrier.CMCC, 10_000, 4, start=3000)
        assert seller.submit("\n".join(lines(lost))).status_code == 201
        second = start_worker(live, db, tmp_path, "second")
        try:
            wait_for(
                lambda: states(db)["consuming"] + states(db)["settled"] >= 16,
                timeout=60,
                interval=0.2,
                what="the lost-callback wave to be sent",
            )
            sandbox.set_switches(lose_callbacks=False, bad_signature=True, callback_attempts=2)
            badly_signed = issue_cards(secret, Carrier.CMCC, 10_000, 4, start=4000)
            assert seller.submit("\n".join(lines(badly_signed))).status_code == 201
            third = start_worker(live, db, tmp_path, "third")
            try:
                wait_for(
                    lambda: sum(n for s, n in states(db).items() if s in FINAL) == 20,
                    timeout=120,
                    interval=0.2,
                    what="every order to end",
                )
            finally:
                third.terminate()
        finally:
            second.terminate()
        live.wait_for_callbacks(timeout=10)

        assert states(db) == {"settled": 20}
        assert seller.wallet()["available_fen"] == 20 * 8_800

        def owed_per_order(session) -> Counter[str]:
            ids = session.scalars(select(Transfer.id).where(Transfer.id.like("order:%:owed")))
            return Counter(i.split(":")[1] for i in ids)

        owed = db.run(owed_per_order)
        assert len(owed) == 20
        assert set(owed.values()) == {1}  # paid exactly once

        def consumption_ids(session) -> int:
            return int(session.scalar(select(func.count(func.distinct(Order.consumption_id)))))

        assert db.run(consumption_ids) == 20
        # The sandbox was asked to consume each card under one consumption id only: a second
        # consumption of the same card would have been answered "used" and failed the order.
        assert not [o for o in seller.orders() if o["failure_reason"] == "used"]
        refused = [d for d in sandbox.deliveries if d.http_status == 401]
        assert refused  # the badly signed callbacks really were refused
        with db.session() as session:
            report = check_everything(session)
        assert report.ok, report.render()
