"""What a balance sale refuses, each with its typed error: the verification level, a number that
is not the seller's, the carrier's answers (wrong password, unknown number, another carrier,
wrong or expired code), the pauses after repeated failures, and amounts past the carrier's
unit, minimum, balance and monthly cap or the seller's KYC limits."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select, update

from balance_harness import BalanceSeller, balance_platform, worker_for
from huafei.balance.models import BalanceTerms
from huafei.carriers.gateway import Carrier
from huafei.core.logging import configure_logging
from huafei.identity import limits
from huafei.identity.models import AuthThrottle

CMCC_NUMBER = "13800138000"  # ¥123.45
PORTED_NUMBER = "13700137000"  # a China Mobile segment, ported to China Unicom


@pytest.fixture
def platform(db, clock):
    with balance_platform(db, clock) as live:
        yield live


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    return dict(body)


class TestIdentityWithTheCarrier:
    def test_only_level_3_and_only_the_sellers_own_number(self, platform, db, clock) -> None:
        level_2 = BalanceSeller(platform, db, clock, CMCC_NUMBER, tier=2)
        problem(level_2.authorise(), 403, "balance_kyc_level_required")
        seller = BalanceSeller(platform, db, clock, "13900139000")
        refused = problem(seller.authorise(phone=CMCC_NUMBER), 403, "balance_number_not_verified")
        assert CMCC_NUMBER not in str(refused)
        problem(seller.authorise(phone="12345"), 422, "invalid_phone_number")

    def test_the_carriers_answers_are_distinct_errors(self, platform, db, clock) -> None:
        seller = BalanceSeller(platform, db, clock, CMCC_NUMBER)
        wrong = seller.authorise(password="000000")
        assert "000000" not in wrong.text
        assert problem(wrong, 422, "balance_wrong_service_password")["attempts_left"] == 4
        stranger = BalanceSeller(platform, db, clock, "13812345678")  # no such number at cmcc
        problem(stranger.authorise(password="123456"), 422, "balance_unknown_number")

    def test_a_ported_number_is_confirmed_by_its_carrier(self, platform, db, clock) -> None:
        seller = BalanceSeller(platform, db, clock, PORTED_NUMBER)
        guessed = problem(seller.authorise(), 422, "balance_number_of_another_carrier")
        assert guessed["carrier"] == "cmcc" and guessed["carrier_guessed"] is True
        named = seller.authorise(carrier="cucc")
        assert named.status_code == 201, named.text
        assert (named.json()["carrier"], named.json()["carrier_guessed"]) == ("cucc", False)
        code = seller.texted_code(Carrier.CUCC)
        confirmed = seller.confirm(named.json()["id"], code)
        assert confirmed.json()["state"] == "verified"
        balance = seller.balance(named.json()["id"]).json()
        assert (balance["carrier"], balance["balance_fen"]) == ("cucc", 30_000)

    def test_a_wrong_or_expired_code(self, platform, db, clock) -> None:
        seller = BalanceSeller(platform, db, clock, CMCC_NUMBER)
        started = seller.authorise().json()
        assert started["state"] == "code_sent" and started["phone_masked"] != CMCC_NUMBER
        code = seller.texted_code()
        wrong = "0" * 6 if code != "0" * 6 else "1" * 6
        problem(seller.confirm(started["id"], wrong), 422, "balance_wrong_code")
        problem(seller.balance(started["id"]), 409, "balance_code_not_confirmed")
        assert seller.confirm(started["id"], code).json()["state"] == "verified"
        assert seller.confirm(started["id"], code).json()["state"] == "verified"  # a repeat

        late = seller.authorise().json()
        clock.advance(minutes=6)
        problem(seller.confirm(late["id"], seller.texted_code()), 409, "balance_code_expired")
        # The verified authorisation lasts 15 minutes, then a new one is needed.
        clock.advance(minutes=10)
        problem(seller.balance(started["id"]), 409, "balance_authorisation_expired")

    def test_repeated_failures_pause_the_seller_and_the_number(self, platform, db, clock) -> None:
        seller = BalanceSeller(platform, db, clock, CMCC_NUMBER)
        for left in (4, 3, 2, 1):
            refused = problem(
                seller.authorise(password="000000"), 422, "balance_wrong_service_password"
            )
            assert refused["attempts_left"] == left
        paused = problem(seller.authorise(password="000000"), 429, "locked_out")
        assert paused["retry_after_seconds"] == 3600
        # Paused even with the right password, per seller and per number.
        problem(seller.authorise(), 429, "locked_out")
        actions = db.run(
            lambda s: {
                row.action
                for row in s.scalars(
                    select(AuthThrottle).where(AuthThrottle.locked_until.is_not(None))
                )
            }
        )
        assert actions == {"balance_identity_seller", "balance_identity_number"}
        clock.advance(hours=1, seconds=1)
        seller.sign_in_again()
        assert seller.authorise().status_code == 201


class TestAmounts:
    def test_the_carriers_unit_minimum_and_the_balance(self, platform, db, clock) -> None:
        seller = BalanceSeller(platform, db, clock, CMCC_NUMBER)
        authorisation_id = seller.verified()
        problem(seller.quote(authorisation_id, 1_000), 409, "balance_not_queried")
        assert seller.balance(authorisation_id).json()["max_amount_fen"] == 12_300
        too_small = problem(seller.quote(authorisation_id, 500), 422, "balance_amount_too_small")
        assert too_small["min_amount_fen"] == 1_000
        unit = problem(seller.quote(authorisation_id, 1_050), 422, "balance_amount_not_whole_unit")
        assert unit["unit_fen"] == 100
        over = problem(seller.quote(authorisation_id, 12_400), 422, "balance_amount_over_balance")
        assert over["balance_fen"] == 12_345
        problem(seller.quote(authorisation_id, 8_000, "no_such_profile"), 404, "profile_not_found")
        assert seller.quote(authorisation_id, 12_300).status_code == 201

    def test_the_monthly_limit_counts_what_the_number_sold(self, platform, db, clock) -> None:
        db.run(
            lambda s: s.execute(
                update(BalanceTerms)
                .where(BalanceTerms.profile_code == "third_party", BalanceTerms.carrier == "cmcc")
                .values(monthly_limit_fen=10_000)
            )
        )
        seller = BalanceSeller(platform, db, clock, CMCC_NUMBER)
        seller.sold(8_000)
        authorisation_id = seller.verified()
        balance = seller.balance(authorisation_id).json()
        assert (balance["sold_this_month_fen"], balance["monthly_left_fen"]) == (8_000, 2_000)
        assert balance["max_amount_fen"] == 2_000
        over = problem(seller.quote(authorisation_id, 3_000), 422, "balance_monthly_limit_exceeded")
        assert (over["limit_fen"], over["sold_fen"], over["left_fen"]) == (10_000, 8_000, 2_000)
        assert seller.quote(authorisation_id, 2_000).status_code == 201

    def test_the_sellers_kyc_limits(self, platform, db, clock) -> None:
        seller = BalanceSeller(platform, db, clock, "13300133000")  # ctcc, ¥700
        db.run(
            lambda s: limits.record_usage(
                s, seller_id=seller.record.id, flow="balance_sale", amount_fen=45_000,
                ref="balance:earlier", now=clock.now(),
            )
        )  # fmt: skip
        authorisation_id = seller.verified()
        balance = seller.balance(authorisation_id).json()
        assert balance["kyc"]["daily"]["remaining_fen"] == 5_000
        assert balance["max_amount_fen"] == 5_000
        over = problem(seller.quote(authorisation_id, 8_000), 422, "limit_exceeded")
        assert (over["flow"], over["limit"], over["remaining_fen"]) == (
            "balance_sale",
            "daily",
            5_000,
        )
        assert seller.quote(authorisation_id, 5_000).status_code == 201


def test_no_number_password_or_code_in_any_log_line(db, clock, capfd) -> None:
    """A whole sale at DEBUG level: the number, its service password and the carrier's code
    never reach a log line (tests/test_no_personal_data_in_logs.py does the same for identity)."""
    configure_logging("DEBUG", json=True)
    try:
        with balance_platform(db, clock) as live:
            seller = BalanceSeller(live, db, clock, "13900139000")  # password 139000
            sale = seller.sold(8_000)
            code = seller.texted_code()
            worker_for(live).run_until_idle()
            assert seller.sale(sale["id"])["state"] == "settled"
        lines = capfd.readouterr().err.splitlines()
    finally:
        logging.getLogger().handlers.clear()
        logging.getLogger().setLevel(logging.WARNING)
    lines = [re.sub(r'"request_id": "[0-9a-f]{32}"', "", line) for line in lines]
    assert len(lines) > 20, "the run should have logged its requests"
    for secret in ("13900139000", "139000", code):
        assert not [line for line in lines if secret in line], secret
    assert not [line for line in lines if re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", line)]
