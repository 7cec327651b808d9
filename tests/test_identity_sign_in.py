"""Seller sign-in by SMS code and password: codes, caps, lockouts, enumeration-safe answers."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from factories import (
    bearer,
    latest_sms_code,
    make_client,
    make_seller,
    new_phone,
    open_seller_session,
    sign_in_seller,
)
from huafei.core.logging import configure_logging
from huafei.identity.models import OperationLogEntry, Seller, SmsCode

CODES = "/api/v1/auth/sms-codes"
SMS_SIGN_IN = "/api/v1/auth/sign-in/sms"
PASSWORD_SIGN_IN = "/api/v1/auth/sign-in/password"


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _actions(db) -> list[str]:
    with db.session() as session:
        return list(
            session.scalars(select(OperationLogEntry.action).order_by(OperationLogEntry.id))
        )


class TestRequestCode:
    @pytest.mark.parametrize(
        "typed", ["+86 138 0013 8000", "138-0013-8000", "１３８００１３８０００"]
    )
    def test_numbers_are_normalised(self, db, clock, typed) -> None:
        client = make_client(db, clock)
        assert client.post(CODES, json={"phone": typed}).status_code == 202
        messages = client.get("/sandbox/sms", params={"phone": "13800138000"}).json()
        assert len(messages) == 1
        assert "验证码" in messages[0]["text"]

    @pytest.mark.parametrize(
        ("typed", "code"),
        [
            ("12345678901", "invalid_phone_number"),
            ("02012345678", "invalid_phone_number"),
            ("not a number", "invalid_phone_number"),
            ("", "invalid_phone_number"),
            ("19212345678", "unsupported_carrier"),  # China Broadnet
        ],
    )
    def test_bad_numbers(self, db, clock, typed, code) -> None:
        client = make_client(db, clock)
        response = client.post(CODES, json={"phone": typed})
        assert response.status_code == 422
        assert response.json()["code"] == code
        assert client.get("/sandbox/sms").json() == []

    def test_the_carrier_comes_from_the_segment(self, db, clock) -> None:
        client = make_client(db, clock)
        for phone, carrier in (("13000130000", "cucc"), ("18900189000", "ctcc")):
            assert sign_in_seller(client, phone)["seller"]["carrier"] == carrier

    def test_resend_no_sooner_than_a_minute(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        assert client.post(CODES, json={"phone": phone}).status_code == 202
        first = latest_sms_code(client, phone)
        clock.advance(seconds=45)
        again = client.post(CODES, json={"phone": phone})
        assert again.status_code == 429
        assert again.json()["code"] == "sms_resend_too_soon"
        assert again.json()["retry_after_seconds"] == 15
        clock.advance(seconds=15)
        assert client.post(CODES, json={"phone": phone}).status_code == 202
        # The older code stopped working when the new one was sent.
        response = client.post(SMS_SIGN_IN, json={"phone": phone, "code": first})
        assert response.json()["code"] in {"sms_code_wrong", "sms_code_not_requested"}
        second = latest_sms_code(client, phone)
        assert client.post(SMS_SIGN_IN, json={"phone": phone, "code": second}).status_code == 200

    def test_hourly_cap_per_number(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        for _ in range(5):
            assert client.post(CODES, json={"phone": phone}).status_code == 202
            clock.advance(seconds=61)
        capped = client.post(CODES, json={"phone": phone})
        assert capped.status_code == 429
        assert capped.json()["code"] == "sms_rate_limited"
        assert capped.json()["scope"] == "number"
        assert capped.json()["retry_after_seconds"] > 0
        assert len(client.get("/sandbox/sms", params={"phone": phone}).json()) == 5

    def test_hourly_cap_per_address(self, db, clock) -> None:
        client = make_client(db, clock)
        for _ in range(20):
            assert client.post(CODES, json={"phone": new_phone()}).status_code == 202
        capped = client.post(CODES, json={"phone": new_phone()})
        assert capped.status_code == 429
        assert capped.json()["scope"] == "ip"
        assert "auth.sms_code.rate_limited" in _actions(db)

    def test_the_outbox_is_not_mounted_without_sandboxes(self, db, clock) -> None:
        client = make_client(db, clock, sandboxes=False)
        assert client.get("/sandbox/sms").status_code == 404
        assert client.post("/sandbox/liveness", json={}).status_code == 404


class TestSmsSignIn:
    def test_first_code_signs_up_then_signs_in(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        first = sign_in_seller(client, phone)
        clock.advance(seconds=61)
        second = sign_in_seller(client, phone)
        assert first["new_seller"] is True
        assert second["new_seller"] is False
        assert first["seller"]["id"] == second["seller"]["id"]
        assert client.get("/api/v1/me", headers=bearer(second["token"])).json()["tier"] == 1
        actions = _actions(db)
        assert actions.count("auth.sms_code.sent") == 2
        assert actions.count("seller.signed_up") == 1
        assert actions.count("auth.sign_in.succeeded") == 2

    def test_a_code_is_single_use(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        client.post(CODES, json={"phone": phone})
        code = latest_sms_code(client, phone)
        assert client.post(SMS_SIGN_IN, json={"phone": phone, "code": code}).status_code == 200
        again = client.post(SMS_SIGN_IN, json={"phone": phone, "code": code})
        assert again.status_code == 401
        assert again.json()["code"] == "sms_code_not_requested"

    def test_a_code_lasts_five_minutes(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        client.post(CODES, json={"phone": phone})
        code = latest_sms_code(client, phone)
        clock.advance(minutes=5)
        expired = client.post(SMS_SIGN_IN, json={"phone": phone, "code": code})
        assert expired.status_code == 401
        assert expired.json()["code"] == "sms_code_expired"

    def test_five_tries_per_code(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        client.post(CODES, json={"phone": phone})
        code = latest_sms_code(client, phone)
        for left in (4, 3, 2, 1):
            wrong = client.post(SMS_SIGN_IN, json={"phone": phone, "code": _wrong(code)})
            assert wrong.json()["code"] == "sms_code_wrong"
            assert wrong.json()["attempts_left"] == left
        fifth = client.post(SMS_SIGN_IN, json={"phone": phone, "code": _wrong(code)})
        assert fifth.json()["code"] == "sms_code_attempts_exhausted"
        dead = client.post(SMS_SIGN_IN, json={"phone": phone, "code": code})
        assert dead.status_code == 401
        with db.session() as session:
            assert session.scalars(select(SmsCode.status)).one() == "exhausted"
            assert session.scalars(select(Seller)).all() == []

    def test_lockout_with_unlock_time(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        codes = []
        for _ in range(2):
            client.post(CODES, json={"phone": phone})
            codes.append(latest_sms_code(client, phone))
            for _ in range(5):
                last = client.post(SMS_SIGN_IN, json={"phone": phone, "code": _wrong(codes[-1])})
            clock.advance(seconds=61)
        assert last.status_code == 429
        problem = last.json()
        assert problem["code"] == "locked_out"
        assert problem["action"] == "seller_sign_in"
        assert problem["retry_after_seconds"] == 15 * 60
        unlock_at = datetime.fromisoformat(problem["unlock_at"])
        assert unlock_at == clock.now() - timedelta(seconds=61) + timedelta(minutes=15)
        assert f"{unlock_at:%Y-%m-%d %H:%M:%S} UTC" in problem["detail"]
        # Even the right code is refused while locked.
        client.post(CODES, json={"phone": phone})
        good = latest_sms_code(client, phone)
        assert client.post(SMS_SIGN_IN, json={"phone": phone, "code": good}).status_code == 429
        clock.advance(minutes=15)
        client.post(CODES, json={"phone": phone})
        good = latest_sms_code(client, phone)
        assert client.post(SMS_SIGN_IN, json={"phone": phone, "code": good}).status_code == 200
        assert "auth.sign_in.failed" in _actions(db)

    def test_a_stranger_without_a_live_code_cannot_lock_the_seller_out(self, db, clock) -> None:
        """Codes posted for a number with no live code (never sent, used or expired) are no
        guesses: they count against the address, never towards the number's lockout."""
        client = make_client(db, clock)
        phone = new_phone()
        sign_in_seller(client, phone)
        clock.advance(seconds=61)
        for _ in range(30):
            stranger = client.post(SMS_SIGN_IN, json={"phone": phone, "code": "123456"})
            assert stranger.json()["code"] == "sms_code_not_requested"
        client.post(CODES, json={"phone": phone})
        stale = latest_sms_code(client, phone)
        clock.advance(minutes=5)
        for _ in range(15):
            expired = client.post(SMS_SIGN_IN, json={"phone": phone, "code": _wrong(stale)})
            assert expired.json()["code"] == "sms_code_expired"
        client.post(CODES, json={"phone": phone})
        good = latest_sms_code(client, phone)
        assert client.post(SMS_SIGN_IN, json={"phone": phone, "code": good}).status_code == 200
        assert "auth.sign_in.failed" in _actions(db)

    def test_code_without_request(self, db, clock) -> None:
        client = make_client(db, clock)
        response = client.post(SMS_SIGN_IN, json={"phone": new_phone(), "code": "123456"})
        assert response.status_code == 401
        assert response.json()["code"] == "sms_code_not_requested"


class TestPassword:
    def test_set_then_sign_in_with_it(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        token = sign_in_seller(client, phone)["token"]
        weak = client.put("/api/v1/me/password", headers=bearer(token), json={"new_password": "1"})
        assert weak.status_code == 422
        assert weak.json()["code"] == "weak_password"
        response = client.put(
            "/api/v1/me/password", headers=bearer(token), json={"new_password": "s3cret-enough"}
        )
        assert response.status_code == 200
        assert response.json()["has_password"] is True
        signed_in = client.post(
            PASSWORD_SIGN_IN, json={"phone": phone, "password": "s3cret-enough"}
        )
        assert signed_in.status_code == 200
        assert signed_in.json()["seller"]["phone_masked"] == phone[:3] + "****" + phone[-4:]
        with db.session() as session:
            stored = session.scalars(select(Seller.password_hash)).one()
        assert stored.startswith("$argon2id$")

    def test_changing_needs_the_current_one_and_ends_other_sessions(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        token = sign_in_seller(client, phone)["token"]
        url = "/api/v1/me/password"
        client.put(url, headers=bearer(token), json={"new_password": "first-password"})
        other = client.post(PASSWORD_SIGN_IN, json={"phone": phone, "password": "first-password"})
        other_token = other.json()["token"]
        wrong = client.put(
            url,
            headers=bearer(token),
            json={"new_password": "second-password", "current_password": "nope"},
        )
        assert wrong.json()["code"] == "current_password_wrong"
        changed = client.put(
            url,
            headers=bearer(token),
            json={"new_password": "second-password", "current_password": "first-password"},
        )
        assert changed.status_code == 200
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
        assert client.get("/api/v1/me", headers=bearer(other_token)).status_code == 401

    def test_wrong_passwords_lock_password_sign_in_only(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        token = sign_in_seller(client, phone)["token"]
        client.put("/api/v1/me/password", headers=bearer(token), json={"new_password": "pa55word!"})
        for _ in range(10):
            last = client.post(PASSWORD_SIGN_IN, json={"phone": phone, "password": "guess-123"})
        assert last.status_code == 429
        assert last.json()["action"] == "seller_password_sign_in"
        right = client.post(PASSWORD_SIGN_IN, json={"phone": phone, "password": "pa55word!"})
        assert right.status_code == 429
        # The seller still signs in with a code.
        clock.advance(seconds=61)
        client.post(CODES, json={"phone": phone})
        code = latest_sms_code(client, phone)
        assert client.post(SMS_SIGN_IN, json={"phone": phone, "code": code}).status_code == 200

    def test_answers_do_not_reveal_which_numbers_exist(self, db, clock) -> None:
        client = make_client(db, clock)
        without_password = make_seller(db, clock)
        token = open_seller_session(db, clock, without_password.id)
        with_password = make_seller(db, clock)
        token = open_seller_session(db, clock, with_password.id)
        client.put("/api/v1/me/password", headers=bearer(token), json={"new_password": "pa55word!"})
        answers = []
        for phone in (new_phone(), without_password.phone, with_password.phone):
            response = client.post(PASSWORD_SIGN_IN, json={"phone": phone, "password": "guess-123"})
            answers.append((response.status_code, response.json() | {"instance": None}))
        assert answers[0] == answers[1] == answers[2]
        assert answers[0][1]["code"] == "invalid_credentials"
        # Codes are texted to any valid number with the same answer.
        known = client.post(CODES, json={"phone": with_password.phone})
        unknown = client.post(CODES, json={"phone": new_phone()})
        assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())

    def test_unknown_numbers_lock_like_known_ones(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        answers = [
            client.post(PASSWORD_SIGN_IN, json={"phone": phone, "password": "guess-123"}).json()
            for _ in range(10)
        ]
        assert [a["code"] for a in answers] == ["invalid_credentials"] * 9 + ["locked_out"]


class TestDevelopmentLog:
    def test_the_code_line_is_logged_in_development_only(self, db, clock, capfd) -> None:
        configure_logging("INFO", json=True)
        try:
            for env, logged in (("development", True), ("test", False)):
                client = make_client(db, clock, env=env)
                phone = new_phone()
                client.post(CODES, json={"phone": phone})
                code = latest_sms_code(client, phone)
                err = capfd.readouterr().err
                assert (code in err) is logged
                assert phone not in err
                if logged:
                    assert f"{phone[:3]}****{phone[-4:]}" in err
        finally:
            logging.getLogger().handlers.clear()
