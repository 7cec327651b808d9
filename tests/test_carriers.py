"""Carrier channels end to end over real HTTP: the gateway, the sandboxes, the callback inbox.

Every test runs the platform with ``live_app`` (uvicorn on a port of its own, sandboxes
mounted): the gateway POSTs to the sandbox, the sandbox POSTs its signed result back to the
platform.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from huafei.carriers.gateway import (
    Carrier,
    ConsumptionRequest,
    ConsumptionResult,
    ConsumptionStatus,
    GatewayError,
    GatewayTimeout,
)
from huafei.carriers.http import HttpCarrierGateway
from huafei.carriers.models import CarrierNotification
from huafei.carriers.sandbox_cards import SandboxCard, SandboxCardKind
from huafei.carriers.service import (
    CallbackInbox,
    get_notification,
    mark_handled,
    unhandled_ids,
)
from huafei.carriers.signing import signed_headers
from huafei.composition.container import build_container
from huafei.core.clock import SystemClock
from huafei.core.settings import Settings
from live import HuafeiProcess, LiveApp, reserved_port, serve_live
from waiting import wait_for

CMCC = Carrier.CMCC
_ids = iter(range(1, 10**9))


def inbox(live: LiveApp) -> list[CarrierNotification]:
    return live.container.db.run(
        lambda s: list(s.scalars(select(CarrierNotification).order_by(CarrierNotification.id)))
    )


def queued_results(live: LiveApp) -> list[int]:
    """What the workers will take next: the unhandled inbox rows, oldest first."""
    return live.container.db.run(lambda s: unhandled_ids(s, 100))


def card_of(live: LiveApp, carrier: Carrier = CMCC, face: int = 10_000, **kwargs) -> SandboxCard:
    kwargs.setdefault("start", next(_ids))
    return live.sandbox(carrier).issue_cards(face, 1, **kwargs)[0]


def request(
    live: LiveApp,
    card: SandboxCard,
    *,
    consumption_id: str | None = None,
    pin: str | None = None,
    face: int | None = None,
) -> ConsumptionRequest:
    return ConsumptionRequest(
        consumption_id=consumption_id or f"c{next(_ids)}",
        carrier=card.carrier,
        face_value_fen=face or card.face_value_fen,
        serial=card.serial,
        pin=pin or card.pin,
        callback_url=live.container.carrier_callback_url(card.carrier),
    )


def consume(live: LiveApp, card: SandboxCard, **kwargs) -> ConsumptionRequest:
    req = request(live, card, **kwargs)
    ack = live.gateway(card.carrier).submit_consumption(req)
    assert ack.accepted, ack
    return req


def wrong(pin: str) -> str:
    return pin[:-1] + str((int(pin[-1]) + 1) % 10)


# -- consumption ----------------------------------------------------------------------------------
class TestConsumption:
    def test_a_good_card_is_accepted_then_called_back_into_the_inbox(self, live_app) -> None:
        card = card_of(live_app)
        req = request(live_app, card)
        ack = live_app.gateway(CMCC).submit_consumption(req)
        assert ack.accepted
        assert ack.channel_ref
        live_app.wait_for_callbacks()

        (row,) = inbox(live_app)
        assert (row.carrier, row.consumption_id, row.status) == ("cmcc", req.consumption_id,
                                                                 "succeeded")  # fmt: skip
        assert row.actual_face_value_fen == 10_000
        assert row.channel_ref == ack.channel_ref
        assert row.handled_at is None
        assert queued_results(live_app) == [row.id]

        result = live_app.gateway(CMCC).query_consumption(req.consumption_id)
        assert result.status is ConsumptionStatus.SUCCEEDED
        assert result.actual_face_value_fen == 10_000

    def test_each_outcome(self, live_app) -> None:
        good = card_of(live_app, face=5_000)
        cases = {
            "wrong_pin": request(live_app, good, pin=wrong(good.pin)),
            "used": request(live_app, card_of(live_app, kind=SandboxCardKind.USED)),
            "expired": request(live_app, card_of(live_app, kind=SandboxCardKind.EXPIRED)),
            "wrong_face": request(
                live_app,
                card_of(live_app, kind=SandboxCardKind.WRONG_FACE, actual_face_value_fen=3_000),
            ),
            "good": request(live_app, good),
        }
        gateway = live_app.gateway(CMCC)
        for req in cases.values():
            assert gateway.submit_consumption(req).accepted
        again = request(live_app, good)  # the same good card, consumed a moment ago
        assert gateway.submit_consumption(again).accepted
        live_app.wait_for_callbacks()

        by_consumption = {row.consumption_id: row for row in inbox(live_app)}
        outcome = {
            name: (by_consumption[r.consumption_id].status,
                   by_consumption[r.consumption_id].actual_face_value_fen)
            for name, r in cases.items()
        }  # fmt: skip
        assert outcome == {
            "wrong_pin": ("wrong_pin", None),
            "used": ("used", None),
            "expired": ("expired", None),
            "wrong_face": ("succeeded", 3_000),
            "good": ("succeeded", 5_000),
        }
        assert by_consumption[again.consumption_id].status == "used"
        assert by_consumption[cases["expired"].consumption_id].reason == "卡已过期"
        assert len(queued_results(live_app)) == 6

    def test_submission_is_idempotent_on_the_consumption_id(self, live_app) -> None:
        card = card_of(live_app)
        req = request(live_app, card)
        gateway = live_app.gateway(CMCC)
        first = gateway.submit_consumption(req)
        second = gateway.submit_consumption(req)
        assert first == second
        other = request(live_app, card_of(live_app), consumption_id=req.consumption_id)
        refused = gateway.submit_consumption(other)
        assert not refused.accepted
        assert refused.reason == "consumption_id_reused"
        live_app.wait_for_callbacks()
        assert [row.status for row in inbox(live_app)] == ["succeeded"]

    def test_a_malformed_card_or_unsold_face_is_refused_at_once(self, live_app) -> None:
        card = card_of(live_app)
        gateway = live_app.gateway(CMCC)
        short = request(live_app, card, pin=card.pin[:-1])
        assert gateway.submit_consumption(short).reason == "invalid_card"
        unsold = request(live_app, card, face=4_000)
        assert gateway.submit_consumption(unsold).reason == "face_value_not_sold"
        assert gateway.query_consumption(short.consumption_id).status is ConsumptionStatus.UNKNOWN

    def test_each_carrier_has_its_own_channel(self, live_app) -> None:
        reqs = [consume(live_app, card_of(live_app, carrier, face=2_000)) for carrier in
                (Carrier.CUCC, Carrier.CTCC)]  # fmt: skip
        live_app.wait_for_callbacks()
        assert {(row.carrier, row.status) for row in inbox(live_app)} == {
            ("cucc", "succeeded"),
            ("ctcc", "succeeded"),
        }
        with pytest.raises(GatewayError):
            live_app.gateway(CMCC).submit_consumption(reqs[0])  # a Unicom card

    def test_the_query_shows_processing_until_the_card_is_consumed(self, live_app) -> None:
        live_app.sandbox(CMCC).set_switches(callback_delay_ms=800)
        req = consume(live_app, card_of(live_app))
        gateway = live_app.gateway(CMCC)
        assert gateway.query_consumption(req.consumption_id).status is (
            ConsumptionStatus.PROCESSING
        )
        assert gateway.query_consumption("never-sent").status is ConsumptionStatus.UNKNOWN
        live_app.wait_for_callbacks()
        assert gateway.query_consumption(req.consumption_id).status is (ConsumptionStatus.SUCCEEDED)

    def test_rejected_when_the_product_is_paused(self, live_app) -> None:
        live_app.sandbox(CMCC).set_switches(reject_reason="产品暂停")
        req = consume(live_app, card_of(live_app))
        live_app.wait_for_callbacks()
        (row,) = inbox(live_app)
        assert (row.consumption_id, row.status, row.reason) == (
            req.consumption_id,
            "rejected",
            "产品暂停",
        )


# -- misbehaving callbacks ------------------------------------------------------------------------
class TestCallbackSwitches:
    def test_duplicated_callbacks_are_recorded_once(self, live_app) -> None:
        sandbox = live_app.sandbox(CMCC)
        sandbox.set_switches(duplicate_callbacks=True)
        consume(live_app, card_of(live_app))
        live_app.wait_for_callbacks()
        deliveries = sandbox.deliveries
        assert len(deliveries) == 2
        assert deliveries[0].notification_id == deliveries[1].notification_id
        assert all(d.acknowledged for d in deliveries)  # a duplicate is answered SUCCESS too
        assert len(inbox(live_app)) == 1
        assert len(queued_results(live_app)) == 1

    def test_lost_callbacks_leave_the_query(self, live_app) -> None:
        sandbox = live_app.sandbox(CMCC)
        sandbox.set_switches(lose_callbacks=True)
        req = consume(live_app, card_of(live_app))
        live_app.wait_for_callbacks()
        assert sandbox.deliveries == []
        assert inbox(live_app) == []
        result = live_app.gateway(CMCC).query_consumption(req.consumption_id)
        assert result.status is ConsumptionStatus.SUCCEEDED

    def test_badly_signed_callbacks_are_refused_and_retried(self, live_app) -> None:
        sandbox = live_app.sandbox(CMCC)
        sandbox.set_switches(bad_signature=True, callback_attempts=3, callback_retry_ms=10)
        consume(live_app, card_of(live_app))
        live_app.wait_for_callbacks()
        assert [(d.attempt, d.http_status, d.acknowledged) for d in sandbox.deliveries] == [
            (1, 401, False),
            (2, 401, False),
            (3, 401, False),
        ]
        assert inbox(live_app) == []

    def test_a_stale_timestamp_is_refused(self, live_app) -> None:
        sandbox = live_app.sandbox(CMCC)
        sandbox.set_switches(timestamp_skew_seconds=-301, callback_attempts=1)
        consume(live_app, card_of(live_app))
        live_app.wait_for_callbacks()
        assert [d.http_status for d in sandbox.deliveries] == [401]
        assert inbox(live_app) == []

    def test_late_callbacks_arrive_after_their_delay(self, live_app) -> None:
        sandbox = live_app.sandbox(CMCC)
        sandbox.set_switches(callback_delay_ms=800)
        consume(live_app, card_of(live_app))
        assert inbox(live_app) == []
        assert not sandbox.wait_until_idle(timeout=0.05)
        live_app.wait_for_callbacks()
        assert len(inbox(live_app)) == 1

    def test_an_earlier_state_after_the_final_one(self, live_app, clock) -> None:
        # long enough a delay that the clock moves before the sandbox completes the card
        live_app.sandbox(CMCC).set_switches(stale_callback_after_final=True, callback_delay_ms=400)
        req = consume(live_app, card_of(live_app))
        clock.advance(seconds=5)  # the card is consumed a little after it was accepted
        live_app.wait_for_callbacks()
        rows = inbox(live_app)
        assert [row.status for row in rows] == ["succeeded", "processing"]
        assert {row.consumption_id for row in rows} == {req.consumption_id}
        assert rows[1].occurred_at < rows[0].occurred_at
        assert len(queued_results(live_app)) == 2

    def test_two_cards_results_swapped_in_time(self, live_app) -> None:
        live_app.sandbox(CMCC).set_switches(swap_callbacks=True, swap_wait_ms=5000)
        first = consume(live_app, card_of(live_app))
        second = consume(live_app, card_of(live_app))
        live_app.wait_for_callbacks()
        assert [row.consumption_id for row in inbox(live_app)] == [
            second.consumption_id,
            first.consumption_id,
        ]

    def test_an_unanswered_callback_is_redelivered_until_success(self, live_app) -> None:
        sandbox = live_app.sandbox(CMCC)
        sandbox.set_switches(callback_attempts=3, callback_retry_ms=10)
        req = request(live_app, card_of(live_app))
        req = ConsumptionRequest(
            req.consumption_id, CMCC, req.face_value_fen, req.serial, req.pin,
            callback_url=live_app.url + "/nowhere",
        )  # fmt: skip
        assert live_app.gateway(CMCC).submit_consumption(req).accepted
        live_app.wait_for_callbacks()
        assert [(d.attempt, d.http_status) for d in sandbox.deliveries] == [
            (1, 404),
            (2, 404),
            (3, 404),
        ]


# -- the gateway when the channel misbehaves ------------------------------------------------------
class TestGatewayFailures:
    def test_a_slow_channel_times_out_but_may_have_taken_the_card(self, live_app, clock) -> None:
        sandbox = live_app.sandbox(CMCC)
        sandbox.set_switches(slow_response_ms=600)
        impatient = HttpCarrierGateway(
            CMCC,
            live_app.sandbox_url(CMCC),
            live_app.container.settings.carrier_secret("cmcc"),
            timeout=0.2,
            clock=clock,
        )
        req = request(live_app, card_of(live_app))
        with pytest.raises(GatewayTimeout) as caught:
            impatient.submit_consumption(req)
        assert caught.value.to_problem()["code"] == "carrier_gateway_timeout"
        impatient.close()
        sandbox.set_switches(slow_response_ms=0)
        result = wait_for(
            lambda: live_app.gateway(CMCC).query_consumption(req.consumption_id),
            until=lambda result: result.status is ConsumptionStatus.SUCCEEDED,
            what="the channel to finish consuming the card",
        )
        assert result.status is ConsumptionStatus.SUCCEEDED  # query before retrying

    def test_a_failing_channel_takes_nothing(self, live_app) -> None:
        sandbox = live_app.sandbox(CMCC)
        sandbox.set_switches(fail_status=503)
        req = request(live_app, card_of(live_app))
        gateway = live_app.gateway(CMCC)
        with pytest.raises(GatewayError) as caught:
            gateway.submit_consumption(req)
        assert caught.value.extra["http_status"] == 503
        with pytest.raises(GatewayError):
            gateway.check_service_password("13800138000", "138000")
        sandbox.set_switches(fail_status=None)
        assert gateway.query_consumption(req.consumption_id).status is ConsumptionStatus.UNKNOWN
        assert gateway.submit_consumption(req).accepted  # the retry goes through

    def test_a_wrong_secret_is_refused_by_the_channel(self, live_app, clock) -> None:
        impostor = HttpCarrierGateway(
            CMCC, live_app.sandbox_url(CMCC), "not the secret", timeout=2, clock=clock
        )
        with pytest.raises(GatewayError) as caught:
            impostor.submit_consumption(request(live_app, card_of(live_app)))
        assert caught.value.extra["http_status"] == 401
        impostor.close()

    def test_an_unreachable_channel(self, clock) -> None:
        with reserved_port() as port:  # bound, never listening: the connection is refused
            gateway = HttpCarrierGateway(
                CMCC, f"http://127.0.0.1:{port}", "s", timeout=1, clock=clock
            )
            with pytest.raises(GatewayError) as caught:
                gateway.query_consumption("c1")
        assert not isinstance(caught.value, GatewayTimeout)


class TestServicePassword:
    def test_checks(self, live_app) -> None:
        assert live_app.gateway(CMCC).check_service_password("13800138000", "138000")
        assert not live_app.gateway(CMCC).check_service_password("13800138000", "000000")
        assert not live_app.gateway(CMCC).check_service_password("13100000000", "000000")
        # a Unicom number is not China Mobile's to check
        assert not live_app.gateway(CMCC).check_service_password("13000130000", "130000")
        assert live_app.gateway(Carrier.CUCC).check_service_password("13000130000", "130000")


# -- the platform's callback endpoint -------------------------------------------------------------
def post_callback(
    live: LiveApp,
    document: dict[str, object] | bytes,
    *,
    timestamp: int,
    secret: str | None = None,
    carrier: Carrier = CMCC,
) -> httpx.Response:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    key = secret or live.container.settings.carrier_secret(carrier.value)
    headers = signed_headers(key, body, timestamp=timestamp)
    return httpx.post(
        f"{live.url}/callbacks/carriers/{carrier.value}", content=body, headers=headers
    )


def notification(**changes: object) -> dict[str, object]:
    return {
        "notification_id": "n-1",
        "consumption_id": "c-1",
        "channel_ref": "CMCC1",
        "status": "succeeded",
        "actual_face_value_fen": 5_000,
        "reason": None,
        "occurred_at": "2026-11-26T02:00:00+00:00",
        **changes,
    }


class TestCallbackEndpoint:
    def test_signed_within_the_window_is_recorded_once(self, live_app, clock) -> None:
        now = int(clock.now().timestamp())
        for timestamp in (now - 299, now + 299):
            response = post_callback(live_app, notification(), timestamp=timestamp)
            assert response.status_code == 200
            assert response.text == "SUCCESS"
            assert response.headers["content-type"].startswith("text/plain")
        (row,) = inbox(live_app)
        assert row.notification_id == "n-1"
        assert len(queued_results(live_app)) == 1

    def test_concurrent_redeliveries_are_recorded_once(self, live_app, clock) -> None:
        now = int(clock.now().timestamp())
        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(
                pool.map(
                    lambda _: post_callback(live_app, notification(), timestamp=now), range(12)
                )
            )
        assert {(r.status_code, r.text) for r in responses} == {(200, "SUCCESS")}
        assert len(inbox(live_app)) == 1
        assert len(queued_results(live_app)) == 1

    def test_the_same_notification_id_of_another_carrier_is_another_notification(
        self, live_app, clock
    ) -> None:
        now = int(clock.now().timestamp())
        post_callback(live_app, notification(), timestamp=now)
        post_callback(live_app, notification(), timestamp=now, carrier=Carrier.CTCC)
        assert sorted(row.carrier for row in inbox(live_app)) == ["cmcc", "ctcc"]

    @pytest.mark.parametrize("skew", [-301, 301])
    def test_outside_the_window_is_refused(self, live_app, clock, skew) -> None:
        response = post_callback(
            live_app, notification(), timestamp=int(clock.now().timestamp()) + skew
        )
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "bad_callback_signature"
        assert inbox(live_app) == []

    def test_a_bad_signature_is_a_401_problem(self, live_app, clock) -> None:
        now = int(clock.now().timestamp())
        response = post_callback(live_app, notification(), timestamp=now, secret="guess")
        assert response.status_code == 401
        assert response.json()["code"] == "bad_callback_signature"
        unsigned = httpx.post(f"{live_app.url}/callbacks/carriers/cmcc", json=notification())
        assert unsigned.status_code == 401
        another_carriers = post_callback(
            live_app,
            notification(),
            timestamp=now,
            secret=live_app.container.settings.carrier_secret("cucc"),
        )
        assert another_carriers.status_code == 401
        assert inbox(live_app) == []

    def test_signed_but_malformed(self, live_app, clock) -> None:
        now = int(clock.now().timestamp())
        for document in (
            b"not json",
            notification(status="paid"),
            notification(notification_id=None),
            notification(actual_face_value_fen=None),
            notification(actual_face_value_fen="100"),
            notification(occurred_at="yesterday"),
        ):
            response = post_callback(live_app, document, timestamp=now)
            assert response.status_code == 422, document
            assert response.json()["code"] == "malformed_carrier_callback"
        assert inbox(live_app) == []

    def test_an_unknown_carrier(self, live_app, clock) -> None:
        response = httpx.post(f"{live_app.url}/callbacks/carriers/acme", json=notification())
        assert response.status_code == 422

    def test_the_inbox_entry_is_read_and_marked_handled(self, live_app, clock) -> None:
        post_callback(live_app, notification(), timestamp=int(clock.now().timestamp()))
        (inbox_id,) = queued_results(live_app)
        db = live_app.container.db
        entry = db.run(lambda s: get_notification(s, inbox_id))
        result = entry.to_result()
        assert (result.status, result.actual_face_value_fen) == (ConsumptionStatus.SUCCEEDED, 5_000)
        later = clock.now() + timedelta(seconds=1)
        assert db.run(lambda s: mark_handled(s, inbox_id, now=later))
        assert not db.run(lambda s: mark_handled(s, inbox_id, now=later))
        assert inbox(live_app)[0].handled_at == later


# -- the sandbox's control endpoint ---------------------------------------------------------------
class TestSandboxControl:
    def test_switches_over_http(self, live_app) -> None:
        url = live_app.sandbox_url(CMCC) + "/control/switches"
        changed = httpx.put(url, json={"duplicate_callbacks": True, "callback_delay_ms": 5})
        assert changed.status_code == 200
        assert changed.json()["duplicate_callbacks"] is True
        assert httpx.get(url).json()["callback_delay_ms"] == 5
        assert live_app.sandbox(CMCC).switches.duplicate_callbacks
        assert live_app.sandbox(Carrier.CUCC).switches.duplicate_callbacks is False
        refused = httpx.put(url, json={"no_such_switch": 1, "fail_status": 200})
        assert refused.status_code == 400
        assert refused.json()["code"] == "invalid_request"
        reset = httpx.post(live_app.sandbox_url(CMCC) + "/control/reset", json={})
        assert reset.json()["duplicate_callbacks"] is False

    def test_cards_and_deliveries_over_http(self, live_app) -> None:
        base = live_app.sandbox_url(Carrier.CTCC)
        issued = httpx.post(
            base + "/control/cards",
            json={"face_value_fen": 3_000, "count": 2, "kind": "good", "start": 500},
        )
        assert issued.status_code == 200
        first = issued.json()[0]
        assert len(first["serial"]) == 19 and len(first["pin"]) == 18
        card = live_app.sandbox(Carrier.CTCC).issue_cards(3_000, 1, start=500)[0]
        assert (first["serial"], first["pin"]) == (card.serial, card.pin)
        consume(live_app, card)
        live_app.wait_for_callbacks()
        (delivery,) = httpx.get(base + "/control/deliveries").json()
        assert delivery["status"] == "succeeded"
        assert delivery["acknowledged"] is True
        bad = httpx.post(base + "/control/cards", json={"face_value_fen": 1_000})
        assert bad.status_code == 400

    def test_channel_requests_must_be_signed(self, live_app) -> None:
        response = httpx.post(
            live_app.sandbox_url(CMCC) + "/consumptions/query", json={"consumption_id": "c"}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "bad_signature"

    def test_reset_can_forget_consumed_cards(self, live_app) -> None:
        sandbox = live_app.sandbox(CMCC)
        card = card_of(live_app)
        consume(live_app, card)
        live_app.wait_for_callbacks()
        sandbox.reset(forget_cards=True)
        consume(live_app, card)
        live_app.wait_for_callbacks()
        assert [row.status for row in inbox(live_app)] == ["succeeded", "succeeded"]


# -- PINs stay out of logs and answers ------------------------------------------------------------
def test_pins_never_reach_logs_or_answers(live_app, caplog, capfd) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = live_app.gateway(CMCC)
    good = card_of(live_app)
    used = card_of(live_app, kind=SandboxCardKind.USED)
    pins = [good.pin, wrong(good.pin), used.pin, good.pin[:-1]]
    answers: list[str] = []
    req = consume(live_app, good)
    answers.append(repr(gateway.submit_consumption(req)))
    answers.append(repr(gateway.submit_consumption(request(live_app, good, pin=wrong(good.pin)))))
    answers.append(repr(gateway.submit_consumption(request(live_app, used))))
    answers.append(repr(gateway.submit_consumption(request(live_app, good, pin=good.pin[:-1]))))
    raw = httpx.post(
        live_app.sandbox_url(CMCC) + "/consumptions",
        json={"consumption_id": "x", "face_value_fen": "lots", "pin": good.pin},
    )
    answers.append(raw.text)
    live_app.sandbox(CMCC).set_switches(bad_signature=True, callback_attempts=1)
    consume(live_app, card_of(live_app))
    live_app.wait_for_callbacks()
    answers.append(repr(gateway.query_consumption(req.consumption_id)))
    answers.extend(row.body for row in inbox(live_app))
    answers.extend(repr(d) for d in live_app.sandbox(CMCC).deliveries)

    captured = capfd.readouterr()
    assert "sandbox accepted a card" in caplog.text  # the logs were captured
    for pin in pins:
        assert pin not in caplog.text
        assert pin not in captured.err + captured.out
        assert all(pin not in answer for answer in answers)


# -- live_app itself, and the sandboxes served on their own ---------------------------------------
def test_gateways_and_callbacks_follow_the_configured_addresses() -> None:
    own = build_container(Settings(port=9001))
    assert own.carriers[CMCC].base_url == "http://127.0.0.1:9001/sandbox/carriers/cmcc"
    assert own.carrier_callback_url(CMCC) == "http://127.0.0.1:9001/callbacks/carriers/cmcc"
    real = build_container(
        Settings(
            public_base_url="https://huafei.example/",
            carrier_base_url="https://channel.example/v1",
        )
    )
    assert real.carriers[Carrier.CTCC].base_url == "https://channel.example/v1/ctcc"
    assert real.carrier_callback_url(Carrier.CTCC) == (
        "https://huafei.example/callbacks/carriers/ctcc"
    )


def test_the_live_app_stops_cleanly(db, clock) -> None:
    with serve_live(db, clock) as live:
        assert httpx.get(live.url + "/healthz").status_code == 200
        url = live.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/healthz")


def _start_sandbox(port: int, state: Path) -> HuafeiProcess:
    env = {
        "HUAFEI_SANDBOX_CALLBACK_DELAY_MS": "20",
        "HUAFEI_SANDBOX_STATE_PATH": str(state),
        "HUAFEI_LOG_LEVEL": "WARNING",
    }
    process = HuafeiProcess(
        "sandbox", "serve", "--port", str(port), env=env, log=state.with_suffix(".log")
    )
    process.wait_until_answering(f"http://127.0.0.1:{port}/healthz", timeout=20)
    return process


def test_standalone_sandboxes_call_back_the_platform(db, tmp_path, held_port) -> None:
    port = held_port
    process = _start_sandbox(port, tmp_path / "state.jsonl")
    try:
        sandboxes = f"http://127.0.0.1:{port}/sandbox/carriers"
        with serve_live(db, SystemClock(), carrier_base_url=sandboxes) as live:
            cards = httpx.post(
                f"{sandboxes}/cucc/control/cards", json={"face_value_fen": 5_000, "count": 1}
            ).json()
            card = SandboxCard(Carrier.CUCC, cards[0]["serial"], cards[0]["pin"],
                               SandboxCardKind.GOOD, 5_000, 5_000)  # fmt: skip
            req = consume(live, card)
            rows = wait_for(
                lambda: inbox(live), until=lambda rows: len(rows) == 1, what="the callback"
            )
            assert [(r.consumption_id, r.status) for r in rows] == [
                (req.consumption_id, "succeeded")
            ]
    finally:
        process.stop()


def test_a_sandbox_killed_before_calling_back_keeps_its_consumptions(
    db, tmp_path, held_port
) -> None:
    """SIGKILL between accepting a card and calling back: restarted on its state file, the
    channel still knows the consumption — its reference and outcome — answers a resend with the
    same reference, lists it, and calls back what it never did."""
    port = held_port
    state = tmp_path / "state.jsonl"
    sandboxes = f"http://127.0.0.1:{port}/sandbox/carriers"
    first = _start_sandbox(port, state)
    try:
        slow = httpx.put(f"{sandboxes}/cmcc/control/switches", json={"callback_delay_ms": 60_000})
        assert slow.status_code == 200
        with serve_live(db, SystemClock(), carrier_base_url=sandboxes) as live:
            card = live.sandbox(CMCC).issue_cards(10_000, 1, start=77)[0]
            req = request(live, card)
            ack = live.gateway(CMCC).submit_consumption(req)
            assert ack.accepted
            first.kill()
            assert inbox(live) == []  # killed before the callback

            second = _start_sandbox(port, state)
            try:
                gateway = live.gateway(CMCC)
                result = gateway.query_consumption(req.consumption_id)
                assert (result.status, result.channel_ref) == (
                    ConsumptionStatus.SUCCEEDED,
                    ack.channel_ref,
                )
                assert gateway.submit_consumption(req) == ack  # a resend: the same reference
                rows = wait_for(
                    lambda: inbox(live),
                    until=lambda rows: len(rows) == 1,
                    what="the restarted sandbox's callback",
                    timeout=10,
                )
                assert [(r.consumption_id, r.status, r.channel_ref) for r in rows] == [
                    (req.consumption_id, "succeeded", ack.channel_ref)
                ]
                listed = httpx.get(f"{sandboxes}/cmcc/control/consumptions").json()
                assert [(c["consumption_id"], c["channel_ref"], c["outcome"]) for c in listed] == [
                    (req.consumption_id, ack.channel_ref, "succeeded")
                ]
                assert "pin" not in listed[0]
                # The same card under another id is used; a new card gets a new reference.
                again = gateway.submit_consumption(request(live, card))
                assert again.channel_ref != ack.channel_ref
                fresh = live.sandbox(CMCC).issue_cards(10_000, 1, start=78)[0]
                other = gateway.submit_consumption(request(live, fresh))
                assert len({ack.channel_ref, again.channel_ref, other.channel_ref}) == 3
            finally:
                second.stop()
        assert card.pin not in state.read_text()
    finally:
        first.stop()


def _result(notification: str, consumption: str = "hf1") -> ConsumptionResult:
    return ConsumptionResult(
        consumption,
        ConsumptionStatus.SUCCEEDED,
        channel_ref="ch-1",
        actual_face_value_fen=10_000,
        notification_id=notification,
    )


def test_callbacks_arriving_together_are_committed_together_and_once(db, clock) -> None:
    """The inbox's group commit: 40 callbacks from 8 threads at once, each repeated, are stored
    once each, and every caller is answered only after its row committed."""
    box = CallbackInbox(db, max_batch=16)
    try:
        names = [f"n-{i}" for i in range(40)]

        def deliver(name: str) -> None:
            box.record(CMCC, _result(name), body=b"{}", now=clock.now()).result(timeout=30)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(deliver, names + names))
        rows = db.run(
            lambda s: sorted(s.scalars(select(CarrierNotification.notification_id)).all())
        )
        assert rows == sorted(names)
    finally:
        box.close()


def test_a_row_that_cannot_be_stored_fails_only_its_own_callback(db, clock) -> None:
    box = CallbackInbox(db)
    try:
        # A consumption id longer than the column allows is refused by the database (PostgreSQL);
        # SQLite keeps it. Either way the good rows arriving with it are stored.
        futures = [
            box.record(CMCC, _result(f"ok-{i}"), body=b"{}", now=clock.now()) for i in range(5)
        ]
        bad = box.record(CMCC, _result("bad", "x" * 300), body=b"{}", now=clock.now())
        futures += [
            box.record(CMCC, _result(f"ok-{i}"), body=b"{}", now=clock.now()) for i in range(5, 9)
        ]
        for future in futures:
            assert future.result(timeout=30) is None
        stored = set(db.run(lambda s: s.scalars(select(CarrierNotification.notification_id)).all()))
        assert {f"ok-{i}" for i in range(9)} <= stored
        if db.is_sqlite:
            assert bad.result(timeout=30) is None
        else:
            with pytest.raises(DBAPIError):
                bad.result(timeout=30)
            assert "bad" not in stored
    finally:
        box.close()


def test_a_caller_that_gives_up_does_not_stop_the_inbox(db, clock) -> None:
    """A callback request cancelled while waiting (the channel hung up) leaves its future
    cancelled: the row is stored all the same and the next callbacks are still answered."""
    box = CallbackInbox(db)
    try:
        abandoned = [
            box.record(CMCC, _result(f"gone-{i}"), body=b"{}", now=clock.now()) for i in range(50)
        ]
        for future in abandoned:
            future.cancel()
        later = box.record(CMCC, _result("later"), body=b"{}", now=clock.now())
        assert later.result(timeout=30) is None
        stored = set(db.run(lambda s: s.scalars(select(CarrierNotification.notification_id)).all()))
        assert stored == {f"gone-{i}" for i in range(50)} | {"later"}
    finally:
        box.close()
