"""Selling through the pages over HTTP: the live check, the explicit confirmations, submitting,
the batch and order pages, cancelling. (No worker runs here: orders stay queued; the browser
test watches them settle.)"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from factories import make_client
from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import issue_cards
from huafei.core.settings import Settings
from huafei.rates.defaults import AGREEMENT_VERSION, install_defaults
from portal_helpers import field, sign_in_with_forms

pytestmark = pytest.mark.db


@pytest.fixture
def client(db, clock) -> TestClient:
    db.run(lambda s: install_defaults(s, now=clock.now()))
    return make_client(db, clock, env="test")


def _lines(count: int = 3) -> list[str]:
    cards = issue_cards(
        Settings().sandbox_card_secret.get_secret_value(), Carrier.CMCC, 10_000, count
    )
    return [f"{card.serial} {card.pin}" for card in cards]


def _form(client: TestClient, csrf: str, cards: str, **extra: str) -> dict[str, str]:
    page = client.get("/sell").text
    return {
        "csrf_token": csrf, "carrier": "cmcc", "face_value_fen": "10000", "profile": "third_party",
        "lane": "normal", "cards": cards, "idempotency_key": field(page, "idempotency_key"),
        "agreement_version": AGREEMENT_VERSION,
        "agreement_sha256": field(page, "agreement_sha256"), **extra,
    }  # fmt: skip


def test_the_check_marks_bad_lines_and_prices_the_good_ones_without_echoing_pins(
    client,
) -> None:
    csrf = sign_in_with_forms(client, "13800138000")
    lines = _lines()
    pin = lines[1].split()[1]
    cards = "\n".join([lines[0], lines[1][:-1], lines[2]])
    check = client.post("/sell/check", data=_form(client, csrf, cards))
    assert check.status_code == 200
    assert 'class="bad" data-line="2"' in check.text
    assert "卡密位数与该运营商不符" in check.text
    assert "¥176.00" in check.text  # two good ¥100 cards at 8.8折
    assert pin[:10] not in check.text


def test_both_confirmations_are_required_and_the_cards_are_kept(client) -> None:
    csrf = sign_in_with_forms(client, "13800138000")
    cards = "\n".join(_lines(1))
    refused = client.post("/sell", data=_form(client, csrf, cards, agreement="yes"))
    assert refused.status_code == 422
    assert "请勾选两项" in refused.text
    assert cards in refused.text


def test_submit_follow_the_batch_and_cancel_an_order(client) -> None:
    csrf = sign_in_with_forms(client, "13800138000")
    form = _form(client, csrf, "\n".join(_lines()), agreement="yes", lawful_source="yes")
    submitted = client.post("/sell", data=form, follow_redirects=False)
    assert submitted.status_code == 303, submitted.text
    batch_url = submitted.headers["location"]
    assert re.fullmatch(r"/batches/\d+", batch_url)
    again = client.post("/sell", data=form, follow_redirects=False)  # the same form resent
    assert again.headers["location"] == batch_url
    batch = client.get(batch_url).text
    assert "0 / 3 张卡已完成" in batch
    assert 'hx-trigger="every 1s"' in batch
    orders = client.get("/orders", params={"state": "queued"}).text
    order_id = re.findall(r'href="/orders/(\d+)"', orders)[0]
    page = client.get(f"/orders/{order_id}").text
    assert "订单进度" in page
    assert "已通过风控检查" in page
    cancelled = client.post(f"/orders/{order_id}/cancel", data={"csrf_token": csrf})
    assert cancelled.status_code == 200
    assert "订单已取消" in cancelled.text


def test_a_batch_with_no_acceptable_card_says_why_per_line(client) -> None:
    csrf = sign_in_with_forms(client, "13800138000")
    form = _form(client, csrf, "12345", agreement="yes", lawful_source="yes")
    refused = client.post("/sell", data=form)
    assert refused.status_code == 422
    assert "没有可以受理的卡" in refused.text
    assert "第 1 行" in refused.text


def test_someone_elses_order_is_not_found(client, db, clock) -> None:
    csrf = sign_in_with_forms(client, "13800138000")
    form = _form(client, csrf, "\n".join(_lines(1)), agreement="yes", lawful_source="yes")
    client.post("/sell", data=form)
    order_id = re.findall(r'href="/orders/(\d+)"', client.get("/orders").text)[0]
    client.cookies.clear()
    sign_in_with_forms(client, "13900139000")
    page = client.get(f"/orders/{order_id}")
    assert page.status_code == 404
    assert "找不到该订单" in page.text


def test_lines_left_out_of_an_accepted_batch_are_named_on_its_page(client) -> None:
    csrf = sign_in_with_forms(client, "13800138000")
    first, second = _lines(2)
    client.post("/sell", data=_form(client, csrf, first, agreement="yes", lawful_source="yes"))
    form = _form(client, csrf, f"{first}\n{second}", agreement="yes", lawful_source="yes")
    submitted = client.post("/sell", data=form, follow_redirects=False)
    assert submitted.status_code == 303
    assert submitted.headers["location"].endswith("?rejected=1:already_submitted")
    page = client.get(submitted.headers["location"]).text
    assert "第 1 行：该卡已在您进行中的订单里" in page
    assert "0 / 1 张卡已完成" in page


def _face_options(html: str) -> list[str]:
    select = re.search(r'<select id="face_value_fen".*?</select>', html, re.DOTALL)
    assert select, "no face value list"
    return re.findall(r'<option value="(\d+)"', select.group(0))


def test_the_face_list_follows_the_carrier(client) -> None:
    csrf = sign_in_with_forms(client, "13800138000")
    page = client.get("/sell").text
    assert _face_options(page)[0] == "1000"  # China Mobile sells ¥10 cards
    # The seller switches to China Unicom with ¥10 chosen: the answer redraws the face list
    # out of band with Unicom's faces (from ¥20) and checks against the nearest one.
    switched = client.post(
        "/sell/check",
        data=_form(client, csrf, "", carrier="cucc", face_value_fen="1000", faces_for="cmcc"),
    )
    assert 'id="face-choice" hx-swap-oob="true"' in switched.text
    faces = _face_options(switched.text)
    assert "1000" not in faces and faces[0] == "2000"
    assert re.search(r'<option value="2000" selected>', switched.text)
    assert 'name="faces_for" value="cucc"' in switched.text
    # Typing on with the list already drawn for Unicom leaves the list alone.
    typing = client.post(
        "/sell/check",
        data=_form(client, csrf, "", carrier="cucc", face_value_fen="2000", faces_for="cucc"),
    )
    assert "face-choice" not in typing.text
