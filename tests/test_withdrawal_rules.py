"""Limits, approvals (four eyes), rejection and cancellation, as owners and finance see them."""

from __future__ import annotations

import uuid

import pytest

from payouts_harness import running_platform

SELLER = "seller:7"


@pytest.fixture
def platform(db, clock, tmp_path):
    with running_platform(db, clock, tmp_path, payout_approval_threshold_fen=2_000_000) as p:
        yield p


def approve(platform, withdrawal_id: int, staff_id: int):
    return platform.http.post(
        f"/api/v1/finance/withdrawals/{withdrawal_id}/approve",
        json={"note": "checked"},
        headers=platform.staff_headers(staff_id, key=uuid.uuid4().hex),
    )


class TestApproval:
    def test_a_large_withdrawal_waits_for_a_second_staff_member(self, platform) -> None:
        platform.fund(SELLER, 3_000_000)
        card = platform.add_card(SELLER)
        response = platform.withdraw(SELLER, card["id"], "20000.01")
        assert response.status_code == 201, response.text
        withdrawal = response.json()
        assert withdrawal["status"] == "awaiting_approval"
        assert "approval threshold" in withdrawal["review_reason"]
        platform.worker.run_until_idle()
        assert platform.rail_payouts() == []  # nothing leaves before the approval

        queue = platform.http.get(
            "/api/v1/finance/withdrawals", headers=platform.staff_headers(5)
        ).json()
        assert [w["id"] for w in queue] == [withdrawal["id"]]

        note = platform.http.post(
            f"/api/v1/finance/withdrawals/{withdrawal['id']}/notes",
            json={"note": "called the seller, looks fine"},
            headers=platform.staff_headers(5),
        )
        assert note.status_code == 200
        refused = approve(platform, withdrawal["id"], 5)
        assert refused.status_code == 403
        assert refused.json()["code"] == "four_eyes_violation"
        assert platform.withdrawal(SELLER, withdrawal["id"])["status"] == "awaiting_approval"

        approved = approve(platform, withdrawal["id"], 6)
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "queued"
        assert [e["event"] for e in approved.json()["history"]] == [
            "requested", "awaiting_approval", "note", "approved", "queued",
        ]  # fmt: skip
        platform.worker.run_until_idle()
        platform.wait_status(SELLER, withdrawal["id"], "paid")
        assert platform.balances(SELLER)["available_fen"] == 3_000_000 - 2_000_001 - 200
        platform.assert_ledger_sound()

    def test_at_the_threshold_no_approval_is_needed(self, platform) -> None:
        platform.fund(SELLER, 3_000_000)
        card = platform.add_card(SELLER)
        assert platform.withdraw(SELLER, card["id"], "20000").json()["status"] == "queued"

    def test_rejection_returns_the_money_and_says_why(self, platform) -> None:
        platform.fund(SELLER, 3_000_000)
        card = platform.add_card(SELLER)
        withdrawal = platform.withdraw(SELLER, card["id"], "25000").json()
        rejected = platform.http.post(
            f"/api/v1/finance/withdrawals/{withdrawal['id']}/reject",
            json={"reason": "收款账户需要补充材料"},
            headers=platform.staff_headers(9, key="r-1"),
        )
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["status"] == "rejected"
        assert platform.balances(SELLER)["available_fen"] == 3_000_000
        notice = platform.notices(SELLER)[0]
        assert notice["title"] == "提现未通过审核"
        assert "收款账户需要补充材料" in notice["body"]
        late = approve(platform, withdrawal["id"], 10)
        assert late.status_code == 409
        assert late.json()["code"] == "withdrawal_invalid_transition"
        platform.assert_ledger_sound()

    def test_the_owner_can_cancel_while_it_waits(self, platform) -> None:
        platform.fund(SELLER, 4_000_000)
        card = platform.add_card(SELLER)
        withdrawal = platform.withdraw(SELLER, card["id"], "30000").json()
        cancelled = platform.http.post(
            f"/api/v1/withdrawals/{withdrawal['id']}/cancel",
            headers={**platform.owner_headers(SELLER), "Idempotency-Key": "c-1"},
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert platform.balances(SELLER)["available_fen"] == 4_000_000
        platform.assert_ledger_sound()

    def test_two_approvals_when_configured(self, db, clock, tmp_path) -> None:
        with running_platform(db, clock, tmp_path, payout_approvals_required=2) as platform:
            platform.fund(SELLER, 3_000_000)
            card = platform.add_card(SELLER)
            withdrawal = platform.withdraw(SELLER, card["id"], "21000").json()
            assert approve(platform, withdrawal["id"], 1).json()["status"] == "awaiting_approval"
            twice = approve(platform, withdrawal["id"], 1)
            assert twice.json()["code"] == "four_eyes_violation"
            assert approve(platform, withdrawal["id"], 2).json()["status"] == "queued"


class TestLimits:
    @pytest.mark.parametrize(
        ("amount", "code"),
        [
            ("9.99", "withdrawal_below_minimum"),
            ("50000.01", "withdrawal_limit_exceeded"),
            ("12.345", "invalid_amount"),
            ("-5", "invalid_amount"),
            ("1e3", "invalid_amount"),
        ],
    )
    def test_refused_amounts(self, platform, amount, code) -> None:
        platform.fund(SELLER, 10_000_000)
        card = platform.add_card(SELLER)
        response = platform.withdraw(SELLER, card["id"], amount)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code
        assert platform.balances(SELLER)["held_fen"] == 0

    def test_the_daily_total(self, platform) -> None:
        platform.fund(SELLER, 10_000_000)
        card = platform.add_card(SELLER)
        assert platform.withdraw(SELLER, card["id"], "20000").status_code == 201
        assert platform.withdraw(SELLER, card["id"], "20000").status_code == 201
        third = platform.withdraw(SELLER, card["id"], "10000.01")
        assert third.json()["code"] == "withdrawal_limit_exceeded"
        assert third.json()["limit"] == "daily_amount"
        assert third.json()["remaining_fen"] == 1_000_000

    def test_failed_withdrawals_do_not_count_towards_the_day(self, platform) -> None:
        platform.fund(SELLER, 10_000_000)
        card = platform.add_card(SELLER)
        platform.switch("account_frozen")
        first = platform.withdraw(SELLER, card["id"], "20000").json()
        platform.worker.run_until_idle()
        platform.wait_status(SELLER, first["id"], "failed")
        assert platform.withdraw(SELLER, card["id"], "20000").status_code == 201
        assert platform.withdraw(SELLER, card["id"], "20000").status_code == 201

    def test_the_balance_must_cover_amount_and_fee(self, platform) -> None:
        platform.fund(SELLER, 10_100)
        card = platform.add_card(SELLER)
        response = platform.withdraw(SELLER, card["id"], "100")
        assert response.status_code == 422
        problem = response.json()
        assert problem["code"] == "insufficient_balance"
        assert problem["needed_fen"] == 10_200
        assert problem["available_fen"] == 10_100

    def test_the_quote_says_what_a_request_would_be_refused_with(self, platform) -> None:
        """The quote names the refusal's code (and its figures) for the minimum, each limit and
        the balance — and creates nothing."""

        def quote(owner: str, method_id: int, amount: str) -> dict:
            response = platform.http.post(
                "/api/v1/withdrawals/quote",
                json={"method_id": method_id, "amount": amount},
                headers=platform.owner_headers(owner),
            )
            assert response.status_code == 200, response.text
            return response.json()

        platform.fund(SELLER, 10_000_000)
        card = platform.add_card(SELLER)
        assert platform.withdraw(SELLER, card["id"], "20000").status_code == 201
        assert platform.withdraw(SELLER, card["id"], "5000").status_code == 201
        assert quote(SELLER, card["id"], "100")["refusal"] is None
        below = quote(SELLER, card["id"], "9.99")["refusal"]
        assert below["code"] == "withdrawal_below_minimum"
        single = quote(SELLER, card["id"], "50000.01")["refusal"]
        assert (single["code"], single["extra"]["limit"]) == ("withdrawal_limit_exceeded", "single")
        daily = quote(SELLER, card["id"], "25000.01")["refusal"]
        assert daily["code"] == "withdrawal_limit_exceeded"
        assert daily["extra"] == {
            "limit": "daily_amount",
            "limit_fen": 5_000_000,
            "remaining_fen": 2_500_000,
        }

        other = "seller:8"
        platform.fund(other, 10_100)
        other_card = platform.add_card(other)
        short = quote(other, other_card["id"], "100")
        assert short["refusal"]["code"] == "insufficient_balance"
        assert short["refusal"]["extra"] == {"available_fen": 10_100, "needed_fen": 10_200}
        # The quotes created nothing; the request answers what the quote said.
        assert platform.balances(other)["held_fen"] == 0
        refused = platform.withdraw(other, other_card["id"], "100")
        assert refused.json()["code"] == "insufficient_balance"
        mine = platform.http.get("/api/v1/withdrawals", headers=platform.owner_headers(SELLER))
        assert len(mine.json()) == 2

    def test_a_changed_fee_is_refused(self, platform) -> None:
        platform.fund(SELLER, 100_000)
        card = platform.add_card(SELLER)
        response = platform.http.post(
            "/api/v1/withdrawals",
            json={"method_id": card["id"], "amount": "100", "fee_fen": 100},
            headers={**platform.owner_headers(SELLER), "Idempotency-Key": "fee-1"},
        )
        assert response.status_code == 409
        assert response.json()["code"] == "withdrawal_fee_changed"
        assert response.json()["fee_fen"] == 200

    def test_an_idempotency_key_is_required(self, platform) -> None:
        platform.fund(SELLER, 100_000)
        card = platform.add_card(SELLER)
        response = platform.http.post(
            "/api/v1/withdrawals",
            json={"method_id": card["id"], "amount": "100"},
            headers=platform.owner_headers(SELLER),
        )
        assert response.status_code == 400
        assert response.json()["code"] == "idempotency_key_required"

    def test_the_longest_key_the_edge_accepts_is_stored(self, platform) -> None:
        platform.fund(SELLER, 100_000)
        card = platform.add_card(SELLER)
        key = "k" * 255  # core.idempotency.MAX_KEY_LENGTH
        first = platform.withdraw(SELLER, card["id"], "100", key=key)
        assert first.status_code == 201, first.text
        again = platform.withdraw(SELLER, card["id"], "100", key=key)
        assert again.json()["id"] == first.json()["id"]
        too_long = platform.withdraw(SELLER, card["id"], "100", key=key + "k")
        assert too_long.status_code == 422
        assert too_long.json()["code"] == "validation_failed"

    def test_someone_elses_method_is_not_found(self, platform) -> None:
        platform.fund("seller:8", 100_000)
        card = platform.add_card(SELLER)
        response = platform.withdraw("seller:8", card["id"], "100")
        assert response.status_code == 404
        assert response.json()["code"] == "payout_method_not_found"
