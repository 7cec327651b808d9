"""KYC through the API against the sandboxes: L1 → L2 → L3, each refusal with its own code."""

from __future__ import annotations

from datetime import date

import pytest

from factories import (
    bearer,
    make_client,
    make_id_number,
    make_seller,
    open_seller_session,
    sign_in_seller,
)
from huafei.carriers.sandbox_numbers import TEST_NUMBERS
from huafei.identity.models import Seller
from huafei.identity.validation import id_check_char

PHONE = "13800138000"  # a sandbox number: service password 138000


def _selfie(client, outcome: str = "pass") -> str:
    response = client.post("/sandbox/liveness", json={"outcome": outcome})
    assert response.status_code == 200
    return response.json()["selfie_token"]


def _limits(client, token) -> dict[str, dict]:
    body = client.get("/api/v1/me/limits", headers=bearer(token)).json()
    return {flow["flow"]: flow | {"tier": body["tier"]} for flow in body["flows"]}


def _wrong_check_digit(id_number: str) -> str:
    wrong = next(c for c in "0123456789X" if c != id_check_char(id_number[:17]))
    return id_number[:17] + wrong


class TestJourney:
    def test_l1_to_l2_to_l3_and_the_limits_follow(self, db, clock) -> None:
        client = make_client(db, clock)
        signed_in = sign_in_seller(client, PHONE)
        token = signed_in["token"]
        assert signed_in["new_seller"] is True
        assert signed_in["seller"]["tier"] == 1
        assert signed_in["seller"]["carrier"] == "cmcc"
        assert signed_in["seller"]["phone_masked"] == "138****8000"

        l1 = _limits(client, token)
        assert l1["card_sale"]["tier"] == 1
        assert l1["card_sale"]["per_order_fen"] == 50_000
        assert l1["card_sale"]["lifetime"]["size_fen"] == 100_000
        assert l1["withdrawal"]["per_order_fen"] == 0

        # Level 2: real name, ID number, liveness.
        id_number = make_id_number(date(1988, 2, 29))
        l2 = client.post(
            "/api/v1/me/kyc/real-name",
            headers=bearer(token),
            json={"real_name": "李 雷", "id_number": id_number, "selfie_token": _selfie(client)},
        )
        assert l2.status_code == 200, l2.text
        assert l2.json()["tier"] == 2
        assert l2.json()["real_name_masked"] == "李*"
        assert l2.json()["id_number_masked"] == id_number[:4] + "*" * 10 + id_number[-4:]
        assert id_number not in l2.text

        limits_l2 = _limits(client, token)
        assert limits_l2["card_sale"]["per_order_fen"] == 500_000
        assert limits_l2["card_sale"]["annual"]["size_fen"] == 10_000_000
        assert limits_l2["card_sale"]["lifetime"]["size_fen"] is None
        assert limits_l2["withdrawal"]["per_order_fen"] == 5_000_000
        assert limits_l2["balance_sale"]["per_order_fen"] == 0

        # Level 3: the carrier service password of the seller's own number.
        l3 = client.post(
            "/api/v1/me/kyc/service-password",
            headers=bearer(token),
            json={"service_password": TEST_NUMBERS[PHONE].service_password},
        )
        assert l3.status_code == 200, l3.text
        assert l3.json()["tier"] == 3
        limits_l3 = _limits(client, token)
        assert limits_l3["card_sale"]["annual"]["size_fen"] == 20_000_000
        assert limits_l3["balance_sale"]["per_order_fen"] == 50_000
        assert limits_l3["withdrawal"]["daily"]["size_fen"] == 20_000_000

        # Stored encrypted, never plain.
        with db.session() as session:
            seller = session.query(Seller).one()
            assert id_number not in (seller.id_number_enc or "")
            assert "李雷" not in (seller.real_name_enc or "")
            assert "138000" not in (seller.service_password_enc or "")
            assert seller.id_number_enc.startswith("dev1:")


@pytest.fixture
def l1(db, clock):
    client = make_client(db, clock)
    seller = make_seller(db, clock, tier=1)
    return client, bearer(open_seller_session(db, clock, seller.id))


def _real_name(client, headers, **overrides):
    body = {"real_name": "韩梅梅", "id_number": make_id_number(), "selfie_token": _selfie(client)}
    body.update(overrides)
    return client.post("/api/v1/me/kyc/real-name", headers=headers, json=body)


class TestRealNameRefusals:
    def test_wrong_check_digit(self, l1) -> None:
        client, headers = l1
        response = _real_name(client, headers, id_number=_wrong_check_digit(make_id_number()))
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "id_check_digit_mismatch"

    def test_minor(self, l1, clock) -> None:
        client, headers = l1
        today = clock.now().date()
        seventeen = make_id_number(date(today.year - 17, today.month, 1))
        response = _real_name(client, headers, id_number=seventeen)
        assert response.status_code == 422
        assert response.json()["code"] == "seller_is_minor"

    def test_eighteen_today_is_an_adult(self, l1, clock) -> None:
        client, headers = l1
        today = clock.now().date()
        adult = make_id_number(date(today.year - 18, today.month, today.day))
        assert _real_name(client, headers, id_number=adult).status_code == 200

    def test_failed_liveness(self, l1) -> None:
        client, headers = l1
        response = _real_name(client, headers, selfie_token=_selfie(client, "fail"))
        assert response.status_code == 422
        assert response.json()["code"] == "liveness_failed"
        assert response.json()["attempts_left"] == 4
        assert client.get("/api/v1/me", headers=headers).json()["tier"] == 1

    def test_name_does_not_match_the_register(self, l1) -> None:
        client, headers = l1
        response = _real_name(client, headers, selfie_token=_selfie(client, "name_mismatch"))
        assert response.json()["code"] == "real_name_mismatch"

    def test_provider_down(self, l1) -> None:
        client, headers = l1
        response = _real_name(client, headers, selfie_token=_selfie(client, "unavailable"))
        assert response.status_code == 503
        assert response.json()["code"] == "identity_provider_unavailable"

    @pytest.mark.parametrize(
        ("id_number", "code"),
        [
            ("12345", "invalid_id_number"),
            ("99010119900101001", "invalid_id_number"),
            ("31010119901301001", "id_birth_date_invalid"),
            ("31010130000101001", "id_birth_date_invalid"),
        ],
    )
    def test_malformed_numbers(self, l1, id_number, code) -> None:
        client, headers = l1
        if len(id_number) == 17:
            id_number += id_check_char(id_number)
        assert _real_name(client, headers, id_number=id_number).json()["code"] == code

    def test_bad_name(self, l1) -> None:
        client, headers = l1
        assert _real_name(client, headers, real_name="x").json()["code"] == "invalid_real_name"

    def test_one_id_number_one_account(self, l1, db, clock) -> None:
        client, headers = l1
        id_number = make_id_number()
        assert _real_name(client, headers, id_number=id_number).status_code == 200
        other = make_seller(db, clock)
        other_headers = bearer(open_seller_session(db, clock, other.id))
        response = _real_name(client, other_headers, id_number=id_number)
        assert response.status_code == 409
        assert response.json()["code"] == "id_number_in_use"

    def test_already_verified(self, l1) -> None:
        client, headers = l1
        assert _real_name(client, headers).status_code == 200
        assert _real_name(client, headers).json()["code"] == "kyc_already_done"

    def test_five_failures_lock_for_a_day(self, l1, clock) -> None:
        client, headers = l1
        for _ in range(4):
            fail = _real_name(client, headers, selfie_token=_selfie(client, "fail"))
            assert fail.json()["code"] == "liveness_failed"
        locked = _real_name(client, headers, selfie_token=_selfie(client, "fail"))
        assert locked.status_code == 429
        assert locked.json()["code"] == "locked_out"
        assert locked.json()["action"] == "real_name_verification"
        assert locked.json()["retry_after_seconds"] == 24 * 3600
        assert _real_name(client, headers).json()["code"] == "locked_out"
        clock.advance(hours=24, seconds=1)
        assert _real_name(client, headers).status_code == 200


class TestServicePassword:
    def test_wrong_service_password(self, db, clock) -> None:
        client = make_client(db, clock)
        seller = make_seller(db, clock, tier=2, phone=PHONE)
        headers = bearer(open_seller_session(db, clock, seller.id))
        response = client.post(
            "/api/v1/me/kyc/service-password", headers=headers, json={"service_password": "999999"}
        )
        assert response.status_code == 422
        assert response.json()["code"] == "service_password_wrong"
        assert response.json()["attempts_left"] == 4
        assert client.get("/api/v1/me", headers=headers).json()["tier"] == 2

    def test_needs_level_two_first(self, l1) -> None:
        client, headers = l1
        response = client.post(
            "/api/v1/me/kyc/service-password", headers=headers, json={"service_password": "1"}
        )
        assert response.status_code == 409
        assert response.json()["code"] == "kyc_tier_required"
        assert response.json()["required_tier"] == 2

    def test_numbers_unknown_to_the_carrier_never_match(self, db, clock) -> None:
        client = make_client(db, clock)
        seller = make_seller(db, clock, tier=2)
        headers = bearer(open_seller_session(db, clock, seller.id))
        response = client.post(
            "/api/v1/me/kyc/service-password", headers=headers, json={"service_password": "138000"}
        )
        assert response.json()["code"] == "service_password_wrong"
