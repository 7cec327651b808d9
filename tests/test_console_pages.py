"""The operations console over HTTP: staff sign-in with TOTP, who may open what, search, and
four eyes on the withdrawal queue."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from factories import (
    STAFF_PASSWORD,
    StaffCreds,
    bearer,
    make_client,
    make_seller,
    make_staff,
    open_seller_session,
)
from huafei.core.clock import FrozenClock
from huafei.identity.passwords import totp_code
from huafei.payouts.models import MethodKind
from huafei.payouts.service import methods, withdrawals
from payouts_harness import icbc_card
from portal_helpers import HTML, field, fund_wallet

pytestmark = pytest.mark.db


@pytest.fixture
def client(db, clock) -> TestClient:
    return make_client(db, clock, env="test", payout_approval_threshold_fen=10_000)


def console_sign_in(client: TestClient, creds: StaffCreds, clock: FrozenClock) -> str:
    clock.advance(seconds=30)  # each TOTP code is accepted once
    page = client.get("/console/sign-in").text
    response = client.post(
        "/console/sign-in",
        data={
            "form_token": field(page, "form_token"),
            "username": creds.username,
            "password": creds.password,
            "totp_code": totp_code(creds.totp_secret, clock.now()),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console"
    return str(client.cookies["huafei_staff_csrf"])


class TestSignIn:
    def test_a_wrong_code_is_refused_and_the_username_kept(self, client, db, clock) -> None:
        creds = make_staff(db, clock, role="support")
        page = client.get("/console/sign-in").text
        refused = client.post(
            "/console/sign-in",
            data={
                "form_token": field(page, "form_token"), "username": creds.username,
                "password": STAFF_PASSWORD, "totp_code": "000000",
            },
        )  # fmt: skip
        assert refused.status_code == 401
        assert "登录信息不正确" in refused.text
        assert f'value="{creds.username}"' in refused.text

    def test_the_menu_follows_the_role(self, client, db, clock) -> None:
        console_sign_in(client, make_staff(db, clock, role="support"), clock)
        home = client.get("/console").text
        assert "/console/orders" in home
        assert "/console/withdrawals" not in home
        denied = client.get("/console/withdrawals", headers=HTML)
        assert denied.status_code == 403
        assert "您的角色无权进行此操作" in denied.text

    def test_sellers_and_strangers_are_kept_out(self, client, db, clock) -> None:
        anonymous = client.get("/console/orders", follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/console/sign-in?next=/console/orders"
        seller = make_seller(db, clock)
        page = client.get("/console", headers=bearer(open_seller_session(db, clock, seller.id)))
        assert page.status_code == 403


class TestSearch:
    def test_find_a_seller_by_mobile_number_masked(self, client, db, clock) -> None:
        seller = make_seller(db, clock, tier=2, phone="13800138000", real_name="张三")
        console_sign_in(client, make_staff(db, clock, role="support"), clock)
        found = client.get("/console/sellers", params={"q": "138 0013 8000"}).text
        assert f"/console/sellers/{seller.id}" in found
        assert "138****8000" in found
        assert "13800138000" not in found.replace('value="138 0013 8000"', "")
        file = client.get(f"/console/sellers/{seller.id}").text
        assert "张*" in file
        none = client.get("/console/sellers", params={"q": "13900139000"}).text
        assert "没有使用该号码的用户" in none


class TestFourEyes:
    def test_who_noted_a_withdrawal_cannot_approve_it(self, client, db, clock) -> None:
        container = client.app.state.container  # type: ignore[attr-defined]
        seller = make_seller(db, clock, tier=2, real_name="张三")
        owner = seller.ledger_owner_ref
        fund_wallet(db, owner, 100_000, clock.now())

        def request(session):  # type: ignore[no-untyped-def]
            method = methods.store_method(
                session, owner_ref=owner, kind=MethodKind.BANK_CARD, account_no=icbc_card(),
                holder_name="张三", verified_real_name="张三",
                keyring=container.payouts.keyring, now=clock.now(),
            )  # fmt: skip
            withdrawal, _ = withdrawals.request_withdrawal(
                session, payouts=container.payouts, owner_ref=owner, method_id=method.id,
                amount_fen=50_000, idempotency_key="k1", now=clock.now(),
            )  # fmt: skip
            return withdrawal.id

        withdrawal_id = db.run(request)
        first = make_staff(db, clock, role="finance")
        second = make_staff(db, clock, role="finance")
        csrf = console_sign_in(client, first, clock)
        queue = client.get("/console/withdrawals").text
        assert f"/console/withdrawals/{withdrawal_id}" in queue
        client.post(
            f"/console/withdrawals/{withdrawal_id}/notes", data={"csrf_token": csrf, "note": "ok"}
        )
        refused = client.post(
            f"/console/withdrawals/{withdrawal_id}/approve", data={"csrf_token": csrf}
        )
        assert refused.status_code == 403
        assert "双人复核" in refused.text
        client.cookies.clear()
        csrf = console_sign_in(client, second, clock)
        approved = client.post(
            f"/console/withdrawals/{withdrawal_id}/approve", data={"csrf_token": csrf}
        )
        assert approved.status_code == 200
        assert "已批准。" in approved.text
        assert db.run(lambda s: withdrawals.get_withdrawal(s, withdrawal_id).status) == "queued"
