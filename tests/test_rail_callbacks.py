"""Rail callbacks and the send path's uncertainty: signatures, replays, timeouts."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from sqlalchemy import select

from huafei.payouts.models import RailName, RailNotification
from huafei.payouts.rails.base import rail_secrets
from payouts_harness import running_platform
from waiting import wait_for

SELLER = "seller:21"


@pytest.fixture
def platform(db, clock, tmp_path):
    with running_platform(db, clock, tmp_path) as running:
        yield running


def signed(body: bytes, *, secret: bytes, timestamp: int) -> dict[str, str]:
    """The documented wire format, computed here independently of the platform's code."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Rail-Timestamp": str(timestamp),
        "X-Rail-Signature": mac,
        "Content-Type": "application/json",
    }


def result_body(payout_id: str, *, notification_id: str = "n-1", status: str = "succeeded"):
    return json.dumps(
        {
            "notification_id": notification_id,
            "payout_id": payout_id,
            "rail_ref": "BANK-REF-1",
            "status": status,
            "amount_fen": 10_000,
            "code": None,
            "reason": None,
            "finished_at": None,
        }
    ).encode()


def inbox(platform) -> list[RailNotification]:
    with platform.db.session() as session:
        return list(session.scalars(select(RailNotification).order_by(RailNotification.id)))


class TestCallbacks:
    def test_signed_callback_is_recorded_once_and_answered_success(self, platform, clock) -> None:
        secret = rail_secrets("")[RailName.BANK]
        platform.fund(SELLER, 50_000)
        card = platform.add_card(SELLER)
        platform.switch("lost_result")  # we deliver the result ourselves
        withdrawal = platform.withdraw(SELLER, card["id"], "100").json()
        platform.worker.run_until_idle()
        wait_for(
            lambda: platform.rail_payouts()[0]["status"] == "succeeded",
            what="the rail to settle the payout",
        )
        body = result_body(withdrawal["payout_id"])
        headers = signed(body, secret=secret, timestamp=int(clock.now().timestamp()))
        for _ in range(3):
            response = platform.http.post("/callbacks/rails/bank", content=body, headers=headers)
            assert response.status_code == 200
            assert response.text == "SUCCESS"
        assert platform.withdrawal(SELLER, withdrawal["id"])["status"] == "paid"
        (row,) = inbox(platform)
        assert (row.notification_id, row.outcome) == ("n-1", "paid")
        assert platform.balances(SELLER)["available_fen"] == 50_000 - 10_200
        platform.assert_ledger_sound()

    def test_bad_signatures_and_replays_are_refused(self, platform, clock) -> None:
        secret = rail_secrets("")[RailName.BANK]
        body = result_body("HFW20261126ABCDEF012345")
        now = int(clock.now().timestamp())
        wrong_key = signed(body, secret=b"not the secret", timestamp=now)
        stale = signed(body, secret=secret, timestamp=now - 301)
        tampered = signed(body, secret=secret, timestamp=now)
        for headers, content in (
            (wrong_key, body),
            (stale, body),
            (tampered, body.replace(b"succeeded", b"failed")),
            ({"Content-Type": "application/json"}, body),
        ):
            response = platform.http.post("/callbacks/rails/bank", content=content, headers=headers)
            assert response.status_code == 401
            assert response.json()["code"] == "bad_rail_signature"
        assert inbox(platform) == []

    def test_another_rails_secret_does_not_work(self, platform, clock) -> None:
        secrets = rail_secrets("")
        body = result_body("HFW20261126ABCDEF012345")
        headers = signed(
            body, secret=secrets[RailName.ALIPAY], timestamp=int(clock.now().timestamp())
        )
        assert (
            platform.http.post("/callbacks/rails/bank", content=body, headers=headers).status_code
            == 401
        )
        assert (
            platform.http.post("/callbacks/rails/paypal", content=body, headers=headers).json()[
                "code"
            ]
            == "unknown_rail"
        )

    def test_an_unknown_payout_is_acknowledged_and_kept(self, platform, clock) -> None:
        secret = rail_secrets("")[RailName.BANK]
        body = result_body("HFW20261126FFFFFFFFFFFF")
        headers = signed(body, secret=secret, timestamp=int(clock.now().timestamp()))
        response = platform.http.post("/callbacks/rails/bank", content=body, headers=headers)
        assert response.text == "SUCCESS"
        (row,) = inbox(platform)
        assert row.outcome == "unknown_payout"


def test_a_timeout_is_resolved_by_asking_not_by_sending_again(db, clock, tmp_path) -> None:
    with running_platform(
        db, clock, tmp_path, payout_rail_timeout_seconds=0.3, sandbox_rail_settle_seconds=0.05
    ) as platform:
        platform.fund(SELLER, 50_000)
        card = platform.add_card(SELLER)
        platform.switch("timeout", delay=1.0)
        withdrawal = platform.withdraw(SELLER, card["id"], "100").json()
        platform.worker.run_until_idle()
        # The rail has the payout; we did not hear back in time.
        assert len(platform.rail_payouts()) == 1
        state = platform.withdrawal(SELLER, withdrawal["id"])["status"]
        assert state in ("sending", "paid")  # its callback may already have landed
        wait_for(
            lambda: platform.rail_payouts()[0]["status"] == "succeeded",
            what="the rail to settle the payout it answered late",
        )
        clock.advance(seconds=5)
        platform.worker.run_until_idle()
        platform.wait_status(SELLER, withdrawal["id"], "paid")
        (payout,) = platform.rail_payouts()
        assert payout["submissions"] == 1  # asked, not sent again
        assert platform.balances(SELLER)["available_fen"] == 50_000 - 10_200
        platform.assert_ledger_sound()
