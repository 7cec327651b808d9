"""Rail results that contradict the platform, and a rail that forgets a payout it accepted.

A signed result may say something the platform knows to be wrong — failed after it paid, another
amount, a payout never sent — and the platform keeps its own record, answers ``SUCCESS`` (the
rail must stop retrying) and tells finance. A rail that no longer knows an accepted payout gets
it again, under the same payout id, and it is paid once.
"""

from __future__ import annotations

import json

import pytest

from huafei.notices.service import FINANCE_INBOX, list_notices
from huafei.payouts.models import RailName
from huafei.payouts.rails.base import rail_secrets
from payouts_harness import running_platform
from test_rail_callbacks import inbox, signed
from waiting import wait_for

SELLER = "seller:31"


@pytest.fixture
def platform(db, clock, tmp_path):
    with running_platform(db, clock, tmp_path, payout_approval_threshold_fen=50_000) as running:
        yield running


def deliver(platform, clock, payout_id: str, notification_id: str, status: str, fen: int) -> str:
    """A correctly signed result from the bank rail; returns the platform's answer."""
    body = json.dumps(
        {
            "notification_id": notification_id,
            "payout_id": payout_id,
            "rail_ref": "BANK-REF-9",
            "status": status,
            "amount_fen": fen,
            "code": "RAIL_SAYS_SO" if status == "failed" else None,
            "reason": None,
            "finished_at": None,
        }
    ).encode()
    headers = signed(
        body, secret=rail_secrets("")[RailName.BANK], timestamp=int(clock.now().timestamp())
    )
    response = platform.http.post("/callbacks/rails/bank", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.text


def outcome(platform, notification_id: str) -> str | None:
    (row,) = [n for n in inbox(platform) if n.notification_id == notification_id]
    return row.outcome


def conflicts(platform, withdrawal_id: int) -> list[dict]:
    view = platform.http.get(
        f"/api/v1/finance/withdrawals/{withdrawal_id}", headers=platform.staff_headers(1)
    )
    assert view.status_code == 200, view.text
    return [e["detail"] for e in view.json()["history"] if e["event"] == "result_conflict"]


def finance_titles(platform) -> list[str]:
    with platform.db.session() as session:
        return [n.title for n in list_notices(session, FINANCE_INBOX)]


def sent_withdrawal(platform, *, lost_result: bool) -> dict:
    """¥100 withdrawn from ¥500 and handed to the bank rail, whose own result may be lost."""
    platform.fund(SELLER, 50_000)
    card = platform.add_card(SELLER)
    if lost_result:
        platform.switch("lost_result")
    withdrawal = platform.withdraw(SELLER, card["id"], "100").json()
    platform.worker.run_until_idle()
    return dict(withdrawal)


def paid_withdrawal(platform) -> dict:
    withdrawal = sent_withdrawal(platform, lost_result=False)
    return platform.wait_status(SELLER, withdrawal["id"], "paid")


def test_failed_after_paid_is_a_conflict_and_the_payment_stands(platform, clock) -> None:
    paid = paid_withdrawal(platform)
    answer = deliver(platform, clock, paid["payout_id"], "late-failure", "failed", 10_000)
    assert answer == "SUCCESS"
    assert outcome(platform, "late-failure") == "conflict"
    assert platform.withdrawal(SELLER, paid["id"])["status"] == "paid"
    assert platform.balances(SELLER)["available_fen"] == 50_000 - 10_200
    assert conflicts(platform, paid["id"])[0]["what"] == "status"
    assert "支付通道结果与平台记录不一致" in finance_titles(platform)


def test_the_same_result_again_is_a_duplicate(platform, clock) -> None:
    paid = paid_withdrawal(platform)
    deliver(platform, clock, paid["payout_id"], "again", "succeeded", 10_000)
    assert outcome(platform, "again") == "duplicate"
    assert conflicts(platform, paid["id"]) == []
    assert platform.balances(SELLER)["available_fen"] == 50_000 - 10_200


def test_another_amount_is_a_conflict_and_the_hold_stays(platform, clock) -> None:
    withdrawal = sent_withdrawal(platform, lost_result=True)
    assert platform.withdrawal(SELLER, withdrawal["id"])["status"] == "sent"
    deliver(platform, clock, withdrawal["payout_id"], "short", "succeeded", 9_999)
    assert outcome(platform, "short") == "conflict"
    assert platform.withdrawal(SELLER, withdrawal["id"])["status"] == "sent"
    assert platform.balances(SELLER)["held_fen"] == 10_200
    assert [c["what"] for c in conflicts(platform, withdrawal["id"])] == ["amount"]


def test_a_result_for_a_payout_never_sent_is_a_conflict(platform, clock) -> None:
    platform.fund(SELLER, 100_000)
    card = platform.add_card(SELLER)
    waiting = platform.withdraw(SELLER, card["id"], "600").json()  # over ¥500: finance approves
    assert waiting["status"] == "awaiting_approval"
    deliver(platform, clock, waiting["payout_id"], "early", "succeeded", 60_000)
    assert outcome(platform, "early") == "conflict"
    assert platform.withdrawal(SELLER, waiting["id"])["status"] == "awaiting_approval"
    assert [c["what"] for c in conflicts(platform, waiting["id"])] == ["unsent"]
    assert platform.rail_payouts() == []


def test_a_processing_result_changes_nothing(platform, clock) -> None:
    withdrawal = sent_withdrawal(platform, lost_result=True)
    deliver(platform, clock, withdrawal["payout_id"], "still", "processing", 10_000)
    assert outcome(platform, "still") == "ignored"
    assert platform.withdrawal(SELLER, withdrawal["id"])["status"] == "sent"


def test_a_payout_the_rail_forgot_is_sent_again_and_paid_once(platform, clock) -> None:
    platform.fund(SELLER, 50_000)
    card = platform.add_card(SELLER)
    settings = f"{platform.sandbox()}/settings"
    assert platform.http.post(settings, json={"settle_seconds": 600}).status_code == 200
    withdrawal = platform.withdraw(SELLER, card["id"], "100").json()
    platform.worker.run_until_idle()
    assert platform.withdrawal(SELLER, withdrawal["id"])["status"] == "sent"
    clock.advance(seconds=61)  # the poll: the rail is still processing it
    platform.worker.run_until_idle()
    assert platform.withdrawal(SELLER, withdrawal["id"])["status"] == "sent"
    assert [p["status"] for p in platform.rail_payouts()] == ["processing"]

    assert platform.http.post(f"{platform.sandbox()}/reset").status_code == 200  # forgotten
    assert platform.http.post(settings, json={"settle_seconds": 0.05}).status_code == 200
    clock.advance(seconds=61)  # the next poll: unknown, so it is sent again
    platform.worker.run_until_idle()
    (again,) = wait_for(
        platform.rail_payouts,
        until=lambda payouts: [p["status"] for p in payouts] == ["succeeded"],
        what="the rail to pay the payout sent again",
    )
    assert again["payout_id"] == withdrawal["payout_id"]
    assert again["submissions"] == 1
    platform.wait_status(SELLER, withdrawal["id"], "paid")
    balances = platform.balances(SELLER)
    assert (balances["available_fen"], balances["held_fen"]) == (50_000 - 10_200, 0)
