"""Portal pages over HTTP (no browser): sign-in, language, sessions and CSRF, friendly errors,
verification, payout accounts and withdrawals. The browser journey is test_portal_browser.py."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import (
    bearer,
    latest_sms_code,
    make_client,
    make_seller,
    make_staff,
    open_staff_session,
)
from huafei.identity.models import Seller
from huafei.notices.service import preferences
from huafei.rates.defaults import install_defaults
from payouts_harness import icbc_card
from portal_helpers import HTML, field, fund_wallet, sign_in_with_forms

pytestmark = pytest.mark.db


@pytest.fixture
def client(db, clock) -> TestClient:
    db.run(lambda s: install_defaults(s, now=clock.now()))
    return make_client(db, clock, env="test")


class TestPublicPages:
    def test_home_shows_rates_profiles_history_and_agreement_in_chinese(self, client) -> None:
        page = client.get("/")
        assert page.status_code == 200
        assert '<html lang="zh-CN">' in page.text
        assert "今日费率" in page.text
        assert "8.8折" in page.text  # China Mobile ¥100 on the third-party profile
        assert "¥88.00" in page.text
        assert "第三方平台" in page.text
        assert "历史费率" in page.text
        assert "话费卡回收服务协议" in page.text

    def test_english_is_one_click_away_and_remembered(self, client) -> None:
        switched = client.post(
            "/language", data={"lang": "en", "next": "/sign-in"}, follow_redirects=False
        )
        assert switched.status_code == 303
        assert switched.headers["location"] == "/sign-in"
        page = client.get("/")
        assert '<html lang="en">' in page.text
        assert "Today's rates" in page.text
        assert "CN¥88.00" in page.text

    def test_pages_load_only_this_sites_assets_and_refuse_frames(self, client) -> None:
        page = client.get("/")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert client.get("/static/htmx.min.js").status_code == 200
        assert "cdn" not in page.text.lower()

    def test_an_ended_session_sends_a_partial_s_page_to_sign_in(self, client) -> None:
        response = client.get(
            "/batches/1/progress", headers={"HX-Request": "true"}, follow_redirects=False
        )
        assert response.status_code == 204
        assert response.headers["hx-redirect"] == "/sign-in"

    def test_the_language_switch_goes_back_only_to_this_site(self, client) -> None:
        switched = client.post(
            "/language", data={"lang": "en", "next": "https://evil.example/"},
            follow_redirects=False,
        )  # fmt: skip
        assert switched.headers["location"] == "/"

    def test_an_unknown_page_is_a_friendly_page_but_the_api_keeps_problems(self, client) -> None:
        page = client.get("/no-such-page", headers=HTML)
        assert page.status_code == 404
        assert "找不到该页面" in page.text
        api = client.get("/api/v1/no-such-thing", headers=HTML)
        assert api.headers["content-type"].startswith("application/problem+json")


class TestSignIn:
    def test_sign_in_with_the_sandbox_code_lands_on_the_asked_page(self, client) -> None:
        sign_in_with_forms(client, "13800138000", next_url="/wallet")
        page = client.get("/wallet")
        assert page.status_code == 200
        assert "138****8000" in page.text

    def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(self, client) -> None:
        response = client.get("/notices", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/sign-in?next=/notices"

    def test_a_wrong_code_keeps_the_number_and_says_why(self, client) -> None:
        page = client.get("/sign-in").text
        token = field(page, "form_token")
        client.post("/sign-in/code", data={"phone": "13800138000", "form_token": token})
        wrong = client.post(
            "/sign-in", data={"phone": "13800138000", "code": "000000", "form_token": token}
        )
        assert wrong.status_code == 401
        assert "验证码不正确" in wrong.text
        assert 'value="13800138000"' in wrong.text

    def test_a_sign_in_form_from_another_site_is_refused(self, client) -> None:
        response = client.post(
            "/sign-in/code", data={"phone": "13800138000", "form_token": "forged"}
        )
        assert response.status_code == 400
        assert "页面已过期" in response.text

    def test_a_form_without_the_session_csrf_token_is_refused(self, client) -> None:
        csrf = sign_in_with_forms(client, "13800138000")
        refused = client.post("/notices/read-all", data={})
        assert refused.status_code == 403
        assert "页面已过期" in refused.text
        accepted = client.post("/notices/read-all", data={"csrf_token": csrf})
        assert accepted.status_code == 200

    def test_a_staff_session_on_a_seller_page_gets_the_403_page(self, client, db, clock) -> None:
        staff = make_staff(db, clock, role="support")
        page = client.get(
            "/wallet", headers={**HTML, **bearer(open_staff_session(db, clock, staff.id))}
        )
        assert page.status_code == 403
        assert "此页面不适用于该类账户" in page.text

    def test_sign_out_everywhere_ends_the_session(self, client) -> None:
        csrf = sign_in_with_forms(client, "13800138000")
        client.post("/security/sign-out-everywhere", data={"csrf_token": csrf})
        response = client.get("/wallet", follow_redirects=False)
        assert response.status_code == 303


class TestVerification:
    def test_level_two_with_the_sandbox_liveness_token(self, client) -> None:
        csrf = sign_in_with_forms(client, "13800138000")
        before = client.get("/verify").text
        assert "一级：手机号" in before
        assert "升至 2 级后" in before
        token = client.post("/sandbox/liveness", json={"outcome": "pass"}).json()["selfie_token"]
        done = client.post(
            "/verify/real-name",
            data={
                "csrf_token": csrf, "real_name": "张三", "id_number": "11010519491231002X",
                "selfie_token": token,
            },
        )  # fmt: skip
        assert done.status_code == 200
        assert "二级认证已完成" in done.text
        assert "二级：实名与活体" in done.text

    def test_level_three_with_the_carrier_service_password(self, client, db, clock) -> None:
        make_seller(db, clock, tier=2, phone="13800138000")
        csrf = sign_in_with_forms(client, "13800138000")
        wrong = client.post(
            "/verify/service-password", data={"csrf_token": csrf, "service_password": "000000"}
        )
        assert wrong.status_code == 422
        assert "运营商核验服务密码不正确" in wrong.text
        assert "000000" not in wrong.text.replace("csrf", "")
        done = client.post(
            "/verify/service-password", data={"csrf_token": csrf, "service_password": "138000"}
        )
        assert "三级认证已完成" in done.text
        assert "您已达到最高认证等级" in done.text

    def test_a_refused_id_number_is_not_echoed_back(self, client) -> None:
        csrf = sign_in_with_forms(client, "13800138000")
        refused = client.post(
            "/verify/real-name",
            data={"csrf_token": csrf, "real_name": "张三", "id_number": "110105194912310021"},
        )
        assert refused.status_code == 422
        assert "110105194912310021" not in refused.text
        assert 'value="张三"' in refused.text


class TestWallet:
    def test_add_a_card_quote_and_withdraw(self, client, db, clock) -> None:
        seller = make_seller(db, clock, tier=2, phone="13800138000", real_name="张三")
        fund_wallet(db, seller.ledger_owner_ref, 50_000, clock.now())
        csrf = sign_in_with_forms(client, "13800138000")
        card = icbc_card()
        typed = {"csrf_token": csrf, "account_no": card, "holder_name": "张三"}
        sent = client.post("/wallet/methods/code", data=typed)
        assert sent.status_code == 200
        assert "验证码已发送至 138****8000" in sent.text
        assert f'value="{card}"' in sent.text  # what was typed is kept
        wrong = client.post("/wallet/methods", data={**typed, "sms_code": "000000"})
        assert wrong.status_code == 401
        assert "验证码不正确" in wrong.text
        added = client.post(
            "/wallet/methods", data={**typed, "sms_code": latest_sms_code(client, "13800138000")}
        )
        assert added.status_code == 200, added.text
        assert "收款账户已添加" in added.text
        assert card not in added.text
        method_id = (
            field(added.text, "method_id") if 'name="method_id" value' in added.text else None
        )
        method_id = method_id or _first_option(added.text)
        quote = client.post(
            "/wallet/withdraw", data={"csrf_token": csrf, "method_id": method_id, "amount": "100"}
        )
        assert quote.status_code == 200
        assert "¥2.00" in quote.text  # the bank card fee
        assert "¥102.00" in quote.text
        key = field(quote.text, "idempotency_key")
        form = {
            "csrf_token": csrf, "method_id": method_id, "amount": "100",
            "fee_fen": field(quote.text, "fee_fen"), "idempotency_key": key,
        }  # fmt: skip
        done = client.post("/wallet/withdraw/confirm", data=form)
        assert done.status_code == 200
        assert "提现申请已提交" in done.text
        again = client.post("/wallet/withdraw/confirm", data=form)  # a resent form
        assert again.status_code == 200
        assert done.text.count("withdrawal-status") == again.text.count("withdrawal-status") == 1

    def test_the_quote_step_says_at_once_what_would_be_refused(self, client, db, clock) -> None:
        seller = make_seller(db, clock, tier=2, phone="13800138000", real_name="张三")
        fund_wallet(db, seller.ledger_owner_ref, 10_100, clock.now())
        csrf = sign_in_with_forms(client, "13800138000")
        typed = {"csrf_token": csrf, "account_no": icbc_card(), "holder_name": "张三"}
        client.post("/wallet/methods/code", data=typed)
        added = client.post(
            "/wallet/methods", data={**typed, "sms_code": latest_sms_code(client, "13800138000")}
        )
        method_id = _first_option(added.text)
        quote = client.post(
            "/wallet/withdraw", data={"csrf_token": csrf, "method_id": method_id, "amount": "100"}
        )
        assert quote.status_code == 422
        assert "可用余额不足以支付金额和手续费。" in quote.text
        assert 'name="idempotency_key"' not in quote.text  # no confirm step

    def test_an_l1_seller_is_asked_to_verify_before_adding_a_card(self, client) -> None:
        sign_in_with_forms(client, "13800138000")
        page = client.get("/wallet").text
        assert "收款账户须为本人名下" in page


def _first_option(page: str) -> str:
    import re

    match = re.search(r'<option value="(\d+)"', page)
    assert match
    return match.group(1)


class TestNoticePreferences:
    @staticmethod
    def boxes(page: str) -> dict[str, bool]:
        """Each SMS checkbox of the notices page and whether it is ticked."""
        found = re.findall(r'<input type="checkbox" name="sms_(\w+)"( checked)?>', page)
        return {kind: bool(ticked) for kind, ticked in found}

    def test_a_seller_chooses_which_notices_are_also_texted(self, client, db) -> None:
        csrf = sign_in_with_forms(client, "13800138000", next_url="/notices")
        page = client.get("/notices").text
        assert "短信通知" in page
        assert self.boxes(page) == {
            "balance_change": False,  # the defaults: arrivals and adjustments are texted
            "payout_arrived": True,
            "payout_failed": True,
            "funds_arrived": True,
            "order_adjusted": True,
            "order_failed": False,
        }
        saved = client.post(
            "/notices/preferences",
            data={"csrf_token": csrf, "sms_balance_change": "on", "sms_payout_arrived": "on"},
        )
        assert saved.status_code == 200
        assert "短信通知设置已保存。" in saved.text
        assert self.boxes(saved.text) == {
            "balance_change": True,
            "payout_arrived": True,
            "payout_failed": False,
            "funds_arrived": False,
            "order_adjusted": False,
            "order_failed": False,
        }
        seller = db.run(
            lambda s: s.scalars(select(Seller).where(Seller.phone == "13800138000")).one()
        )
        chosen = db.run(lambda s: preferences(s, f"seller:{seller.id}"))
        assert chosen["balance_change"] is True
        assert chosen["funds_arrived"] is False

    def test_the_choice_needs_the_session_csrf_token(self, client) -> None:
        sign_in_with_forms(client, "13800138000", next_url="/notices")
        refused = client.post("/notices/preferences", data={"sms_order_failed": "on"})
        assert refused.status_code == 403
        page = client.get("/notices").text
        assert self.boxes(page)["order_failed"] is False
