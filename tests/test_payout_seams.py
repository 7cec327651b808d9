"""The seams other domains plug into — risk, identity-tier limits, SMS codes — and the notices
inbox; plus the daily limit holding under concurrent requests."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

import pytest

from huafei.payouts import errors
from huafei.payouts.seams import AllLimits, RiskDecision, RiskVerdict, WithdrawalAttempt
from payouts_harness import running_platform

SELLER = "seller:51"


@pytest.fixture
def platform(db, clock, tmp_path):
    with running_platform(db, clock, tmp_path) as running:
        yield running


@dataclass
class ReviewLargeToNewCards:
    """A risk rule as the risk engine would plug it in."""

    verdict: RiskVerdict

    def assess(self, session, attempt: WithdrawalAttempt) -> RiskDecision:
        return RiskDecision(self.verdict, ("new payout account",))


@dataclass
class TierOneCap:
    """An identity-tier cap (PBoC Ⅰ类: ¥1,000 in total), as the identity domain would add it."""

    cap_fen: int = 100_000

    def check(self, session, attempt: WithdrawalAttempt) -> None:
        if attempt.amount_fen > self.cap_fen:
            raise errors.LimitExceeded("your account tier allows ¥1,000", limit="tier")


def test_risk_review_waits_for_approval_and_block_refuses(platform) -> None:
    platform.fund(SELLER, 100_000)
    card = platform.add_card(SELLER)
    platform.container.payouts.risk = ReviewLargeToNewCards(RiskVerdict.REVIEW)
    waiting = platform.withdraw(SELLER, card["id"], "100").json()
    assert waiting["status"] == "awaiting_approval"
    assert waiting["review_reason"] == "risk review: new payout account"
    platform.container.payouts.risk = ReviewLargeToNewCards(RiskVerdict.BLOCK)
    blocked = platform.withdraw(SELLER, card["id"], "100")
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "withdrawal_refused_by_risk"
    assert blocked.json()["reasons"] == ["new payout account"]
    assert platform.balances(SELLER)["held_fen"] == 10_200  # only the first one is held


def test_identity_tier_limits_plug_in(platform) -> None:
    platform.fund(SELLER, 1_000_000)
    card = platform.add_card(SELLER)
    payouts = platform.container.payouts
    payouts.limits = AllLimits((*payouts.limits.checkers, TierOneCap()))
    assert platform.withdraw(SELLER, card["id"], "1000").status_code == 201
    refused = platform.withdraw(SELLER, card["id"], "1000.01")
    assert refused.json()["limit"] == "tier"


def test_notices_can_be_read(platform) -> None:
    platform.fund(SELLER, 100_000)
    card = platform.add_card(SELLER)
    platform.withdraw(SELLER, card["id"], "10")
    headers = platform.owner_headers(SELLER)
    assert platform.http.get("/api/v1/notices/unread-count", headers=headers).json() == {
        "unread": 1
    }
    (notice,) = platform.http.get("/api/v1/notices", headers=headers).json()
    assert notice["kind"] == "balance_change"
    assert "冻结 ¥12.00" in notice["body"]
    assert (
        platform.http.post(f"/api/v1/notices/{notice['id']}/read", headers=headers).status_code
        == 204
    )
    assert platform.http.get("/api/v1/notices/unread-count", headers=headers).json() == {
        "unread": 0
    }
    other = platform.http.post(
        f"/api/v1/notices/{notice['id']}/read", headers=platform.owner_headers("seller:1")
    )
    assert other.status_code == 404


def test_concurrent_requests_cannot_pass_the_daily_limit_together(platform) -> None:
    platform.fund(SELLER, 10_000_000)
    card = platform.add_card(SELLER)
    statuses: list[int] = []
    lock = threading.Lock()

    def request() -> None:
        response = platform.withdraw(SELLER, card["id"], "20000", key=uuid.uuid4().hex)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=request) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 201, 422, 422, 422]
    assert platform.balances(SELLER)["held_fen"] == 2 * 2_000_200
