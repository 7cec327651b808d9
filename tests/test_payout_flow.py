"""A wallet owner adds a bank card and withdraws, end to end over HTTP: the rail sandbox is a
real HTTP service that signs its callbacks, and the platform is served by uvicorn."""

from __future__ import annotations

import uuid

import pytest

from payouts_harness import REAL_NAME, icbc_card, running_platform
from waiting import wait_for

SELLER = "seller:42"


@pytest.fixture
def platform(db, clock, tmp_path):
    with running_platform(db, clock, tmp_path) as running:
        yield running


class TestWithdrawToBankCard:
    def test_paid_exactly_once(self, platform) -> None:
        platform.fund(SELLER, 50_000)
        card = platform.add_card(SELLER)
        assert card["bank_code"] == "ICBC"
        assert card["bank_name"] == "中国工商银行"
        assert "*" in card["account_masked"]
        assert card["holder_name_masked"] == "张*"

        quote = platform.http.post(
            "/api/v1/withdrawals/quote",
            json={"method_id": card["id"], "amount": "100"},
            headers=platform.owner_headers(SELLER),
        ).json()
        assert quote["fee_fen"] == 200
        assert quote["total_fen"] == 10_200
        assert quote["arrives_fen"] == 10_000

        key = uuid.uuid4().hex
        first = platform.withdraw(SELLER, card["id"], "100", key=key)
        assert first.status_code == 201, first.text
        withdrawal = first.json()
        assert withdrawal["status"] == "queued"
        assert withdrawal["fee_fen"] == 200
        assert platform.balances(SELLER)["available_fen"] == 50_000 - 10_200
        assert platform.balances(SELLER)["held_fen"] == 10_200

        again = platform.withdraw(SELLER, card["id"], "100", key=key)
        assert again.status_code == 201
        assert again.json() == withdrawal
        assert again.headers["Idempotent-Replayed"] == "true"
        other = platform.withdraw(SELLER, card["id"], "200", key=key)
        assert other.status_code == 409
        assert other.json()["code"] == "idempotency_key_reused"

        platform.worker.run_until_idle()
        paid = platform.wait_status(SELLER, withdrawal["id"], "paid")
        assert paid["completed_at"] is not None
        platform.worker.run_until_idle()

        (rail_payout,) = platform.rail_payouts()
        assert rail_payout["payout_id"] == withdrawal["payout_id"]
        assert rail_payout["paid"] is True
        assert rail_payout["amount_fen"] == 10_000
        assert rail_payout["submissions"] == 1
        balances = platform.balances(SELLER)
        assert balances["available_fen"] == 50_000 - 10_200
        assert balances["held_fen"] == 0
        assert balances["total_fen"] == 39_800
        titles = [n["title"] for n in platform.notices(SELLER)]
        assert titles == ["提现到账", "余额变动"]
        platform.assert_ledger_sound()

    def test_the_statement_shows_every_movement(self, platform) -> None:
        platform.fund(SELLER, 30_000, ref="card-order:77")
        card = platform.add_card(SELLER)
        withdrawal = platform.withdraw(SELLER, card["id"], "50.5").json()
        platform.worker.run_until_idle()
        platform.wait_status(SELLER, withdrawal["id"], "paid")

        page = platform.http.get(
            "/api/v1/wallet/statement", params={"limit": 2}, headers=platform.owner_headers(SELLER)
        ).json()
        rows = page["rows"]
        while page["next_cursor"]:
            page = platform.http.get(
                "/api/v1/wallet/statement",
                params={"limit": 2, "cursor": page["next_cursor"]},
                headers=platform.owner_headers(SELLER),
            ).json()
            rows += page["rows"]
        reasons = [(r["reason"], r["available_change_fen"], r["held_change_fen"]) for r in rows]
        assert reasons == [
            ("card settled", 30_000, 0),
            ("提现冻结", -5_050, 5_050),
            ("提现手续费冻结", -200, 200),
            ("提现手续费", 0, -200),
            ("提现到账", 0, -5_050),
        ]
        assert rows[0]["ref"] == "card-order:77"
        assert {r["ref"] for r in rows[1:]} == {withdrawal["payout_id"]}
        assert (
            sum(r["available_change_fen"] for r in rows)
            == platform.balances(SELLER)["available_fen"]
        )

        csv_response = platform.http.get(
            "/api/v1/wallet/statement.csv", headers=platform.owner_headers(SELLER)
        )
        assert csv_response.headers["content-type"].startswith("text/csv")
        text = csv_response.content.decode("utf-8-sig")
        lines = text.strip().splitlines()
        assert lines[0].startswith("时间,流水号,类型,关联单号,可用变动(元)")
        assert len(lines) == 6
        assert "提现到账" in lines[-1]
        assert ",-50.50," in lines[-1] or ",0.00,-50.50," in lines[-1]

        from io import BytesIO

        from openpyxl import load_workbook

        xlsx = platform.http.get(
            "/api/v1/wallet/statement.xlsx", headers=platform.owner_headers(SELLER)
        )
        sheet = load_workbook(BytesIO(xlsx.content)).active
        values = list(sheet.iter_rows(values_only=True))
        assert values[0][2] == "类型"
        assert [v[2] for v in values[1:]] == [
            "card settled", "提现冻结", "提现手续费冻结", "提现手续费", "提现到账",
        ]  # fmt: skip
        assert float(values[1][4]) == 300.0


class TestFailures:
    def test_a_frozen_account_returns_amount_and_fee(self, platform) -> None:
        platform.fund(SELLER, 20_000)
        card = platform.add_card(SELLER)
        platform.switch("account_frozen")
        withdrawal = platform.withdraw(SELLER, card["id"], "88.88").json()
        assert withdrawal_used_today(platform) == 8_888  # the tier's daily limit counts it …
        platform.worker.run_until_idle()
        failed = platform.wait_status(SELLER, withdrawal["id"], "failed")
        assert withdrawal_used_today(platform) == 0  # … and gives it back when it fails
        assert failed["failure_code"] == "ACCOUNT_FROZEN"
        assert "冻结" in failed["failure_reason"]
        balances = platform.balances(SELLER)
        assert balances["available_fen"] == 20_000
        assert balances["held_fen"] == 0
        notice = platform.notices(SELLER)[0]
        assert notice["title"] == "提现失败"
        assert "已退回可用余额" in notice["body"]
        assert "冻结" in notice["body"]
        platform.assert_ledger_sound()

    def test_a_name_mismatch_fails_the_same_way(self, platform) -> None:
        platform.fund(SELLER, 20_000)
        card = platform.add_card(SELLER)
        platform.switch("name_mismatch")
        withdrawal = platform.withdraw(SELLER, card["id"], "20").json()
        platform.worker.run_until_idle()
        failed = platform.wait_status(SELLER, withdrawal["id"], "failed")
        assert failed["failure_code"] == "NAME_MISMATCH"
        assert platform.balances(SELLER)["available_fen"] == 20_000
        platform.assert_ledger_sound()

    def test_a_refusal_at_once_releases_the_hold(self, platform) -> None:
        platform.fund(SELLER, 20_000)
        card = platform.add_card(SELLER)
        platform.switch("limit_exceeded")
        withdrawal = platform.withdraw(SELLER, card["id"], "30").json()
        platform.worker.run_until_idle()
        failed = platform.withdrawal(SELLER, withdrawal["id"])
        assert failed["status"] == "failed"
        assert failed["failure_code"] == "LIMIT_EXCEEDED"
        assert platform.balances(SELLER)["available_fen"] == 20_000
        platform.assert_ledger_sound()

    def test_a_duplicated_result_pays_once(self, platform) -> None:
        platform.fund(SELLER, 20_000)
        card = platform.add_card(SELLER)
        platform.switch("duplicate_result")
        withdrawal = platform.withdraw(SELLER, card["id"], "40").json()
        platform.worker.run_until_idle()
        platform.wait_status(SELLER, withdrawal["id"], "paid")
        (rail_payout,) = platform.wait_for_callbacks(2)
        assert rail_payout["callbacks_delivered"] == 2
        assert platform.balances(SELLER)["available_fen"] == 20_000 - 4_200
        assert [n["title"] for n in platform.notices(SELLER)].count("提现到账") == 1
        platform.assert_ledger_sound()

    def test_a_lost_result_is_found_by_polling(self, platform, clock) -> None:
        platform.fund(SELLER, 20_000)
        card = platform.add_card(SELLER)
        platform.switch("lost_result")
        withdrawal = platform.withdraw(SELLER, card["id"], "60").json()
        platform.worker.run_until_idle()
        assert platform.withdrawal(SELLER, withdrawal["id"])["status"] == "sent"
        wait_for(
            lambda: platform.rail_payouts()[0]["status"] == "succeeded",
            what="the rail to settle the payout",
        )
        clock.advance(seconds=61)
        platform.worker.run_until_idle()
        assert platform.withdrawal(SELLER, withdrawal["id"])["status"] == "paid"
        assert platform.rail_payouts()[0]["callbacks_delivered"] == 0
        platform.assert_ledger_sound()


def withdrawal_used_today(platform) -> int:
    limits = platform.http.get("/api/v1/me/limits", headers=platform.owner_headers(SELLER)).json()
    (flow,) = [f for f in limits["flows"] if f["flow"] == "withdrawal"]
    return int(flow["daily"]["used_fen"])


def test_owner_must_be_verified_and_match(platform) -> None:
    body = {"kind": "bank_card", "account_no": icbc_card(), "holder_name": REAL_NAME,
            "sms_code": platform.method_code(SELLER)}  # fmt: skip
    unverified = platform.http.post(
        "/api/v1/payout-methods", json=body, headers=platform.owner_headers(SELLER, real_name=None)
    )
    assert unverified.status_code == 403
    assert unverified.json()["code"] == "real_name_required"
    assert unverified.json()["detail"] == "real name verification required (L2)"
    other = platform.http.post(
        "/api/v1/payout-methods",
        json={**body, "holder_name": "李四"},
        headers=platform.owner_headers(SELLER),
    )
    assert other.json()["code"] == "holder_name_mismatch"
    wrong_code = platform.http.post(
        "/api/v1/payout-methods",
        json={**body, "sms_code": "000000"},
        headers=platform.owner_headers(SELLER),
    )
    assert wrong_code.json()["code"] == "sms_code_wrong"
    assert wrong_code.json()["attempts_left"] == 4  # the wrong try counted
    anonymous = platform.http.post("/api/v1/payout-methods", json=body)
    assert anonymous.status_code == 401
