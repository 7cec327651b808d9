"""Rates, quotes and the agreement, through the public API and the service."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from huafei.composition.app import create_app
from huafei.composition.container import build_container
from huafei.core.settings import Settings
from huafei.rates import errors, service
from huafei.rates.defaults import install_defaults
from huafei.rates.models import Lane


@pytest.fixture
def rated(db, clock):
    db.run(lambda s: install_defaults(s, now=clock.now()))
    return db


@pytest.fixture
def client(rated, clock):
    app = create_app(build_container(Settings(database_url=rated.url), db=rated, clock=clock))
    with TestClient(app) as test_client:
        yield test_client


def test_profiles_are_data(client) -> None:
    profiles = {p["code"]: p for p in client.get("/api/v1/profiles").json()}
    assert set(profiles) == {"carrier_official", "third_party", "social_commerce"}
    official = profiles["carrier_official"]
    assert official["settlement"] == "working_days"
    assert official["settlement_days"] == 1
    assert official["single_order_limit_fen"] == 50_000
    assert profiles["third_party"]["settlement"] == "realtime"


def test_live_rate_table_shows_zhe_and_yuan(client) -> None:
    rows = client.get("/api/v1/rates").json()
    row = next(
        r
        for r in rows
        if (r["profile"], r["carrier"], r["face_value_fen"], r["lane"])
        == ("third_party", "cmcc", 10_000, "normal")
    )
    assert row["rate"] == "0.88"
    assert row["rate_zhe"] == "8.8折"
    assert row["payout_fen"] == 8_800
    fast = next(
        r
        for r in rows
        if (r["profile"], r["carrier"], r["face_value_fen"], r["lane"])
        == ("third_party", "cmcc", 10_000, "fast")
    )
    assert fast["payout_fen"] == 8_700


def test_quote_preview_rounds_down_and_totals(client) -> None:
    quote = client.get(
        "/api/v1/quotes/preview",
        params={"profile": "third_party", "carrier": "ctcc", "face_value_fen": 3_000, "count": 3},
    ).json()
    # 30 yuan × 0.875 = 26.25 → 2625 fen
    assert quote["payout_fen"] == 2_625
    assert quote["fee_fen"] == 375
    assert quote["total_payout_fen"] == 7_875
    assert quote["total_payout_yuan"] == "78.75"
    assert quote["rate_card_version"] == 1


def test_unknown_card_type_is_a_clear_problem(client) -> None:
    response = client.get(
        "/api/v1/quotes/preview",
        params={"profile": "third_party", "carrier": "cucc", "face_value_fen": 1_000},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "card_type_not_offered"
    missing = client.get(
        "/api/v1/quotes/preview",
        params={"profile": "nope", "carrier": "cucc", "face_value_fen": 1_000},
    )
    assert missing.json()["code"] == "profile_not_found"


def test_new_version_takes_effect_at_its_time_and_history_is_public(rated, clock, client) -> None:
    later = clock.now() + timedelta(hours=1)
    rated.run(
        lambda s: service.publish_rate_card(
            s,
            profile_code="carrier_official",
            lines=[service.RateLine("cmcc", 0, Lane.NORMAL, Decimal("0.95"))],
            effective_at=later,
            now=clock.now(),
            note="promotion",
        )
    )

    def official_cmcc_100() -> int:
        return client.get(
            "/api/v1/quotes/preview",
            params={"profile": "carrier_official", "carrier": "cmcc", "face_value_fen": 10_000},
        ).json()["payout_fen"]

    assert official_cmcc_100() == 9_300
    clock.advance(hours=1)
    assert official_cmcc_100() == 9_500
    history = client.get("/api/v1/rates/history", params={"profile": "carrier_official"}).json()
    assert [v["version"] for v in history] == [2, 1]
    assert history[0]["note"] == "promotion"


def test_volume_tiers_raise_the_rate(rated, clock) -> None:
    def payout(volume: int) -> int:
        return rated.run(
            lambda s: (
                service.price(
                    s,
                    profile_code="social_commerce",
                    carrier="cmcc",
                    face_value_fen=10_000,
                    at=clock.now(),
                    monthly_volume_fen=volume,
                ).payout.fen
            )
        )

    assert payout(0) == 8_900
    assert payout(500_000) == 9_000
    assert payout(5_000_000) == 9_100


def test_locked_quote_survives_a_rate_change_until_it_expires(rated, clock) -> None:
    def lock(session):
        priced = service.price(
            session,
            profile_code="third_party",
            carrier="cmcc",
            face_value_fen=10_000,
            at=clock.now(),
        )
        return service.lock_quote(
            session, owner_ref="seller:1", priced=priced, now=clock.now(), ttl=timedelta(minutes=10)
        ).id

    quote_id = rated.run(lock)
    rated.run(
        lambda s: service.publish_rate_card(
            s,
            profile_code="third_party",
            lines=[service.RateLine("cmcc", 10_000, Lane.NORMAL, Decimal("0.5"))],
            effective_at=clock.now(),
            now=clock.now(),
        )
    )
    quote = rated.run(
        lambda s: service.valid_quote(s, quote_id, owner_ref="seller:1", now=clock.now())
    )
    assert quote.payout_fen == 8_800
    with pytest.raises(errors.QuoteNotFound):
        rated.run(lambda s: service.valid_quote(s, quote_id, owner_ref="seller:2", now=clock.now()))
    clock.advance(minutes=10)
    with pytest.raises(errors.QuoteExpired):
        rated.run(lambda s: service.valid_quote(s, quote_id, owner_ref="seller:1", now=clock.now()))


def test_agreement_is_served_byte_for_byte_with_its_hash(client) -> None:
    current = client.get("/api/v1/agreement").json()
    text = client.get(f"/api/v1/agreement/{current['version']}/text")
    assert hashlib.sha256(text.content).hexdigest() == current["sha256"]
    assert "来源合法" in text.text


def test_acceptance_requires_the_exact_hash_and_lawful_source(rated, clock) -> None:
    agreement = rated.run(lambda s: service.current_agreement(s, clock.now()))

    def accept(sha256: str, lawful: bool):
        return rated.run(
            lambda s: service.accept_agreement(
                s,
                owner_ref="seller:1",
                version=agreement.version,
                sha256=sha256,
                lawful_source_confirmed=lawful,
                now=clock.now(),
                ip="203.0.113.9",
                device="test",
            )
        )

    with pytest.raises(errors.AgreementHashMismatch):
        accept("0" * 64, lawful=True)
    with pytest.raises(errors.LawfulSourceNotConfirmed):
        accept(agreement.sha256, lawful=False)
    acceptance = accept(agreement.sha256, lawful=True)
    assert acceptance.version == agreement.version
    assert acceptance.ip == "203.0.113.9"
