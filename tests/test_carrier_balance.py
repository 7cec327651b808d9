"""Balance operations over real HTTP: query (话费余额), transfer (话费转赠), top-up (直充).

Every test runs the platform with ``live_app``: the platform's ``HttpCarrierGateway`` POSTs,
signed, to the carrier sandboxes mounted in it. Each test's sandboxes are new, so balances start
from ``TEST_NUMBERS``.
"""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest

from huafei.carriers.errors import MalformedCallback
from huafei.carriers.gateway import (
    BalanceTransferRequest,
    Carrier,
    ChannelRefused,
    GatewayError,
    GatewayTimeout,
    InsufficientBalance,
    InvalidAmount,
    NumberOfAnotherCarrier,
    RequestIdReused,
    SameNumber,
    TopUpRequest,
    UnknownNumber,
    WrongServicePassword,
)
from huafei.carriers.http import HttpCarrierGateway
from huafei.carriers.sandbox_numbers import (
    RECEIVING_NUMBERS,
    TEST_NUMBERS,
    SandboxNumber,
    derived_number,
)
from huafei.carriers.signing import signed_headers
from huafei.carriers.wire import decode_transfer, refusal
from huafei.core.clock import Clock
from live import LiveApp

CMCC = Carrier.CMCC
CUCC = Carrier.CUCC
ALICE = TEST_NUMBERS["13800138000"]  # China Mobile, ¥123.45
BOB = TEST_NUMBERS["13900139000"]  # China Mobile, ¥500.00
CAROL = TEST_NUMBERS["15000150000"]  # China Mobile, ¥8.00
UNICOM = TEST_NUMBERS["13000130000"]  # China Unicom, ¥234.56
#: A valid China Mobile number (138 segment) that is not a test number.
STRANGER = "13812345678"
_ids = iter(range(1, 10**9))


def transfer(
    amount_fen: int,
    *,
    sender: SandboxNumber = ALICE,
    to_phone: str = BOB.phone,
    password: str | None = None,
    transfer_id: str | None = None,
) -> BalanceTransferRequest:
    return BalanceTransferRequest(
        transfer_id=transfer_id or f"t{next(_ids)}",
        from_phone=sender.phone,
        to_phone=to_phone,
        amount_fen=amount_fen,
        service_password=password or sender.service_password,
    )


def topup(amount_fen: int, phone: str = ALICE.phone, topup_id: str | None = None) -> TopUpRequest:
    return TopUpRequest(topup_id=topup_id or f"u{next(_ids)}", phone=phone, amount_fen=amount_fen)


def balance(live: LiveApp, number: SandboxNumber, carrier: Carrier = CMCC) -> int:
    """What the number's holder sees when asking the carrier, with the service password."""
    return live.gateway(carrier).query_balance(number.phone, number.service_password)


def impatient_gateway(live: LiveApp, clock: Clock, timeout: float = 0.2) -> HttpCarrierGateway:
    return HttpCarrierGateway(
        CMCC,
        live.sandbox_url(CMCC),
        live.container.settings.carrier_secret("cmcc"),
        timeout=timeout,
        clock=clock,
    )


# -- query ----------------------------------------------------------------------------------------
class TestQueryBalance:
    def test_the_right_password_shows_the_balance_in_fen(self, live_app) -> None:
        assert balance(live_app, ALICE) == 12_345
        assert balance(live_app, CAROL) == 800
        assert balance(live_app, UNICOM, CUCC) == 23_456

    def test_a_wrong_password_is_refused(self, live_app) -> None:
        with pytest.raises(WrongServicePassword) as caught:
            live_app.gateway(CMCC).query_balance(ALICE.phone, "000000")
        problem = caught.value.to_problem()
        assert (problem["status"], problem["code"], problem["carrier"]) == (
            422,
            "carrier_wrong_service_password",
            "cmcc",
        )
        with pytest.raises(WrongServicePassword):  # another number's password
            live_app.gateway(CMCC).query_balance(ALICE.phone, BOB.service_password)

    def test_unknown_numbers_and_numbers_of_another_carrier(self, live_app) -> None:
        gateway = live_app.gateway(CMCC)
        with pytest.raises(UnknownNumber) as caught:
            gateway.query_balance(STRANGER, "123456")
        assert caught.value.to_problem()["code"] == "carrier_unknown_number"
        with pytest.raises(UnknownNumber):
            gateway.query_balance("12345", "123456")
        with pytest.raises(NumberOfAnotherCarrier) as other:
            gateway.query_balance(UNICOM.phone, UNICOM.service_password)
        assert other.value.to_problem()["code"] == "carrier_number_of_another_carrier"

    def test_a_derived_number_opens_at_its_balance_with_its_derived_password(
        self, live_app
    ) -> None:
        secret = live_app.container.settings.sandbox_card_secret.get_secret_value()
        number = derived_number(secret, "19800001234")
        assert number is not None and derived_number(secret, "13800001234") is None
        assert balance(live_app, number) == 50_000
        with pytest.raises(WrongServicePassword):
            live_app.gateway(CMCC).query_balance(number.phone, "not-it")
        with pytest.raises(NumberOfAnotherCarrier):
            live_app.gateway(CUCC).query_balance(number.phone, number.service_password)


# -- transfer -------------------------------------------------------------------------------------
class TestTransferBalance:
    def test_moves_the_amount_from_one_number_to_the_other(self, live_app, clock) -> None:
        request = transfer(2_345)
        result = live_app.gateway(CMCC).transfer_balance(request)
        assert (result.transfer_id, result.from_phone, result.to_phone, result.amount_fen) == (
            request.transfer_id,
            ALICE.phone,
            BOB.phone,
            2_345,
        )
        assert result.from_balance_fen == 10_000
        assert result.channel_ref.startswith("CMCCZZ")
        assert result.completed_at == clock.now()
        assert balance(live_app, ALICE) == 10_000
        assert balance(live_app, BOB) == 52_345

    def test_a_retry_answers_the_first_result_and_moves_nothing_more(self, live_app, clock) -> None:
        gateway = live_app.gateway(CMCC)
        request = transfer(1_000)
        first = gateway.transfer_balance(request)
        clock.advance(seconds=30)
        second = gateway.transfer_balance(request)
        assert second == first
        assert (balance(live_app, ALICE), balance(live_app, BOB)) == (11_345, 51_000)

    def test_the_same_id_with_other_content_is_refused(self, live_app) -> None:
        gateway = live_app.gateway(CMCC)
        first = transfer(1_000)
        gateway.transfer_balance(first)
        for other in (
            transfer(1_001, transfer_id=first.transfer_id),
            transfer(1_000, transfer_id=first.transfer_id, to_phone=STRANGER),
            transfer(1_000, transfer_id=first.transfer_id, sender=BOB, to_phone=ALICE.phone),
        ):
            with pytest.raises(RequestIdReused) as caught:
                gateway.transfer_balance(other)
            assert caught.value.to_problem()["status"] == 409
        assert (balance(live_app, ALICE), balance(live_app, BOB)) == (11_345, 51_000)

    def test_insufficient_balance_moves_nothing(self, live_app) -> None:
        gateway = live_app.gateway(CMCC)
        with pytest.raises(InsufficientBalance) as caught:
            gateway.transfer_balance(transfer(801, sender=CAROL))
        assert caught.value.to_problem()["code"] == "carrier_insufficient_balance"
        assert (balance(live_app, CAROL), balance(live_app, BOB)) == (800, 50_000)
        result = gateway.transfer_balance(transfer(800, sender=CAROL))  # all of it
        assert result.from_balance_fen == 0
        assert balance(live_app, CAROL) == 0

    def test_a_refused_transfer_is_evaluated_afresh_when_retried(self, live_app) -> None:
        gateway = live_app.gateway(CMCC)
        request = transfer(1_000, sender=CAROL)
        with pytest.raises(InsufficientBalance):
            gateway.transfer_balance(request)
        gateway.direct_topup(topup(1_000, CAROL.phone))
        assert gateway.transfer_balance(request).from_balance_fen == 800

    def test_another_carriers_number_is_refused(self, live_app) -> None:
        with pytest.raises(NumberOfAnotherCarrier):
            live_app.gateway(CMCC).transfer_balance(transfer(100, to_phone=UNICOM.phone))
        with pytest.raises(NumberOfAnotherCarrier):  # a Mobile number at the Unicom channel
            live_app.gateway(CUCC).transfer_balance(transfer(100, to_phone=UNICOM.phone))
        assert balance(live_app, ALICE) == 12_345
        assert balance(live_app, UNICOM, CUCC) == 23_456

    def test_wrong_password_bad_amounts_and_oneself_are_refused(self, live_app) -> None:
        gateway = live_app.gateway(CMCC)
        with pytest.raises(WrongServicePassword):
            gateway.transfer_balance(transfer(100, password="000000"))
        for amount in (0, -100):
            with pytest.raises(InvalidAmount) as caught:
                gateway.transfer_balance(transfer(amount))
            assert caught.value.to_problem()["code"] == "carrier_invalid_amount"
        with pytest.raises(SameNumber):
            gateway.transfer_balance(transfer(100, to_phone=ALICE.phone))
        with pytest.raises(UnknownNumber):
            gateway.transfer_balance(transfer(100, to_phone="10086"))
        assert (balance(live_app, ALICE), balance(live_app, BOB)) == (12_345, 50_000)

    def test_a_replay_needs_the_password_too(self, live_app) -> None:
        gateway = live_app.gateway(CMCC)
        request = transfer(100)
        gateway.transfer_balance(request)
        with pytest.raises(WrongServicePassword):
            gateway.transfer_balance(
                transfer(100, transfer_id=request.transfer_id, password="000000")
            )

    def test_to_any_number_of_the_carrier(self, live_app) -> None:
        live_app.gateway(CMCC).transfer_balance(transfer(345, to_phone=STRANGER))
        balances = httpx.get(live_app.sandbox_url(CMCC) + "/control/balances").json()
        assert (balances[STRANGER], balances[ALICE.phone]) == (345, 12_000)
        # a number that was only credited has no service password: nobody can spend from it
        with pytest.raises(WrongServicePassword):
            live_app.gateway(CMCC).query_balance(STRANGER, "123456")


# -- direct top-up --------------------------------------------------------------------------------
class TestDirectTopUp:
    def test_credits_once_however_often_it_is_retried(self, live_app, clock) -> None:
        gateway = live_app.gateway(CMCC)
        request = topup(5_000)
        first = gateway.direct_topup(request)
        assert (first.topup_id, first.phone, first.amount_fen) == (
            request.topup_id,
            ALICE.phone,
            5_000,
        )
        assert first.channel_ref.startswith("CMCCCZ")
        clock.advance(seconds=30)
        assert gateway.direct_topup(request) == first
        assert gateway.direct_topup(request) == first
        assert balance(live_app, ALICE) == 17_345

    def test_the_same_id_with_other_content_is_refused(self, live_app) -> None:
        gateway = live_app.gateway(CMCC)
        first = gateway.direct_topup(topup(5_000))
        with pytest.raises(RequestIdReused):
            gateway.direct_topup(topup(10_000, topup_id=first.topup_id))
        with pytest.raises(RequestIdReused):
            gateway.direct_topup(topup(5_000, BOB.phone, topup_id=first.topup_id))
        assert (balance(live_app, ALICE), balance(live_app, BOB)) == (17_345, 50_000)

    def test_only_amounts_the_carrier_sells(self, live_app) -> None:
        for carrier, phone, amount in (
            (CMCC, ALICE.phone, 4_000),  # ¥40 is not sold
            (CMCC, ALICE.phone, 0),
            (CMCC, ALICE.phone, -1_000),
            (CUCC, UNICOM.phone, 1_000),  # Unicom sells ¥20 and up
        ):
            with pytest.raises(InvalidAmount):
                live_app.gateway(carrier).direct_topup(topup(amount, phone))
        live_app.gateway(CMCC).direct_topup(topup(1_000))  # Mobile sells ¥10
        assert balance(live_app, ALICE) == 13_345
        assert balance(live_app, UNICOM, CUCC) == 23_456

    def test_any_valid_number_of_the_carrier_and_no_other(self, live_app) -> None:
        gateway = live_app.gateway(CMCC)
        gateway.direct_topup(topup(2_000, STRANGER))
        gateway.direct_topup(topup(3_000, STRANGER))
        balances = httpx.get(live_app.sandbox_url(CMCC) + "/control/balances").json()
        assert balances[STRANGER] == 5_000
        with pytest.raises(NumberOfAnotherCarrier):
            gateway.direct_topup(topup(2_000, UNICOM.phone))
        with pytest.raises(UnknownNumber):
            gateway.direct_topup(topup(2_000, "1380013800"))  # ten digits
        assert balance(live_app, UNICOM, CUCC) == 23_456

    def test_a_query_tells_the_top_up_made_under_an_id_and_nothing_else(self, live_app) -> None:
        gateway = live_app.gateway(CMCC)
        made = gateway.direct_topup(topup(5_000))
        assert gateway.query_topup(made.topup_id) == made
        assert gateway.query_topup("never-sent") is None
        with pytest.raises(InvalidAmount):
            gateway.direct_topup(topup(4_000, topup_id="refused-once"))
        assert gateway.query_topup("refused-once") is None  # a refusal is not remembered
        assert balance(live_app, ALICE) == 17_345

    def test_the_refusal_switch_refuses_every_top_up(self, live_app) -> None:
        sandbox = live_app.sandbox(CMCC)
        sandbox.set_switches(topup_refusal="unknown_number")
        gateway = live_app.gateway(CMCC)
        with pytest.raises(UnknownNumber):
            gateway.direct_topup(topup(5_000, topup_id="switched"))
        assert gateway.query_topup("switched") is None
        with pytest.raises(ValueError, match="one of"):
            sandbox.set_switches(topup_refusal="no such reason")
        sandbox.set_switches(topup_refusal=None)
        assert gateway.direct_topup(topup(5_000, topup_id="switched")).amount_fen == 5_000
        assert balance(live_app, ALICE) == 17_345


# -- when the channel misbehaves ------------------------------------------------------------------
class TestBalanceGatewayFailures:
    def test_a_timed_out_transfer_happened_and_its_retry_does_not_repeat_it(
        self, live_app, clock
    ) -> None:
        sandbox = live_app.sandbox(CMCC)
        sandbox.set_switches(slow_response_ms=600)
        impatient = impatient_gateway(live_app, clock)
        request = transfer(1_000)
        with pytest.raises(GatewayTimeout) as caught:
            impatient.transfer_balance(request)
        assert caught.value.to_problem()["code"] == "carrier_gateway_timeout"
        with pytest.raises(GatewayTimeout):
            impatient.direct_topup(topup(5_000, BOB.phone, topup_id="late-topup"))
        impatient.close()
        sandbox.set_switches(slow_response_ms=0)
        gateway = live_app.gateway(CMCC)
        assert gateway.transfer_balance(request).from_balance_fen == 11_345
        late = gateway.query_topup("late-topup")
        assert late is not None
        assert late.amount_fen == 5_000  # the answer was lost; the top-up was made
        assert gateway.direct_topup(topup(5_000, BOB.phone, topup_id="late-topup")) == late
        assert (balance(live_app, ALICE), balance(live_app, BOB)) == (11_345, 56_000)

    def test_a_failing_channel_moves_nothing(self, live_app) -> None:
        sandbox = live_app.sandbox(CMCC)
        sandbox.set_switches(fail_status=503)
        gateway = live_app.gateway(CMCC)
        for call in (
            lambda: gateway.query_balance(ALICE.phone, ALICE.service_password),
            lambda: gateway.transfer_balance(transfer(1_000)),
            lambda: gateway.direct_topup(topup(5_000)),
            lambda: gateway.query_topup("any"),
        ):
            with pytest.raises(GatewayError) as caught:
                call()
            assert not isinstance(caught.value, ChannelRefused)
            assert caught.value.extra["http_status"] == 503
        sandbox.set_switches(fail_status=None)
        assert (balance(live_app, ALICE), balance(live_app, BOB)) == (12_345, 50_000)

    def test_a_wrong_secret_is_refused_by_the_channel(self, live_app, clock) -> None:
        impostor = HttpCarrierGateway(
            CMCC, live_app.sandbox_url(CMCC), "not the secret", timeout=2, clock=clock
        )
        with pytest.raises(GatewayError) as caught:
            impostor.transfer_balance(transfer(1_000))
        assert caught.value.extra["http_status"] == 401
        with pytest.raises(GatewayError):
            impostor.direct_topup(topup(5_000))
        impostor.close()
        assert balance(live_app, ALICE) == 12_345

    def test_amounts_are_integers_on_the_wire(self, live_app, clock) -> None:
        for amount in (1000.0, "1000", True, None):
            body = json.dumps({"topup_id": "x", "phone": ALICE.phone, "amount_fen": amount})
            response = _signed_post(live_app, clock, "/topups", body.encode())
            assert response.status_code == 400, amount
            assert response.json() == {
                "code": "invalid_request",
                "message": "invalid fields: amount_fen",
            }
        assert balance(live_app, ALICE) == 12_345

    def test_a_reset_restores_the_balances(self, live_app) -> None:
        gateway = live_app.gateway(CMCC)
        request = transfer(2_000)
        gateway.transfer_balance(request)
        gateway.direct_topup(topup(10_000, STRANGER))
        reset = httpx.post(live_app.sandbox_url(CMCC) + "/control/reset", json={})
        assert reset.status_code == 200
        balances = httpx.get(live_app.sandbox_url(CMCC) + "/control/balances").json()
        assert balances == {
            **dict.fromkeys(RECEIVING_NUMBERS[CMCC], 0),
            **{n.phone: n.balance_fen for n in TEST_NUMBERS.values() if n.carrier is CMCC},
        }
        assert gateway.transfer_balance(request).from_balance_fen == 10_345  # a new transfer


def _signed_post(live: LiveApp, clock: Clock, path: str, body: bytes) -> httpx.Response:
    timestamp = int(clock.now().timestamp())
    headers = signed_headers(
        live.container.settings.carrier_secret("cmcc"), body, timestamp=timestamp
    )
    headers["Content-Type"] = "application/json"
    return httpx.post(live.sandbox_url(CMCC) + path, content=body, headers=headers)


# -- the wire format, for answers the sandboxes never give ----------------------------------------
class TestWire:
    def test_a_refusal_reason_this_platform_does_not_know_is_still_a_refusal(self) -> None:
        error = refusal({"ok": False, "reason": "risk_control", "message": "风控拦截"})
        assert type(error) is ChannelRefused
        assert error.to_problem()["reason"] == "risk_control"
        assert isinstance(
            refusal({"ok": False, "reason": "insufficient_balance"}), InsufficientBalance
        )
        assert refusal({"ok": True}) is None
        with pytest.raises(MalformedCallback):
            refusal({"balance_fen": 100})

    @pytest.mark.parametrize("amount", [10.0, "10", True, -1, None])
    def test_amounts_must_be_integer_fen(self, amount) -> None:
        document = {
            "ok": True,
            "transfer_id": "t",
            "channel_ref": "r",
            "from_phone": ALICE.phone,
            "to_phone": BOB.phone,
            "amount_fen": amount,
            "from_balance_fen": 0,
            "completed_at": "2026-11-26T02:00:00+00:00",
        }
        with pytest.raises(MalformedCallback):
            decode_transfer(document)


# -- service passwords stay out of logs and answers -----------------------------------------------
def test_service_passwords_and_numbers_never_reach_logs_or_answers(
    live_app, caplog, capfd, clock
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = live_app.gateway(CMCC)
    answers: list[str] = []
    request = transfer(1_000)
    answers.append(repr(request))
    answers.append(repr(gateway.transfer_balance(request)))
    answers.append(repr(gateway.direct_topup(topup(5_000))))
    for call in (
        lambda: gateway.query_balance(ALICE.phone, "654321"),
        lambda: gateway.transfer_balance(transfer(1_000, password="654321")),
        lambda: gateway.transfer_balance(transfer(10**9)),
    ):
        with pytest.raises(ChannelRefused) as caught:
            call()
        answers.append(repr(caught.value))
        answers.append(json.dumps(caught.value.to_problem()))
    body = json.dumps({"phone": ALICE.phone, "service_password": 138000}).encode()
    raw = _signed_post(live_app, clock, "/balance/query", body)
    assert raw.status_code == 400
    answers.append(raw.text)

    captured = capfd.readouterr()
    assert "sandbox transferred balance" in caplog.text  # the logs were captured
    logs = caplog.text + captured.err + captured.out
    for secret in ("138000", "654321"):
        assert secret not in logs
        assert all(secret not in answer for answer in answers)
    phones = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
    assert not phones.search(logs)
    assert not [answer for answer in answers if phones.search(answer)]
