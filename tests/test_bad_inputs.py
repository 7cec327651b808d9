"""The project's corpus of bad inputs: each one gets a typed 4xx and writes nothing.

Every value here once answered 500 or was accepted: ids above 2⁶³−1 in paths, queries and bodies,
cursors that do not parse, NUL and other control characters in text fields (PostgreSQL cannot
store NUL), digits of other scripts in ID numbers, amounts and wallet ids, an Alipay number that
sign-in refuses, bodies far above the size limit. A case passes when the answer is the expected
status with a problem ``code`` (or the error page of the portal with that code) and the row
count of every table is what it was — on SQLite and PostgreSQL.

Staff requests are the one deliberate write: the authentication dependency logs every staff
request (``staff.request``), refused or not.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from factories import (
    bearer,
    make_client,
    make_id_number,
    make_seller,
    make_staff,
    new_phone,
    open_seller_session,
    open_staff_session,
)
from huafei.core.db import Database
from huafei.core.models import IdempotencyRecord
from huafei.core.settings import Settings
from huafei.identity.service.sessions import csrf_token_for
from huafei.identity.validation import parse_mobile
from huafei.models import metadata
from huafei.payouts.accounts import check_account
from huafei.payouts.models import MethodKind
from huafei.rates.defaults import install_defaults

pytestmark = pytest.mark.db

TOO_BIG = "9223372036854775808"  # 2⁶³: one above the largest BIGINT
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
MIB = 1024 * 1024


@dataclass(frozen=True)
class Bad:
    """One bad request: who sends it, what, and the typed answer it must get."""

    name: str
    #: anonymous | seller | staff (admin) | finance | page (a seller's browser) | visitor
    caller: str
    method: str
    path: str
    status: int
    code: str
    json: Any = None
    params: dict[str, str] | None = None
    form: dict[str, str] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def _card(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "carrier": "cmcc",
        "face_value_fen": 10_000,
        "agreement_version": "2026-01",
        "agreement_sha256": "0" * 64,
        "lawful_source_confirmed": True,
        "serial": "12345678901234567",
        "pin": "123456789012345678",
    }
    body.update(overrides)
    return body


def _batch(**overrides: Any) -> dict[str, Any]:
    body = _card(**overrides)
    body.pop("serial")
    body.pop("pin")
    body.setdefault("cards", "12345678901234567 123456789012345678")
    return body


VALID_ID = "11010519491231002X"
V = "validation_failed"

CORPUS = [
    # -- ids and integers above 2⁶³−1, or below 1 ---------------------------------------------
    Bad("preview face value", "anonymous", "GET", "/api/v1/quotes/preview", 422, V,
        params={"profile": "third_party", "carrier": "cmcc", "face_value_fen": TOO_BIG}),
    Bad("preview count", "anonymous", "GET", "/api/v1/quotes/preview", 422, V,
        params={"profile": "third_party", "carrier": "cmcc", "face_value_fen": "10000",
                "count": TOO_BIG}),
    Bad("order id", "seller", "GET", f"/api/v1/orders/{TOO_BIG}", 422, V),
    Bad("order id zero", "seller", "GET", "/api/v1/orders/0", 422, V),
    Bad("cancel order id", "seller", "POST", f"/api/v1/orders/{TOO_BIG}/cancel", 422, V),
    Bad("batch id", "seller", "GET", f"/api/v1/batches/{TOO_BIG}", 422, V),
    Bad("orders before_id", "seller", "GET", "/api/v1/orders", 422, V,
        params={"before_id": TOO_BIG}),
    Bad("orders batch_id", "seller", "GET", "/api/v1/orders", 422, V, params={"batch_id": "-1"}),
    Bad("session id", "seller", "DELETE", f"/api/v1/auth/sessions/{TOO_BIG}", 422, V),
    Bad("payout method id", "seller", "DELETE", f"/api/v1/payout-methods/{TOO_BIG}", 422, V),
    Bad("quote method_id", "seller", "POST", "/api/v1/withdrawals/quote", 422, V,
        json={"method_id": int(TOO_BIG), "amount": "100"}),
    Bad("withdrawal method_id", "seller", "POST", "/api/v1/withdrawals", 422, V,
        json={"method_id": int(TOO_BIG), "amount": "100"}, headers=_key()),
    Bad("withdrawal fee", "seller", "POST", "/api/v1/withdrawals", 422, V,
        json={"method_id": 1, "amount": "100", "fee_fen": -1}, headers=_key()),
    Bad("withdrawal id", "seller", "GET", f"/api/v1/withdrawals/{TOO_BIG}", 422, V),
    Bad("withdrawals limit", "seller", "GET", "/api/v1/withdrawals", 422, V,
        params={"limit": TOO_BIG}),
    Bad("notice id", "seller", "POST", f"/api/v1/notices/{TOO_BIG}/read", 422, V),
    Bad("notices limit", "seller", "GET", "/api/v1/notices", 422, V, params={"limit": "0"}),
    Bad("statement limit", "seller", "GET", "/api/v1/wallet/statement", 422, V,
        params={"limit": TOO_BIG}),
    Bad("card face value", "seller", "POST", "/api/v1/orders", 422, V,
        json=_card(face_value_fen=int(TOO_BIG)), headers=_key()),
    Bad("staff seller id", "staff", "GET", f"/api/v1/staff/sellers/{TOO_BIG}", 422, V),
    Bad("oplog before_id", "staff", "GET", "/api/v1/staff/operation-log", 422, V,
        params={"before_id": TOO_BIG}),
    Bad("finance withdrawal id", "finance", "GET", f"/api/v1/finance/withdrawals/{TOO_BIG}", 422,
        V),
    Bad("portal order id", "page", "GET", f"/orders/{TOO_BIG}", 404, "not_found"),
    # -- cursors and times ------------------------------------------------------------------
    Bad("cursor garbage", "seller", "GET", "/api/v1/wallet/statement", 422, "invalid_cursor",
        params={"cursor": "garbage"}),
    Bad("cursor sequence", "seller", "GET", "/api/v1/wallet/statement", 422, "invalid_cursor",
        params={"cursor": "2026-01-01T00:00:00+00:00|x"}),
    Bad("cursor naive time", "seller", "GET", "/api/v1/wallet/statement", 422, "invalid_cursor",
        params={"cursor": "2026-01-01T00:00:00|5"}),
    Bad("cursor year one", "seller", "GET", "/api/v1/wallet/statement", 422, "invalid_cursor",
        params={"cursor": "0001-01-01T00:00:00+05:00|5"}),
    Bad("since naive", "seller", "GET", "/api/v1/wallet/statement", 422, V,
        params={"since": "2026-01-01T00:00:00"}),
    Bad("until year one", "seller", "GET", "/api/v1/wallet/statement.csv", 422, V,
        params={"until": "0001-01-01T00:00:00+05:00"}),
    # -- NUL and control characters in text fields -----------------------------------------
    Bad("phone NUL", "anonymous", "POST", "/api/v1/auth/sms-codes", 422, V,
        json={"phone": "1380013800\x00"}),
    Bad("sign-in code NUL", "anonymous", "POST", "/api/v1/auth/sign-in/sms", 422, V,
        json={"phone": "13800138000", "code": "12\x003456"}),
    Bad("staff username NUL", "anonymous", "POST", "/api/v1/staff/auth/sign-in", 422, V,
        json={"username": "ad\x00min", "password": "x" * 12, "totp_code": "123456"}),
    Bad("rate history profile NUL", "anonymous", "GET", "/api/v1/rates/history", 422, V,
        params={"profile": "third\x00party"}),
    Bad("preview profile NUL", "anonymous", "GET", "/api/v1/quotes/preview", 422, V,
        params={"profile": "\x00", "carrier": "cmcc", "face_value_fen": "10000"}),
    Bad("agreement version NUL", "anonymous", "GET", "/api/v1/agreement/v%00", 422, V),
    Bad("card serial NUL", "seller", "POST", "/api/v1/orders", 422, V,
        json=_card(serial="1234567890123456\x00"), headers=_key()),
    Bad("card PIN NUL", "seller", "POST", "/api/v1/orders", 422, V,
        json=_card(pin="12345678901234567\x00"), headers=_key()),
    Bad("device id NUL", "seller", "POST", "/api/v1/orders", 422, V,
        json=_card(device_id="phone\x00"), headers=_key()),
    Bad("batch NUL", "seller", "POST", "/api/v1/orders/batch", 422, V,
        json=_batch(cards="12345678901234567 1234567890123456\x0078"), headers=_key()),
    Bad("batch escape", "seller", "POST", "/api/v1/orders/validate", 422, V,
        json={"carrier": "cmcc", "face_value_fen": 10_000, "cards": "1\x1b[2J 2"}),
    Bad("real name NUL", "seller", "POST", "/api/v1/me/kyc/real-name", 422, V,
        json={"real_name": "王\x00明", "id_number": VALID_ID, "selfie_token": "t"}),
    Bad("password NUL", "seller", "PUT", "/api/v1/me/password", 422, V,
        json={"new_password": "long enough\x00password"}),
    Bad("holder name NUL", "seller", "POST", "/api/v1/payout-methods", 422, V,
        json={"kind": "alipay", "account_no": "13800138000", "holder_name": "王小明\x00",
              "sms_code": "123456"}),
    Bad("bidi override", "seller", "POST", "/api/v1/payout-methods", 422, V,
        json={"kind": "alipay", "account_no": "a@b.cn\u202e", "holder_name": "王小明",
              "sms_code": "123456"}),
    Bad("cursor NUL", "seller", "GET", "/api/v1/wallet/statement", 422, V,
        params={"cursor": "\x00"}),
    Bad("partner name NUL", "staff", "POST", "/api/v1/staff/partners", 422, V,
        json={"name": "Partner\x00Co"}),
    Bad("oplog action NUL", "staff", "GET", "/api/v1/staff/operation-log", 422, V,
        params={"action": "staff.\x00"}),
    Bad("reject reason NUL", "finance", "POST", "/api/v1/finance/withdrawals/1/reject", 422, V,
        json={"reason": "no\x00"}, headers=_key()),
    Bad("statement name NUL", "finance", "POST", "/api/v1/finance/reconciliation/bank/2026-01-01",
        422, V, content=b"x", headers={"X-Statement-Name": "a\x01b"}),
    # -- digits of other scripts --------------------------------------------------------------
    Bad("ID number Arabic-Indic", "seller", "POST", "/api/v1/me/kyc/real-name", 422, V,
        json={"real_name": "王小明", "id_number": VALID_ID.translate(ARABIC),
              "selfie_token": "t"}),
    Bad("phone Arabic-Indic", "anonymous", "POST", "/api/v1/auth/sms-codes", 422, V,
        json={"phone": "13800138000".translate(ARABIC)}),
    Bad("amount Arabic-Indic", "seller", "POST", "/api/v1/withdrawals/quote", 422, V,
        json={"method_id": 1, "amount": "100".translate(ARABIC)}),
    Bad("amount superscript", "seller", "POST", "/api/v1/withdrawals/quote", 422, V,
        json={"method_id": 1, "amount": "10²"}),
    Bad("e-CNY wallet Arabic-Indic", "seller", "POST", "/api/v1/payout-methods", 422, V,
        json={"kind": "ecny", "account_no": "1234567890123456".translate(ARABIC),
              "holder_name": "王小明", "sms_code": "123456"}),
    Bad("bank card Devanagari", "seller", "POST", "/api/v1/payout-methods", 422, V,
        json={"kind": "bank_card", "account_no": "6222020200112233445".translate(
            str.maketrans("0123456789", "०१२३४५६७८९")),
              "holder_name": "王小明", "sms_code": "123456"}),
    Bad("card serial Arabic-Indic", "seller", "POST", "/api/v1/orders", 422, V,
        json=_card(serial="12345678901234567".translate(ARABIC)), headers=_key()),
    Bad("sign-in page phone Arabic-Indic", "visitor", "POST", "/sign-in/code", 422,
        "invalid_text", form={"phone": "13800138000".translate(ARABIC)}),
    # -- one phone rule for sign-in and Alipay -------------------------------------------------
    Bad("Alipay data-only segment", "seller", "POST", "/api/v1/payout-methods", 422,
        "invalid_payout_account",
        json={"kind": "alipay", "account_no": "14012345678", "holder_name": "王小明",
              "sms_code": "123456"}),
    Bad("sign-in data-only segment", "anonymous", "POST", "/api/v1/auth/sms-codes", 422,
        "invalid_phone_number", json={"phone": "14012345678"}),
    # -- sizes ---------------------------------------------------------------------------------
    Bad("10 MB JSON", "anonymous", "POST", "/api/v1/auth/sms-codes", 413, "body_too_large",
        content=json.dumps({"phone": "1" * (10 * MIB)}).encode(),
        headers={"content-type": "application/json"}),
    Bad("10 MB batch", "seller", "POST", "/api/v1/orders/batch", 413, "body_too_large",
        content=json.dumps(_batch(cards="1 2\n" * (10 * MIB // 4))).encode(),
        headers={"content-type": "application/json", **_key()}),
    Bad("2 MB chunked", "seller", "POST", "/api/v1/withdrawals/quote", 413, "body_too_large",
        content=b"chunked", headers={"content-type": "application/json"}),
    Bad("idempotency key too long", "seller", "POST", "/api/v1/withdrawals", 422, V,
        json={"method_id": 1, "amount": "100"}, headers={"Idempotency-Key": "k" * 256}),
    # -- portal forms and query parameters -------------------------------------------------------
    Bad("sign-in page phone NUL", "visitor", "POST", "/sign-in/code", 422, "invalid_text",
        form={"phone": "13800138000\x00"}),
    Bad("console sign-in NUL", "visitor", "POST", "/console/sign-in", 422, "invalid_text",
        form={"username": "admin\x00", "password": "x", "totp_code": "1"}),
    Bad("verify page name NUL", "page", "POST", "/verify/real-name", 422, "invalid_text",
        form={"real_name": "王\x00明", "id_number": VALID_ID, "selfie_token": "t"}),
    Bad("verify page ID Arabic-Indic", "page", "POST", "/verify/real-name", 422, "invalid_text",
        form={"real_name": "王小明", "id_number": VALID_ID.translate(ARABIC),
              "selfie_token": "t"}),
    Bad("withdraw page amount Arabic-Indic", "page", "POST", "/wallet/withdraw", 422,
        "invalid_text", form={"method_id": "1", "amount": "100".translate(ARABIC)}),
    Bad("add card page NUL", "page", "POST", "/wallet/methods", 422, "invalid_text",
        form={"account_no": "6222\x00", "holder_name": "王小明", "sms_code": "123456"}),
    Bad("sell page cards NUL", "page", "POST", "/sell", 422, "invalid_text",
        form={"carrier": "cmcc", "face_value_fen": "10000", "cards": "1\x00 2",
              "agreement": "yes", "lawful_source": "yes", "idempotency_key": "k"}),
    Bad("orders page search NUL", "page", "GET", "/orders", 422, "invalid_text",
        params={"q": "12\x00"}),
]  # fmt: skip


@pytest.fixture
def sent_by(db, clock) -> Callable[[str], tuple[TestClient, dict[str, str]]]:
    """A client for a kind of caller, and what its requests carry."""
    db.run(lambda s: install_defaults(s, now=clock.now()))

    def make(caller: str) -> tuple[TestClient, dict[str, str]]:
        client = make_client(db, clock)
        if caller == "seller":
            seller = make_seller(db, clock, tier=2)
            return client, bearer(open_seller_session(db, clock, seller.id))
        if caller in ("staff", "finance"):
            staff = make_staff(db, clock, role="admin" if caller == "staff" else "finance")
            return client, bearer(open_staff_session(db, clock, staff.id))
        if caller == "page":
            seller = make_seller(db, clock, tier=2)
            token = open_seller_session(db, clock, seller.id, kind="cookie")
            client.cookies.set("huafei_session", token)
            keyring = Settings(database_url=db.url).keyring()
            return client, {"csrf_token": csrf_token_for(keyring, token)}
        if caller == "visitor":
            client.cookies.set("huafei_form", "form-token")
            return client, {"form_token": "form-token"}
        return client, {}

    return make


def row_counts(db: Database) -> dict[str, int]:
    def count(session: Any) -> dict[str, int]:
        return {
            table.name: session.scalar(select(func.count()).select_from(table))
            for table in metadata.sorted_tables
        }

    return db.run(count)


def _chunks(size: int) -> Any:
    chunk = b" " * 65536
    for _ in range(size // len(chunk) + 1):
        yield chunk


@pytest.mark.parametrize("bad", CORPUS, ids=[bad.name for bad in CORPUS])
def test_a_bad_input_gets_a_typed_4xx_and_writes_nothing(bad: Bad, sent_by, db) -> None:
    client, credentials = sent_by(bad.caller)
    headers = dict(bad.headers)
    form = None
    if bad.form is not None:
        form = {**bad.form, **credentials}
        headers["accept"] = "text/html"
    else:
        headers.update(credentials)
        if bad.caller == "page":
            headers["accept"] = "text/html"
    content: Any = bad.content
    if bad.name == "2 MB chunked":
        content = _chunks(2 * MIB)  # no Content-Length: the body is counted as it arrives
    before = row_counts(db)
    response = client.request(
        bad.method, bad.path, json=bad.json, params=bad.params, data=form, content=content,
        headers=headers, follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == bad.status, response.text[:500]
    if "text/html" in response.headers["content-type"]:
        assert bad.code in response.text
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == bad.code
    after = row_counts(db)
    if bad.caller in ("staff", "finance"):  # the staff request log, by design
        assert after.pop("operation_log") == before.pop("operation_log") + 1
    assert after == before


def test_a_second_seller_cannot_reuse_an_id_number_in_other_digits(db, clock) -> None:
    client = make_client(db, clock)
    id_number = make_id_number(date(1985, 3, 9))

    def verify(seller_id: int, number: str) -> Any:
        selfie = client.post("/sandbox/liveness", json={"outcome": "pass"}).json()
        return client.post(
            "/api/v1/me/kyc/real-name",
            headers=bearer(open_seller_session(db, clock, seller_id)),
            json={
                "real_name": "韩梅梅",
                "id_number": number,
                "selfie_token": selfie["selfie_token"],
            },
        )

    first, second = make_seller(db, clock), make_seller(db, clock)
    assert verify(first.id, id_number).status_code == 200
    for other in (
        id_number.translate(ARABIC),
        id_number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")),
    ):
        refused = verify(second.id, other)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["type"] == "non_ascii_digit"
    full_width = id_number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert verify(second.id, full_width).json()["code"] == "id_number_in_use"


def test_sign_in_and_alipay_share_one_phone_rule() -> None:
    for typed in ("+86 138 0013 8000", "138-0013-8000", "１３８００１３８０００"):
        assert parse_mobile(typed).phone == "13800138000"
        assert check_account(MethodKind.ALIPAY, typed).number == "13800138000"
    phone = new_phone()
    assert check_account(MethodKind.ALIPAY, phone).number == parse_mobile(phone).phone


def test_a_refused_batch_stores_only_its_problem(db, clock) -> None:
    db.run(lambda s: install_defaults(s, now=clock.now()))
    client = make_client(db, clock)
    seller = make_seller(db, clock, tier=2)
    agreement = client.get("/api/v1/agreement").json()
    cards = "\n".join(f"{10**16 + line} 12345" for line in range(5000))  # every PIN too short
    body = _batch(
        cards=cards, agreement_version=agreement["version"], agreement_sha256=agreement["sha256"]
    )
    headers = {**bearer(open_seller_session(db, clock, seller.id)), "Idempotency-Key": "five-k"}
    first = client.post("/api/v1/orders/batch", json=body, headers=headers)
    assert first.status_code == 422
    assert first.json()["code"] == "batch_rejected"
    assert len(first.json()["rejected"]) == 5000  # the first answer names every line

    stored = db.run(lambda s: s.scalar(select(func.length(IdempotencyRecord.response_body))))
    assert stored < 1000  # not the 430 KB of line verdicts
    again = client.post("/api/v1/orders/batch", json=body, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.status_code == 422
    assert {k: again.json()[k] for k in ("code", "status", "detail")} == {
        k: first.json()[k] for k in ("code", "status", "detail")
    }


def test_the_batch_routes_take_more_than_a_mebibyte(db, clock) -> None:
    client = make_client(db, clock)
    seller = make_seller(db, clock, tier=2)
    big = json.dumps({"carrier": "cmcc", "face_value_fen": 10_000, "cards": " " * (2 * MIB)})
    headers = {
        **bearer(open_seller_session(db, clock, seller.id)),
        "content-type": "application/json",
    }
    checked = client.post("/api/v1/orders/validate", content=big.encode(), headers=headers)
    assert checked.status_code == 422  # read and refused by its length, not by its size
    assert checked.json()["errors"][0]["type"] == "string_too_long"
    elsewhere = client.post("/api/v1/withdrawals/quote", content=big.encode(), headers=headers)
    assert elsewhere.status_code == 413
    assert elsewhere.json()["limit_bytes"] == MIB
