"""The wallet page's payout accounts over HTTP: every kind a seller types (bank card, Alipay,
WeChat Pay, e-CNY) is added with a texted code, shows in the list and the withdrawal form;
"withdraw everything" takes the whole available balance; recent withdrawals name where they go."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from factories import latest_sms_code, make_client, make_seller
from huafei.rates.defaults import install_defaults
from payouts_harness import icbc_card
from portal_helpers import field, fund_wallet, sign_in_with_forms

pytestmark = pytest.mark.db

PHONE = "13800138000"
WECHAT_OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
#: kind, what the seller types, how the account shows afterwards, the form's heading
ACCOUNTS = [
    ("bank_card", icbc_card(), None, "添加银行卡"),
    ("alipay", "13900139000", "139****9000", "添加支付宝账户"),
    ("wechat", WECHAT_OPENID, "o6_b", "添加微信零钱"),
    ("ecny", "0012345678901234", "0012", "添加数字人民币钱包"),
]


@pytest.fixture
def client(db, clock) -> TestClient:
    db.run(lambda s: install_defaults(s, now=clock.now()))
    return make_client(db, clock, env="test")


@pytest.fixture
def csrf(client, db, clock) -> str:
    seller = make_seller(db, clock, tier=2, phone=PHONE, real_name="张三")
    fund_wallet(db, seller.ledger_owner_ref, 50_000, clock.now())
    return sign_in_with_forms(client, PHONE)


def add_account(client: TestClient, csrf: str, kind: str, account: str) -> str:
    """Add a payout account through the wallet page's form for ``kind``; the page after."""
    typed = {"csrf_token": csrf, "kind": kind, "account_no": account, "holder_name": "张三"}
    sent = client.post("/wallet/methods/code", data=typed)
    assert sent.status_code == 200, sent.text
    form = _form(sent.text, kind)
    assert f'value="{account}"' in form  # what was typed stays in its own form
    assert 'name="sms_code"' in form
    added = client.post(
        "/wallet/methods", data={**typed, "sms_code": latest_sms_code(client, PHONE)}
    )
    assert added.status_code == 200, added.text
    assert "收款账户已添加" in added.text
    return added.text


def _form(page: str, kind: str) -> str:
    match = re.search(rf'<form[^>]*id="add-{kind}".*?</form>', page, re.DOTALL)
    assert match, f"no form to add {kind}"
    return match.group(0)


def _options(page: str) -> list[str]:
    select = re.search(r'<select id="method_id".*?</select>', page, re.DOTALL)
    assert select
    return [
        " ".join(text.split())
        for text in re.findall(r"<option[^>]*>(.*?)</option>", select.group(0))
    ]


def _accounts(page: str) -> str:
    return page.split('id="methods"', 1)[1].split("</ul>", 1)[0]


class TestPayoutAccounts:
    def test_the_page_offers_every_kind_a_seller_types(self, client, csrf) -> None:
        page = client.get("/wallet").text
        for kind, _account, _shown, heading in ACCOUNTS:
            assert heading in page
            assert f'name="kind" value="{kind}"' in _form(page, kind)

    @pytest.mark.parametrize(
        ("kind", "account", "shown", "heading"), ACCOUNTS, ids=[row[0] for row in ACCOUNTS]
    )
    def test_each_kind_is_added_with_a_code_and_offered_for_withdrawals(
        self, client, csrf, kind, account, shown, heading
    ) -> None:
        page = add_account(client, csrf, kind, account)
        assert account not in page  # masked everywhere
        label = {"bank_card": "银行卡", "alipay": "支付宝", "wechat": "微信", "ecny": "数字人民币"}[
            kind
        ]
        shown = shown or f"{account[:4]} **** **** {account[-4:]}"
        assert label in _accounts(page) and shown in _accounts(page)
        assert any(label in option and shown in option for option in _options(page))

    def test_a_wrong_code_is_refused_and_the_account_is_not_added(self, client, csrf) -> None:
        typed = {
            "csrf_token": csrf,
            "kind": "ecny",
            "account_no": "0012345678901234",
            "holder_name": "张三",
        }
        client.post("/wallet/methods/code", data=typed)
        wrong = client.post("/wallet/methods", data={**typed, "sms_code": "000000"})
        assert wrong.status_code == 401
        assert "验证码不正确" in wrong.text
        assert 'id="method_id"' not in wrong.text

    def test_an_invalid_account_says_what_is_wrong(self, client, csrf) -> None:
        typed = {
            "csrf_token": csrf,
            "kind": "wechat",
            "account_no": "not-an-openid",
            "holder_name": "张三",
        }
        client.post("/wallet/methods/code", data=typed)
        refused = client.post(
            "/wallet/methods", data={**typed, "sms_code": latest_sms_code(client, PHONE)}
        )
        assert refused.status_code == 422
        assert 'value="not-an-openid"' in _form(refused.text, "wechat")

    def test_an_unknown_kind_is_refused_without_a_text(self, client, csrf) -> None:
        refused = client.post(
            "/wallet/methods/code",
            data={
                "csrf_token": csrf,
                "kind": "carrier_wallet",
                "account_no": PHONE,
                "holder_name": "张三",
            },
        )
        assert refused.status_code == 422
        assert "请选择银行卡、支付宝、微信零钱或数字人民币钱包" in refused.text


class TestWithdrawEverything:
    def test_withdraw_everything_takes_the_whole_available_balance(self, client, csrf) -> None:
        page = add_account(client, csrf, "alipay", "13900139000")
        assert "全部提现" in page.split('id="withdraw"', 1)[1].split("</form>", 1)[0]
        method_id = re.search(r'<option value="(\d+)"', page).group(1)  # type: ignore[union-attr]
        quote = client.post(
            "/wallet/withdraw",
            data={"csrf_token": csrf, "method_id": method_id, "amount": "", "everything": "1"},
        )
        assert quote.status_code == 200, quote.text
        assert re.search(r'id="total">¥500.00<', quote.text)  # amount and fee: all of it
        assert re.search(r'id="fee">¥0.49<', quote.text)
        assert re.search(r'id="arrives">¥499.51<', quote.text)
        done = client.post(
            "/wallet/withdraw/confirm",
            data={
                "csrf_token": csrf, "method_id": method_id, "amount": field(quote.text, "amount"),
                "fee_fen": field(quote.text, "fee_fen"),
                "idempotency_key": field(quote.text, "idempotency_key"),
            },
        )  # fmt: skip
        assert done.status_code == 200
        assert "提现申请已提交" in done.text
        assert re.search(r'id="available">¥0.00<', done.text)
        assert re.search(r'id="held">¥500.00<', done.text)

    def test_recent_withdrawals_name_the_destination(self, client, csrf) -> None:
        page = add_account(client, csrf, "ecny", "0012345678901234")
        method_id = re.search(r'<option value="(\d+)"', page).group(1)  # type: ignore[union-attr]
        quote = client.post(
            "/wallet/withdraw", data={"csrf_token": csrf, "method_id": method_id, "amount": "100"}
        )
        form = {name: field(quote.text, name) for name in ("amount", "fee_fen", "idempotency_key")}
        done = client.post(
            "/wallet/withdraw/confirm", data={"csrf_token": csrf, "method_id": method_id, **form}
        )
        listed = done.text.split('id="withdrawals"', 1)[1].split("</table>", 1)[0]
        assert re.search(r"提现到：数字人民币钱包 0012\*+1234", " ".join(listed.split()))
        client.post(f"/wallet/methods/{method_id}/remove", data={"csrf_token": csrf})
        after = client.get("/wallet").text  # a removed account still names where money went
        listed = after.split('id="withdrawals"', 1)[1].split("</table>", 1)[0]
        assert "数字人民币钱包" in listed
