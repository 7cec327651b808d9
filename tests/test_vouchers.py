"""Vouchers (交易凭证): a settled card order and a paid withdrawal each get one, the seller
downloads it as JSON and as a PDF in Chinese, and anyone holding its number and check code can
verify it on the public page — which notices a changed byte."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
import zlib
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from browser_harness import PHONE, SCREENSHOTS, axe_violations, chromium
from factories import bearer, make_container, make_seller, open_seller_session
from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import SandboxCardKind, issue_cards
from huafei.composition.runtime import build_worker, voucher_tasks
from huafei.jobs.worker import Worker
from huafei.rates.defaults import install_defaults
from huafei.vouchers.issuing import VERIFY_PAGE_PATH
from huafei.vouchers.models import Voucher, VoucherRequest
from huafei.vouchers.pdf import render_pdf
from huafei.vouchers.schemas import Amounts, Subject, VoucherDocument, VoucherFacts, VoucherKind
from huafei.vouchers.service import request_voucher
from huafei.vouchers.tasks import VoucherTasks
from live import LiveApp, serve_live
from payouts_harness import running_platform

SELLER_NAME = "欧阳娜娜"


@dataclass
class SettledSale:
    live: LiveApp
    worker: Worker
    seller: httpx.Client
    other: httpx.Client
    order_id: int
    failed_order_id: int


def seller_client(live: LiveApp, db, clock, **seller) -> httpx.Client:
    record = make_seller(db, clock, tier=3, **seller)
    token = open_seller_session(db, clock, record.id)
    return httpx.Client(base_url=live.url, headers=bearer(token), timeout=20)


def sell(live: LiveApp, http: httpx.Client, cards: list[str]) -> list[dict]:
    agreement = http.get("/api/v1/agreement").json()
    response = http.post(
        "/api/v1/orders/batch",
        json={
            "profile": "third_party",
            "carrier": "cmcc",
            "face_value_fen": 10_000,
            "agreement_version": agreement["version"],
            "agreement_sha256": agreement["sha256"],
            "lawful_source_confirmed": True,
            "cards": "\n".join(cards),
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    return list(response.json()["orders"])


def run_until_final(live: LiveApp, worker: Worker, http: httpx.Client) -> list[dict]:
    final = {"settled", "failed"}
    for _ in range(100):
        worker.run_until_idle()
        live.wait_for_callbacks()
        worker.run_until_idle()
        orders = http.get("/api/v1/orders").json()
        if all(o["state"] in final for o in orders):
            return list(orders)
    raise AssertionError(orders)


@pytest.fixture
def sale(db, clock):
    """A seller sold two cards on the real-time profile: one settled, one already used."""
    db.run(lambda s: install_defaults(s, now=clock.now()))
    with serve_live(db, clock) as live:
        secret = live.container.settings.sandbox_card_secret.get_secret_value()
        good = issue_cards(secret, Carrier.CMCC, 10_000, 1)
        used = issue_cards(secret, Carrier.CMCC, 10_000, 1, kind=SandboxCardKind.USED)
        seller = seller_client(live, db, clock, real_name=SELLER_NAME)
        other = seller_client(live, db, clock)
        worker = build_worker(live.container, name="test")
        sell(live, seller, [f"{c.serial} {c.pin}" for c in (*good, *used)])
        orders = {o["state"]: o["id"] for o in run_until_final(live, worker, seller)}
        worker.run_until_idle()
        yield SettledSale(live, worker, seller, other, orders["settled"], orders["failed"])
        seller.close()
        other.close()


def pdf_text(pdf: bytes) -> str:
    """The text a PDF draws with the CID font: its page streams decoded (ASCII85, then
    inflated), each string shown (``(…) Tj``) unescaped and read as UTF-16 (the font's UCS-2
    encoding)."""
    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)\s*endstream", pdf, re.DOTALL):
        try:
            content = zlib.decompress(base64.a85decode(stream.strip().removesuffix(b"~>")))
        except (ValueError, zlib.error):
            continue
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", content, re.DOTALL):
            raw = re.sub(rb"\\([0-7]{1,3}|.)", _unescape, literal)
            if len(raw) % 2 == 0:
                shown.append(raw.decode("utf-16-be", errors="replace"))
    return "\n".join(shown)


def _unescape(match: re.Match[bytes]) -> bytes:
    token = match.group(1)
    if token.isdigit():
        return bytes([int(token, 8)])
    return {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(token, token)


def tamper(db, sql: str) -> None:
    """Edit a voucher the way someone with database access could: the triggers off."""
    with db.engine.begin() as connection:
        if db.is_sqlite:
            connection.exec_driver_sql("DROP TRIGGER vouchers_no_update")
            connection.exec_driver_sql(sql)
        else:
            connection.exec_driver_sql("ALTER TABLE vouchers DISABLE TRIGGER USER")
            connection.exec_driver_sql(sql)
            connection.exec_driver_sql("ALTER TABLE vouchers ENABLE TRIGGER USER")


class TestCardOrderVoucher:
    def test_the_seller_downloads_the_json_and_the_pdf(self, sale, db) -> None:
        response = sale.seller.get(f"/api/v1/orders/{sale.order_id}/voucher")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        digest = hashlib.sha256(response.content).hexdigest()
        assert response.headers["x-voucher-sha256"] == digest
        voucher = response.json()
        assert response.text == json.dumps(
            voucher, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert re.fullmatch(r"CO\d{8}\d{6,}", voucher["number"])
        assert voucher["number"].endswith(f"{sale.order_id:06d}")
        assert re.fullmatch(r"[2-9A-HJKMNP-Z]{8}", voucher["check_code"])
        assert voucher["kind"] == "card_order"
        assert voucher["subject"] == {"type": "order", "id": sale.order_id}
        assert voucher["parties"]["seller"]["name"] == "欧***"
        assert re.fullmatch(r"1\d{2}\*{4}\d{4}", voucher["parties"]["seller"]["phone"])
        assert voucher["parties"]["operator"]["name"]
        item = voucher["item"]
        assert item["carrier"] == "cmcc"
        assert item["face_value_fen"] == item["actual_face_value_fen"] == 10_000
        assert "*" in item["serial_masked"]
        assert voucher["amounts"] == {
            "currency": "CNY", "gross_fen": 10_000, "fee_fen": 1_200, "net_fen": 8_800,
        }  # fmt: skip
        quote = voucher["quote"]
        assert quote["profile"] == "third_party"
        assert quote["rate"] == "0.88"
        assert quote["rate_card_version"] >= 1
        agreement = sale.seller.get("/api/v1/agreement").json()
        assert voucher["agreement"]["version"] == agreement["version"]
        assert voucher["agreement"]["sha256"] == agreement["sha256"]
        ledger = {entry["id"]: entry["amount_fen"] for entry in voucher["ledger"]}
        ref = f"order:{sale.order_id}"
        assert ledger == {
            f"{ref}:fee": 1_200, f"{ref}:owed": 8_800, f"{ref}:carrier": 10_000,
            f"{ref}:escrow": 8_800, f"{ref}:available": 8_800,
        }  # fmt: skip
        moments = [voucher["issued_at"], *voucher["times"].values()]
        assert all(m.endswith("+08:00") for m in moments)
        times = voucher["times"]
        assert set(times) == {"submitted_at", "consumed_at", "settled_at"}
        assert times["submitted_at"] <= times["consumed_at"] <= times["settled_at"]
        assert voucher["verify_url"].endswith(
            f"/vouchers/verify?number={voucher['number']}&code={voucher['check_code']}"
        )
        assert voucher["evidence_proof"] is None
        assert "pin" not in response.text.lower()

        pdf = sale.seller.get(f"/api/v1/orders/{sale.order_id}/voucher.pdf")
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        assert b"STSong-Light" in pdf.content
        shown = pdf_text(pdf.content)
        for words in ("话费充值卡回收交易凭证", "中国移动", "欧***", voucher["number"], digest):
            assert words in shown, words
        again = sale.seller.get(f"/api/v1/orders/{sale.order_id}/voucher.pdf")
        assert again.content == pdf.content  # rendered from the document alone

        page = sale.seller.get(f"/orders/{sale.order_id}").text
        assert f'href="/api/v1/orders/{sale.order_id}/voucher.pdf"' in page
        assert f'href="/api/v1/orders/{sale.order_id}/voucher"' in page
        assert voucher["number"] in page
        failed_page = sale.seller.get(f"/orders/{sale.failed_order_id}").text
        assert "/voucher" not in failed_page

    def test_one_voucher_for_a_sale_none_for_a_failed_card_none_for_others(self, sale, db) -> None:
        first = sale.seller.get(f"/api/v1/orders/{sale.order_id}/voucher").content
        for path in ("voucher", "voucher.pdf"):
            failed = sale.seller.get(f"/api/v1/orders/{sale.failed_order_id}/{path}")
            assert failed.status_code == 404
            assert failed.json()["code"] == "voucher_not_found"
            stranger = sale.other.get(f"/api/v1/orders/{sale.order_id}/{path}")
            assert stranger.status_code == 404
            assert stranger.json()["code"] == "voucher_not_found"

        # Asked for again (a repeated job, a duplicate request): still the one voucher.
        now = sale.live.container.clock.now()
        db.run(lambda s: request_voucher(s, Subject.ORDER, sale.order_id, now=now))
        db.run(lambda s: request_voucher(s, Subject.ORDER, sale.order_id, now=now))
        assert voucher_tasks(sale.live.container).issue(50) == 2
        assert sale.seller.get(f"/api/v1/orders/{sale.order_id}/voucher").content == first
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Voucher)) == 1
            assert session.scalar(select(func.count()).select_from(VoucherRequest)) == 0

    def test_the_database_refuses_to_change_a_voucher(self, sale, db) -> None:
        for sql in ("UPDATE vouchers SET body = body || ' '", "DELETE FROM vouchers"):
            with pytest.raises(Exception, match="immutable"), db.engine.begin() as connection:
                connection.exec_driver_sql(sql)


class TestVerification:
    def test_the_public_page_shows_the_facts_with_the_right_code(self, sale) -> None:
        voucher = sale.seller.get(f"/api/v1/orders/{sale.order_id}/voucher").json()
        anonymous = httpx.Client(base_url=sale.live.url, timeout=20)
        query = {"number": voucher["number"], "code": voucher["check_code"].lower()}
        checked = anonymous.get("/api/v1/vouchers/verify", params=query)
        assert checked.status_code == 200, checked.text
        body = checked.json()
        assert body["hash_matches"] is True
        assert body["sha256"] == body["computed_sha256"]
        assert body["document"] == voucher

        page = anonymous.get(voucher["verify_url"].replace(sale.live.url, ""))
        assert page.status_code == 200
        for words in ("话费充值卡回收交易凭证", voucher["number"], "欧***", "内容与存档一致"):
            assert words in page.text, words
        assert voucher["item"]["serial_masked"] in page.text

        wrong = anonymous.get("/api/v1/vouchers/verify", params={**query, "code": "ABCDEFGH"})
        assert wrong.status_code == 404
        assert wrong.json()["code"] == "voucher_not_found"
        unknown = anonymous.get(
            "/api/v1/vouchers/verify", params={**query, "number": "CO20200101000001"}
        )
        assert unknown.json() == {**wrong.json(), "instance": unknown.json()["instance"]}
        refused = anonymous.get("/vouchers/verify", params={**query, "code": "ABCDEFGH"})
        assert refused.status_code == 404
        assert voucher["item"]["serial_masked"] not in refused.text

    def test_a_changed_byte_fails_verification(self, sale, db) -> None:
        voucher = sale.seller.get(f"/api/v1/orders/{sale.order_id}/voucher").json()
        tamper(
            db, "UPDATE vouchers SET body = REPLACE(body, '\"net_fen\":8800', '\"net_fen\":9800')"
        )
        anonymous = httpx.Client(base_url=sale.live.url, timeout=20)
        query = {"number": voucher["number"], "code": voucher["check_code"]}
        body = anonymous.get("/api/v1/vouchers/verify", params=query).json()
        assert body["hash_matches"] is False
        assert body["document"] is None
        assert body["sha256"] != body["computed_sha256"]
        page = anonymous.get("/vouchers/verify", params=query)
        assert page.status_code == 200
        assert "不一致" in page.text
        assert "98.00" not in page.text
        download = sale.seller.get(f"/api/v1/orders/{sale.order_id}/voucher")
        assert download.status_code == 409
        assert download.json()["code"] == "voucher_integrity_failed"

    def test_guessing_codes_is_stopped(self, sale) -> None:
        voucher = sale.seller.get(f"/api/v1/orders/{sale.order_id}/voucher").json()
        anonymous = httpx.Client(base_url=sale.live.url, timeout=20)
        for attempt in range(10):
            wrong = anonymous.get(
                "/api/v1/vouchers/verify",
                params={"number": voucher["number"], "code": f"WRONG{attempt:03d}"},
            )
            assert wrong.status_code == 404
        right = {"number": voucher["number"], "code": voucher["check_code"]}
        paused = anonymous.get("/api/v1/vouchers/verify", params=right)
        assert paused.status_code == 429
        assert paused.json()["code"] == "voucher_verify_rate_limited"
        assert paused.json()["retry_after_seconds"] > 0
        assert anonymous.get("/vouchers/verify", params=right).status_code == 429


class TestWithdrawalVoucher:
    def test_a_paid_withdrawal_gets_a_voucher(self, db, clock, tmp_path) -> None:
        owner = "seller:42"
        with running_platform(db, clock, tmp_path) as platform:
            platform.fund(owner, 50_000)
            card = platform.add_card(owner)
            withdrawal = platform.withdraw(owner, card["id"], "100").json()
            platform.worker.run_until_idle()
            platform.wait_status(owner, withdrawal["id"], "paid")
            platform.worker.run_until_idle()
            headers = platform.owner_headers(owner)
            path = f"/api/v1/withdrawals/{withdrawal['id']}/voucher"
            response = platform.http.get(path, headers=headers)
            assert response.status_code == 200, response.text
            voucher = response.json()
            assert voucher["number"].startswith("WD")
            assert voucher["kind"] == "withdrawal"
            assert voucher["item"]["payout_id"] == withdrawal["payout_id"]
            assert voucher["item"]["account_masked"] == card["account_masked"]
            assert voucher["item"]["holder_masked"] == "张*"
            assert voucher["item"]["bank_name"] == "中国工商银行"
            assert voucher["amounts"] == {
                "currency": "CNY", "gross_fen": 10_200, "fee_fen": 200, "net_fen": 10_000,
            }  # fmt: skip
            assert voucher["quote"] is None
            assert voucher["agreement"] is None
            kinds = {e["id"].rsplit(":", 1)[1]: e["kind"] for e in voucher["ledger"]}
            assert kinds["hold"] == "pending"
            assert kinds["payout"] == "single"
            assert "post" in kinds
            pdf = platform.http.get(f"{path}.pdf", headers=headers)
            assert pdf.content.startswith(b"%PDF")
            shown = pdf_text(pdf.content)
            assert "提现交易凭证" in shown
            assert card["account_masked"] in shown

            wallet = platform.http.get("/wallet", headers=headers).text
            assert f'href="{path}.pdf"' in wallet

            other = platform.owner_headers("seller:43")
            assert platform.http.get(path, headers=other).status_code == 404
            assert platform.http.get(f"{path}.pdf", headers=other).status_code == 404


def test_a_request_whose_record_is_not_final_is_put_off(db, clock) -> None:
    db.run(lambda s: request_voucher(s, Subject.ORDER, 999, now=clock.now()))
    db.run(lambda s: request_voucher(s, "nobody-knows", 1, now=clock.now()))
    tasks = voucher_tasks(make_container(db, clock))
    assert tasks.issue(50) == 2
    assert tasks.issue(50) == 0  # put off, not due yet
    with db.session() as session:
        requests = session.scalars(select(VoucherRequest).order_by(VoucherRequest.id)).all()
        assert [(r.attempts, r.last_error) for r in requests] == [
            (1, "the record is not final"),
            (1, "no voucher builder for subject 'nobody-knows'"),
        ]
        assert all(r.due_at > clock.now() for r in requests)
    clock.advance(seconds=31)
    assert tasks.issue(50) == 2
    with db.session() as session:
        attempts = session.scalars(select(VoucherRequest.attempts)).all()
        assert attempts == [2, 2]
        assert session.scalar(select(func.count()).select_from(Voucher)) == 0
    assert clock.now() + timedelta(seconds=59) < max(
        db.run(lambda s: s.scalars(select(VoucherRequest.due_at)).all())
    )


def test_one_record_that_fails_does_not_hold_up_its_batch(db, clock) -> None:
    kind = VoucherKind(code="test_sale", prefix="TS", title="测试凭证")

    def builder(session, ids):
        if 13 in ids:
            raise RuntimeError("record 13 cannot be read")
        return {
            i: VoucherFacts(
                kind=kind,
                owner_ref="enterprise:7",
                item={"widget": "蓝色", "price_fen": 100},
                amounts=Amounts(gross_fen=100, fee_fen=1, net_fen=99),
                ledger_ref=f"test:{i}",
                times={"made_at": clock.now(), "never_at": None},
                completed_at=clock.now(),
            )
            for i in ids
        }

    container = make_container(db, clock)
    tasks = VoucherTasks(db, clock, voucher_tasks(container).issuer, {"test": builder})
    for subject_id in (12, 13, 14):
        db.run(lambda s, i=subject_id: request_voucher(s, "test", i, now=clock.now()))
    assert tasks.issue(50) == 3
    with db.session() as session:
        issued = session.scalars(select(Voucher).order_by(Voucher.subject_id)).all()
        assert [v.subject_id for v in issued] == [12, 14]
        (left,) = session.scalars(select(VoucherRequest)).all()
    assert (left.subject_id, left.attempts) == (13, 1)
    assert left.last_error == "RuntimeError: record 13 cannot be read"
    document = json.loads(issued[0].body)
    assert document["parties"]["seller"] == {"name": None, "phone": None}
    assert document["times"] == {"made_at": document["times"]["made_at"]}
    assert document["ledger"] == []
    assert "price_fen" in pdf_text(render_pdf(VoucherDocument(**document), issued[0].sha256))


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_verification_page_on_a_phone(sale) -> None:
    voucher = sale.seller.get(f"/api/v1/orders/{sale.order_id}/voucher").json()
    with chromium() as browser:
        context = browser.new_context(
            base_url=sale.live.url, viewport=PHONE, locale="zh-CN", is_mobile=True,
            has_touch=True, bypass_csp=True,  # axe-core is injected as an inline script
        )  # fmt: skip
        page = context.new_page()
        page.goto(VERIFY_PAGE_PATH)
        page.get_by_label("凭证编号").fill(voucher["number"])
        page.get_by_label("校验码").fill(voucher["check_code"])
        page.get_by_role("button", name="核验").click()
        page.wait_for_url("**/vouchers/verify?number=*")
        assert "内容与存档一致" in page.content()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert axe_violations(page) == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "voucher-verify.png"), full_page=True)
        context.close()
