"""A carrier channel that answers nonsense: the gateway raises a typed ``GatewayError`` that says
what was wrong with the answer, never a crash, and believes nothing it could not read.

The channel here is a real HTTP server on a port of its own that answers each request with the
body the test gives it (the sandboxes always answer well, so they cannot show this).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from huafei.carriers.gateway import (
    BalanceTransferRequest,
    Carrier,
    ConsumptionRequest,
    GatewayError,
    TopUpRequest,
)
from huafei.carriers.http import HttpCarrierGateway
from huafei.core.clock import FrozenClock

CMCC = Carrier.CMCC
ALICE, BOB = "13800138000", "13900139000"


class Channel:
    """Answers every POST with ``answer`` (HTTP 200) and remembers the paths asked."""

    def __init__(self) -> None:
        self.answer = b"{}"
        self.paths: list[str] = []
        channel = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                channel.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(channel.answer)))
                self.end_headers()
                self.wfile.write(channel.answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # binds port 0 itself
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cmcc"


@pytest.fixture
def channel() -> Iterator[Channel]:
    served = Channel()
    # A short poll interval: shutdown() waits for the serving loop to look up.
    thread = threading.Thread(
        target=served.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def gateway(channel: Channel, clock: FrozenClock) -> Iterator[HttpCarrierGateway]:
    client = HttpCarrierGateway(CMCC, channel.url, "channel-secret", timeout=5, clock=clock)
    yield client
    client.close()


def submit(gateway: HttpCarrierGateway) -> object:
    return gateway.submit_consumption(
        ConsumptionRequest("hf1", CMCC, 10_000, "1" * 17, "2" * 18, callback_url="http://cb")
    )


def transfer(gateway: HttpCarrierGateway) -> object:
    return gateway.transfer_balance(BalanceTransferRequest("t-1", ALICE, BOB, 500, "138000"))


def topup(gateway: HttpCarrierGateway) -> object:
    return gateway.direct_topup(TopUpRequest("u-1", ALICE, 1_000))


DONE = {"ok": True, "channel_ref": "C1", "completed_at": "2026-11-26T02:00:00+00:00"}
NONSENSE: list[tuple[str, Callable[[HttpCarrierGateway], object], str | dict, str]] = [
    ("submit-not-json", submit, "accepted", "the channel's answer is not a JSON object"),
    ("submit-a-list", submit, "[true]", "the channel's answer is not a JSON object"),
    ("submit-no-verdict", submit, '{"channel_ref": "C1"}', "the channel's answer has no verdict"),
    (
        "submit-ref-a-number",
        submit,
        '{"accepted": true, "channel_ref": 12}',
        "unreadable answer: a text field holds something else",
    ),
    (
        "query-unknown-status",
        lambda g: g.query_consumption("hf1"),
        '{"consumption_id": "hf1", "status": "half-done"}',
        "unreadable query answer: status is not a known consumption status",
    ),
    (
        "password-no-verdict",
        lambda g: g.check_service_password(ALICE, "138000"),
        '{"ok": true}',
        "the channel's answer has no verdict",
    ),
    (
        "balance-as-text",
        lambda g: g.query_balance(ALICE, "138000"),
        '{"ok": true, "balance_fen": "12345"}',
        "unreadable balance query answer: balance_fen must be a non-negative integer",
    ),
    (
        "balance-neither-ok-nor-refused",
        lambda g: g.query_balance(ALICE, "138000"),
        '{"balance_fen": 12345}',
        "unreadable balance query answer: ok must be true or false",
    ),
    (
        "another-transfer",
        transfer,
        {
            **DONE,
            "transfer_id": "t-2",
            "from_phone": ALICE,
            "to_phone": BOB,
            "amount_fen": 500,
            "from_balance_fen": 0,
        },
        "the channel answered for another transfer",
    ),
    (
        "another-top-up",
        topup,
        {**DONE, "topup_id": "u-1", "phone": ALICE, "amount_fen": 2000},
        "the channel answered for another top-up",
    ),
    (
        "a-query-for-another-top-up",
        lambda g: g.query_topup("u-1"),
        {**DONE, "topup_id": "u-9", "phone": ALICE, "amount_fen": 1000},
        "the channel answered for another top-up",
    ),
    (
        "a-query-without-an-amount",
        lambda g: g.query_topup("u-1"),
        {**DONE, "topup_id": "u-1", "phone": ALICE},
        "unreadable top-up query answer: amount_fen must be a non-negative integer",
    ),
]


@pytest.mark.parametrize(
    ("call", "answer", "says"), [case[1:] for case in NONSENSE], ids=[c[0] for c in NONSENSE]
)
def test_nonsense_is_a_typed_error(channel, gateway, call, answer, says: str) -> None:
    channel.answer = (answer if isinstance(answer, str) else json.dumps(answer)).encode()
    with pytest.raises(GatewayError) as caught:
        call(gateway)
    assert caught.value.detail == f"cmcc: {says}"
    assert caught.value.code == "carrier_gateway_error"
    assert len(channel.paths) == 1  # asked once, not retried blindly


def test_a_card_of_another_carrier_never_leaves(channel, clock) -> None:
    unicom = HttpCarrierGateway(Carrier.CUCC, channel.url, "channel-secret", timeout=5, clock=clock)
    with pytest.raises(GatewayError) as caught:
        submit(unicom)
    assert caught.value.detail == "a cmcc card cannot go to the cucc channel"
    assert channel.paths == []
