"""The same card submitted twice at the same moment: both submissions find it not live yet and
both insert it; the unique index lets one commit. The other gets the answer it would have got a
moment later — never a 500."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import issue_cards
from huafei.orders import service
from huafei.rates.defaults import install_defaults
from huafei.rates.models import Lane
from huafei.rates.service import current_agreement
from live import serve_live
from test_orders import Seller, lines
from waiting import wait_for


@pytest.fixture
def platform(db, clock):
    if db.is_sqlite:
        pytest.skip("SQLite runs one writing transaction at a time: two submissions cannot race")
    db.run(lambda s: install_defaults(s, now=clock.now()))
    with serve_live(db, clock) as live:
        yield live


def waiting_on_a_lock(db) -> bool:
    with db.engine.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
        )


def race(platform, db, clock, first: Seller, second: Seller, cards: str):
    """``first`` submits in a transaction held open until ``second``'s request is blocked on
    the card's live slot; then ``first`` commits. Returns ``second``'s answer."""
    container = platform.container
    agreement = db.run(lambda s: current_agreement(s, clock.now()))
    answer: list = []
    with db.sessions() as session, session.begin():
        service.submit(
            session,
            service.Submission(
                owner_ref=first.owner_ref,
                seller_id=first.record.id,
                profile_code="third_party",
                carrier=Carrier.CMCC,
                face_value_fen=10_000,
                lane=Lane.NORMAL,
                agreement_version=agreement.version,
                agreement_sha256=agreement.sha256,
                lawful_source_confirmed=True,
                cards_text=cards,
            ),
            keyring=container.keyring,
            now=clock.now(),
            quote_ttl=timedelta(minutes=10),
            guessing=service.GuessingPolicy(),
        )
        thread = threading.Thread(target=lambda: answer.append(second.submit(cards)))
        thread.start()
        wait_for(
            lambda: waiting_on_a_lock(db) or not thread.is_alive(),
            what="the second submission to wait on the card's lock",
            timeout=20,
        )
        assert thread.is_alive(), answer[0].text if answer else "no answer"
    thread.join(timeout=20)
    (response,) = answer
    return response


def test_the_same_seller_twice_at_once_gets_already_submitted(platform, db, clock) -> None:
    secret = platform.container.settings.sandbox_card_secret.get_secret_value()
    cards = "\n".join(lines(issue_cards(secret, Carrier.CMCC, 10_000, 2, start=5100)))
    seller = Seller(platform, db, clock)
    response = race(platform, db, clock, seller, seller, cards)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "batch_rejected"
    assert {r["code"] for r in response.json()["rejected"]} == {"already_submitted"}
    assert sorted(o["state"] for o in seller.orders()) == ["queued", "queued"]


def test_two_sellers_at_once_the_second_is_held_for_risk(platform, db, clock) -> None:
    secret = platform.container.settings.sandbox_card_secret.get_secret_value()
    cards = "\n".join(lines(issue_cards(secret, Carrier.CMCC, 10_000, 1, start=5200)))
    first, second = Seller(platform, db, clock), Seller(platform, db, clock)
    response = race(platform, db, clock, first, second, cards)
    assert response.status_code == 201, response.text
    assert [o["state"] for o in response.json()["orders"]] == ["blocked"]
    assert [o["state"] for o in first.orders()] == ["queued"]
