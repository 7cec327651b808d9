"""``CarrierGateway`` over HTTP: the client the platform uses for every carrier channel.

The three sandboxes speak the same protocol as this client, so development, tests and
production differ only in ``HUAFEI_CARRIER_BASE_URL`` and the secrets. Requests are JSON POSTs
signed like callbacks (``carriers/signing.py``, docs/signing.md); see docs/sandboxes.md for the
endpoints.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import fields
from http import HTTPStatus
from typing import Any, TypeVar

import urllib3
from urllib3.exceptions import NewConnectionError

from huafei.carriers import signing
from huafei.carriers.errors import MalformedCallback
from huafei.carriers.gateway import (
    BadCallbackSignature,
    BalanceTransferRequest,
    BalanceTransferResult,
    Carrier,
    CodeRequest,
    CodeSent,
    ConsumptionAck,
    ConsumptionRequest,
    ConsumptionResult,
    GatewayError,
    GatewayTimeout,
    TopUpRequest,
    TopUpResult,
    UnknownRequest,
)
from huafei.carriers.wire import (
    BALANCE_QUERY_PATH,
    CALLBACK_PATH,
    CODE_SEND_PATH,
    CODE_VERIFY_PATH,
    PASSWORD_PATH,
    QUERY_PATH,
    SUBMIT_PATH,
    TOPUP_PATH,
    TOPUP_QUERY_PATH,
    TRANSFER_PATH,
    TRANSFER_QUERY_PATH,
    decode_code_sent,
    decode_result,
    decode_topup,
    decode_transfer,
    decode_transfer_query,
    fen,
    optional_str,
    refusal,
)
from huafei.core.clock import Clock, SystemClock
from huafei.core.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class HttpCarrierGateway:
    """One carrier channel reached over HTTP at ``base_url`` (e.g. ``…/sandbox/carriers/cmcc``).

    Safe to share between threads. Call it from synchronous code (a worker, or a route running
    in the thread pool): it blocks for up to ``timeout`` seconds.
    """

    def __init__(
        self,
        carrier: Carrier,
        base_url: str,
        secret: str,
        timeout: float,
        *,
        clock: Clock | None = None,
        callback_window_seconds: int = signing.WINDOW_SECONDS,
    ) -> None:
        self.carrier = carrier
        self.base_url = base_url.rstrip("/")
        self._prefix = _path_of(self.base_url).rstrip("/")
        self.timeout = timeout
        self.callback_window_seconds = callback_window_seconds
        self._secret = secret
        self._clock = clock or SystemClock()
        self._pool: urllib3.HTTPConnectionPool | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HttpCarrierGateway({self.carrier.value!r}, {self.base_url!r})"

    # -- CarrierGateway ---------------------------------------------------------------------------
    def submit_consumption(self, request: ConsumptionRequest) -> ConsumptionAck:
        if request.carrier is not self.carrier:
            raise GatewayError(f"a {request.carrier} card cannot go to the {self.carrier} channel")
        data = self._post(
            SUBMIT_PATH,
            {
                "consumption_id": request.consumption_id,
                "face_value_fen": request.face_value_fen,
                "serial": request.serial,
                "pin": request.pin,
                "callback_url": request.callback_url,
            },
        )
        accepted = data.get("accepted")
        if not isinstance(accepted, bool):
            raise GatewayError(f"{self.carrier}: the channel's answer has no verdict")
        try:
            return ConsumptionAck(
                accepted=accepted,
                channel_ref=optional_str(data.get("channel_ref")),
                reason=optional_str(data.get("reason")),
            )
        except MalformedCallback as exc:
            raise GatewayError(f"{self.carrier}: unreadable answer: {exc.detail}") from None

    def query_consumption(self, consumption_id: str) -> ConsumptionResult:
        data = self._post(QUERY_PATH, {"consumption_id": consumption_id})
        try:
            return decode_result(data)
        except MalformedCallback as exc:
            raise GatewayError(f"{self.carrier}: unreadable query answer: {exc.detail}") from None

    def parse_callback(self, headers: dict[str, str], body: bytes) -> ConsumptionResult:
        if (
            signing.CARRIER_SIGNING.refusal(
                self._secret,
                headers,
                body,
                now=self._clock.now(),
                window_seconds=self.callback_window_seconds,
            )
            is not None
        ):
            raise BadCallbackSignature(carrier=self.carrier.value)
        try:
            data = json.loads(body)
        except ValueError:
            raise MalformedCallback("the body is not JSON") from None
        if not isinstance(data, dict):
            raise MalformedCallback("the body is not a JSON object")
        result = decode_result(data)
        if not result.notification_id:
            raise MalformedCallback("notification_id is missing")
        return result

    def check_service_password(self, phone: str, password: str) -> bool:
        data = self._post(PASSWORD_PATH, {"phone": phone, "password": password})
        matches = data.get("matches")
        if not isinstance(matches, bool):
            raise GatewayError(f"{self.carrier}: the channel's answer has no verdict")
        return matches

    def query_balance(self, phone: str, service_password: str) -> int:
        data = self._post(
            BALANCE_QUERY_PATH, {"phone": phone, "service_password": service_password}
        )
        return self._decode(data, lambda answer: fen(answer, "balance_fen"), "balance query")

    def transfer_balance(self, request: BalanceTransferRequest) -> BalanceTransferResult:
        return self._balance_operation(TRANSFER_PATH, request, decode_transfer, "transfer")

    def direct_topup(self, request: TopUpRequest) -> TopUpResult:
        return self._balance_operation(TOPUP_PATH, request, decode_topup, "top-up")

    def query_topup(self, topup_id: str) -> TopUpResult | None:
        data = self._post(TOPUP_QUERY_PATH, {"topup_id": topup_id})
        try:
            result = self._decode(data, decode_topup, "top-up query")
        except UnknownRequest:
            return None
        if result.topup_id != topup_id:
            raise GatewayError(f"{self.carrier}: the channel answered for another top-up")
        return result

    def query_transfer(self, transfer_id: str) -> BalanceTransferResult | None:
        data = self._post(TRANSFER_QUERY_PATH, {"transfer_id": transfer_id})
        result = self._decode(data, decode_transfer_query, "transfer query")
        if result is not None and result.transfer_id != transfer_id:
            raise GatewayError(f"{self.carrier}: the channel answered for another transfer")
        return result

    def send_verification_code(self, request: CodeRequest) -> CodeSent:
        return self._balance_operation(CODE_SEND_PATH, request, decode_code_sent, "code request")

    def verify_code(self, request_id: str, phone: str, code: str) -> None:
        data = self._post(
            CODE_VERIFY_PATH, {"request_id": request_id, "phone": phone, "code": code}
        )
        self._decode(data, lambda _answer: None, "code check")

    # -- plumbing ---------------------------------------------------------------------------------
    def _balance_operation(
        self,
        path: str,
        request: BalanceTransferRequest | TopUpRequest | CodeRequest,
        decode: Callable[[Mapping[str, Any]], T],
        what: str,
    ) -> T:
        """Send every field of ``request``; the answer must be for it (the same id, numbers and
        amount), or the channel mixed up two operations."""
        sent = {item.name: getattr(request, item.name) for item in fields(request)}
        result = self._decode(self._post(path, sent), decode, what)
        for name, value in sent.items():
            if hasattr(result, name) and getattr(result, name) != value:
                raise GatewayError(f"{self.carrier}: the channel answered for another {what}")
        return result

    def _decode(
        self, data: dict[str, Any], decode: Callable[[Mapping[str, Any]], T], what: str
    ) -> T:
        """A balance operation's answer: its result, or its refusal raised as a typed error."""
        try:
            refused = refusal(data)
            if refused is None:
                return decode(data)
        except MalformedCallback as exc:
            raise GatewayError(f"{self.carrier}: unreadable {what} answer: {exc.detail}") from None
        refused.extra.setdefault("carrier", self.carrier.value)
        raise refused

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _http(self) -> urllib3.HTTPConnectionPool:
        # Created on first use; thread-safe, keeps connections alive. urllib3 rather than httpx
        # here: a card is one request each way and httpx costs twice the CPU per request
        # (docs/performance.md).
        with self._lock:
            if self._pool is None:
                self._pool = urllib3.connection_from_url(
                    self.base_url,
                    timeout=urllib3.Timeout(self.timeout),
                    retries=False,
                    maxsize=16,
                )
            return self._pool

    def _unreachable(self, exc: Exception) -> GatewayError:
        log.warning(
            "carrier channel unreachable",
            extra={"carrier": self.carrier.value, "error": type(exc).__name__},
        )
        return GatewayError(f"{self.carrier}: {type(exc).__name__}", carrier=self.carrier.value)

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = int(self._clock.now().timestamp())
        headers = signing.signed_headers(self._secret, body, timestamp=timestamp)
        headers["Content-Type"] = "application/json"
        try:
            response = self._http().urlopen("POST", self._prefix + path, body=body, headers=headers)
        except NewConnectionError as exc:
            raise self._unreachable(exc) from None
        except urllib3.exceptions.TimeoutError:
            log.warning("carrier channel timed out", extra={"carrier": self.carrier.value})
            raise GatewayTimeout(carrier=self.carrier.value) from None
        except urllib3.exceptions.HTTPError as exc:
            raise self._unreachable(exc) from None
        if response.status != HTTPStatus.OK:
            log.warning(
                "carrier channel refused",
                extra={"carrier": self.carrier.value, "http_status": response.status},
            )
            raise GatewayError(
                f"{self.carrier}: the channel answered HTTP {response.status}",
                carrier=self.carrier.value,
                http_status=response.status,
            )
        try:
            data = json.loads(response.data)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise GatewayError(f"{self.carrier}: the channel's answer is not a JSON object")
        return data


def _path_of(url: str) -> str:
    return urllib3.util.parse_url(url).path or ""


def callback_url(public_base_url: str, carrier: Carrier) -> str:
    """Where a channel POSTs results for ``carrier`` (the platform's callback endpoint)."""
    return public_base_url.rstrip("/") + CALLBACK_PATH.format(carrier=carrier.value)


def build_http_gateways(settings: Settings, clock: Clock) -> dict[Carrier, HttpCarrierGateway]:
    """One gateway per carrier at ``{carrier_base_url}/{carrier}`` with that carrier's secret."""
    base = settings.carriers_url()
    return {
        carrier: HttpCarrierGateway(
            carrier,
            f"{base}/{carrier.value}",
            settings.carrier_secret(carrier.value),
            settings.carrier_timeout_seconds,
            clock=clock,
        )
        for carrier in Carrier
    }
