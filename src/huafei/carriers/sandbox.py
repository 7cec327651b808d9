"""A carrier channel's sandbox: consumes its own test cards and calls back like the real thing.

``CarrierSandbox`` holds one carrier's channel state and behaviour; ``sandbox_app.py`` puts it
behind HTTP. Consumption is asynchronous: ``submit`` answers at once, the result is decided then
(so a card cannot be consumed twice), shown as ``processing`` until ``callback_delay_ms`` has
passed, and then POSTed, signed, to the request's ``callback_url`` by a background thread, which
retries until the platform answers ``SUCCESS``.

Balances (话费余额) start from ``TEST_NUMBERS`` and change with transfers (话费转赠) and top-ups
(直充), which are answered synchronously, idempotent on the caller's id, and kept in memory per
sandbox until ``reset`` (``CarrierSandbox.book``, ``sandbox_balances.py``).

Switches (``SandboxSwitches``) make the channel misbehave the ways real channels do. The switches
in force when a card is submitted govern that card's callbacks; ``fail_status`` and
``slow_response_ms`` govern each HTTP request as it arrives (balance operations included).
docs/sandboxes.md describes them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
from dataclasses import replace
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Any, TextIO

import urllib3

from huafei.carriers import signing
from huafei.carriers.formats import check_card, face_values_fen
from huafei.carriers.gateway import (
    Carrier,
    ChannelRefused,
    ConsumptionResult,
    ConsumptionStatus,
    InsufficientBalance,
    InvalidAmount,
    MonthlyLimitExceeded,
    NumberOfAnotherCarrier,
    RequestIdReused,
    SameNumber,
    UnknownNumber,
    UnknownRequest,
    VerificationCodeExpired,
    WrongServicePassword,
    WrongVerificationCode,
)
from huafei.carriers.sandbox_balances import BalanceBook
from huafei.carriers.sandbox_cards import (
    SandboxCard,
    SandboxCardKind,
    issue_cards,
    read_card,
)
from huafei.carriers.sandbox_dispatch import CALLBACK_TIMEOUT_SECONDS, SENDERS, Dispatcher
from huafei.carriers.sandbox_records import (
    Consumption,
    Delivery,
    DeliveryRecord,
    SandboxSwitches,
    consumption_result,
)
from huafei.carriers.wire import encode_result
from huafei.core.clock import Clock, SystemClock

log = logging.getLogger(__name__)

#: What the sandbox tells the platform when it refuses a card, as a Chinese channel words it.
REASONS = {
    ConsumptionStatus.WRONG_PIN: "卡密错误",
    ConsumptionStatus.USED: "卡已被使用",
    ConsumptionStatus.EXPIRED: "卡已过期",
}
#: What the sandbox says when it refuses a balance operation (``reason`` → message).
REFUSAL_MESSAGES = {
    ChannelRefused.reason: "操作被拒绝",
    WrongServicePassword.reason: "服务密码错误",
    UnknownNumber.reason: "号码不存在",
    NumberOfAnotherCarrier.reason: "非本网号码",
    SameNumber.reason: "不能转赠给本号码",
    InsufficientBalance.reason: "余额不足",
    InvalidAmount.reason: "金额不支持",
    RequestIdReused.reason: "流水号重复",
    UnknownRequest.reason: "无此流水记录",
    WrongVerificationCode.reason: "验证码错误",
    VerificationCodeExpired.reason: "验证码已失效",
    MonthlyLimitExceeded.reason: "已超过本月转赠限额",
}
_WRONG_SECRET = "not-the-shared-secret"  # noqa: S105 - deliberately wrong, signs bad callbacks


class CarrierSandbox:
    """One carrier channel's sandbox: its cards, consumptions, switches and callback sender."""

    def __init__(
        self,
        carrier: Carrier,
        *,
        secret: str,
        card_secret: str,
        clock: Clock | None = None,
        switches: SandboxSwitches | None = None,
        state_path: Path | None = None,
    ) -> None:
        self.carrier = carrier
        self.card_secret = card_secret
        self.clock = clock or SystemClock()
        self._secret = secret
        self._initial_switches = switches or SandboxSwitches()
        self._switches = self._initial_switches
        self._state_path = state_path
        self._state_file: TextIO | None = None
        self._lock = threading.Lock()
        self._consumptions: dict[str, Consumption] = {}
        self._consumed: set[str] = set()
        self._deliveries: list[DeliveryRecord] = []
        self._held: list[Delivery] | None = None
        self._release: int | None = None
        self._refs = itertools.count(1)
        #: the channel's balances (话费余额): queries, transfers and top-ups
        self.book = BalanceBook(
            carrier,
            clock=self.clock,
            next_ref=self._channel_ref,
            rules=lambda: self._switches,
            secret=card_secret,
        )
        self._dispatcher = Dispatcher(f"sandbox-{carrier.value}")
        self._client: urllib3.PoolManager | None = None
        self._load_state()

    # -- control (Python API; the HTTP control endpoints call these) ------------------------------
    @property
    def switches(self) -> SandboxSwitches:
        return self._switches

    def set_switches(self, **changes: Any) -> SandboxSwitches:
        """Change some switches; raises ``pydantic.ValidationError`` for unknown or bad ones."""
        with self._lock:
            merged = {**self._switches.model_dump(), **changes}
            self._switches = SandboxSwitches.model_validate(merged)
            return self._switches

    def reset(
        self, *, forget_cards: bool = False, forget_consumptions: bool = False
    ) -> SandboxSwitches:
        """Back to the initial switches and balances, forgetting pending callbacks, the delivery
        log, transfers and top-ups; with ``forget_cards`` consumed cards become fresh again (in
        memory). ``forget_consumptions`` loses the records of consumptions (their ids and
        references; callbacks not yet sent are never sent) but not the cards they consumed —
        what a channel that crashed without its records does: a card sent again under the same
        consumption id is then ``used``, under a new reference."""
        self._dispatcher.clear()
        with self._lock:
            self._switches = self._initial_switches
            self._deliveries.clear()
            self.book.reset()
            self._held = self._release = None
            if forget_cards or forget_consumptions:
                self._consumptions.clear()
            if forget_cards:
                self._consumed.clear()
            return self._switches

    @property
    def consumptions(self) -> list[dict[str, Any]]:
        """Every consumption the channel holds a record of, in the order it accepted them."""
        with self._lock:
            return [record.to_control() for record in self._consumptions.values()]

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        with self._lock:
            return list(self._deliveries)

    def wait_until_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no callback is due or held; False when ``timeout`` ran out first."""
        return self._dispatcher.wait_idle(timeout)

    def issue_cards(
        self,
        face_value_fen: int,
        count: int,
        *,
        kind: SandboxCardKind = SandboxCardKind.GOOD,
        actual_face_value_fen: int | None = None,
        start: int = 1,
    ) -> list[SandboxCard]:
        """Cards this sandbox (and any other with the same card secret) honours."""
        return issue_cards(
            self.card_secret,
            self.carrier,
            face_value_fen,
            count,
            kind=kind,
            actual_face_value_fen=actual_face_value_fen,
            start=start,
        )

    def close(self) -> None:
        self._dispatcher.close()
        with self._lock:
            if self._client is not None:
                self._client.clear()
                self._client = None
            if self._state_file is not None:
                self._state_file.close()
                self._state_file = None

    # -- the channel ------------------------------------------------------------------------------
    def verify_request(self, headers: dict[str, str], body: bytes) -> bool:
        return (
            signing.CARRIER_SIGNING.refusal(self._secret, headers, body, now=self.clock.now())
            is None
        )

    def submit(
        self,
        *,
        consumption_id: str,
        face_value_fen: int,
        serial: str,
        pin: str,
        callback_url: str,
    ) -> dict[str, Any]:
        """Accept a card for consumption (idempotent on ``consumption_id``); the ack document."""
        fingerprint = hashlib.sha256(f"{face_value_fen}:{serial}:{pin}".encode()).hexdigest()
        with self._lock:
            existing = self._consumptions.get(consumption_id)
            if existing is not None:
                if existing.fingerprint != fingerprint:
                    return _ack(accepted=False, channel_ref=None, reason="consumption_id_reused")
                return _ack(accepted=True, channel_ref=existing.channel_ref, reason=None)
            if face_value_fen not in face_values_fen(self.carrier):
                return _ack(accepted=False, channel_ref=None, reason="face_value_not_sold")
            if check_card(self.carrier, serial, pin) is not None:
                return _ack(accepted=False, channel_ref=None, reason="invalid_card")
            switches = self._switches
            outcome, actual, reason = self._decide(serial, pin, switches)
            record = Consumption(
                consumption_id=consumption_id,
                channel_ref=f"{self.carrier.value.upper()}{next(self._refs):012d}",
                fingerprint=fingerprint,
                callback_url=callback_url,
                outcome=outcome,
                actual_face_value_fen=actual,
                reason=reason,
                accepted_at=self.clock.now(),
                switches=switches,
                serial=serial,
            )
            self._consumptions[consumption_id] = record
            if outcome is ConsumptionStatus.SUCCEEDED:
                self._consumed.add(serial)
            # On file before the channel answers: a sandbox killed after accepting a card still
            # knows, once restarted, which consumption took it and under which reference.
            self._write_state({"consumption": record.to_state()})
        log.info(
            "sandbox accepted a card",
            extra={"carrier": self.carrier.value, "channel_ref": record.channel_ref},
        )
        self._dispatcher.schedule(switches.callback_delay_ms / 1000, lambda: self._complete(record))
        return _ack(accepted=True, channel_ref=record.channel_ref, reason=None)

    def query(self, consumption_id: str) -> dict[str, Any]:
        """The current state of a consumption in the wire format (``unknown`` if never seen)."""
        with self._lock:
            record = self._consumptions.get(consumption_id)
            if record is None:
                result = ConsumptionResult(consumption_id, ConsumptionStatus.UNKNOWN)
            else:
                occurred_at = record.completed_at or record.accepted_at
                result = consumption_result(record, record.status, occurred_at, notification=False)
        return encode_result(result)

    # -- inside -----------------------------------------------------------------------------------
    def _channel_ref(self, kind: str) -> str:
        return f"{self.carrier.value.upper()}{kind}{next(self._refs):012d}"

    def _decide(
        self, serial: str, pin: str, switches: SandboxSwitches
    ) -> tuple[ConsumptionStatus, int | None, str | None]:
        """The card's fate, decided on acceptance; consumes a good card. Holds the lock."""
        if switches.reject_reason:
            return ConsumptionStatus.REJECTED, None, switches.reject_reason
        card = read_card(self.card_secret, self.carrier, serial, pin)
        if card is None:
            return ConsumptionStatus.WRONG_PIN, None, REASONS[ConsumptionStatus.WRONG_PIN]
        if card.kind is SandboxCardKind.USED or card.serial in self._consumed:
            return ConsumptionStatus.USED, None, REASONS[ConsumptionStatus.USED]
        if card.kind is SandboxCardKind.EXPIRED:
            return ConsumptionStatus.EXPIRED, None, REASONS[ConsumptionStatus.EXPIRED]
        return ConsumptionStatus.SUCCEEDED, card.actual_face_value_fen, None

    def _complete(self, record: Consumption) -> None:
        with self._lock:
            record.status = record.outcome
            record.completed_at = self.clock.now()
        switches = record.switches
        if switches.lose_callbacks:
            log.info("sandbox lost a callback on purpose", extra={"ref": record.channel_ref})
            return
        final = self._delivery(
            record, consumption_result(record, record.status, record.completed_at)
        )
        batch = [final]
        if switches.duplicate_callbacks:
            batch.append(final)
        if switches.stale_callback_after_final:
            stale = consumption_result(record, ConsumptionStatus.PROCESSING, record.accepted_at)
            batch.append(self._delivery(record, stale))
        if switches.swap_callbacks:
            with self._lock:
                held, release = self._held, self._release
                self._held, self._release = (batch, None) if held is None else (None, None)
            if held is None:
                # Nothing to swap with yet: hold this one, deliver it alone if no other comes.
                handle = self._dispatcher.schedule(switches.swap_wait_ms / 1000, self._flush_held)
                with self._lock:
                    self._release = handle
                return
            if release is not None:
                self._dispatcher.cancel(release)
            batch = batch + held
        if len(batch) == 1:
            batch = [replace(batch[0], ordered=False)]
        for delivery in batch:
            self._dispatcher.schedule(0, partial(self._send, delivery), ordered=delivery.ordered)

    def _flush_held(self) -> None:
        with self._lock:
            held, self._held, self._release = self._held, None, None
        for delivery in held or []:
            self._dispatcher.schedule(0, partial(self._send, delivery))

    def _delivery(self, record: Consumption, result: ConsumptionResult) -> Delivery:
        body = json.dumps(encode_result(result), separators=(",", ":"), ensure_ascii=False)
        return Delivery(
            notification_id=result.notification_id or "",
            consumption_id=record.consumption_id,
            status=result.status.value,
            body=body.encode(),
            url=record.callback_url,
            switches=record.switches,
        )

    def _send(self, delivery: Delivery) -> None:
        switches = delivery.switches
        timestamp = int(self.clock.now().timestamp()) + switches.timestamp_skew_seconds
        secret = _WRONG_SECRET if switches.bad_signature else self._secret
        headers = signing.signed_headers(secret, delivery.body, timestamp=timestamp)
        headers["Content-Type"] = "application/json"
        http_status: int | None = None
        error: str | None = None
        acknowledged = False
        try:
            response = self._http().request(
                "POST", delivery.url, body=delivery.body, headers=headers
            )
            http_status = response.status
            acknowledged = http_status == HTTPStatus.OK and response.data.strip() == b"SUCCESS"
        except urllib3.exceptions.HTTPError as exc:
            error = type(exc).__name__
        with self._lock:
            self._deliveries.append(
                DeliveryRecord(
                    notification_id=delivery.notification_id,
                    consumption_id=delivery.consumption_id,
                    status=delivery.status,
                    attempt=delivery.attempt,
                    http_status=http_status,
                    error=error,
                    acknowledged=acknowledged,
                )
            )
            record = self._consumptions.get(delivery.consumption_id)
            if (
                acknowledged
                and record is not None
                and not record.called_back
                and delivery.status == record.outcome.value
            ):
                record.called_back = True
                self._write_state({"called_back": record.consumption_id})
        if not acknowledged and delivery.attempt < switches.callback_attempts:
            pause = switches.callback_retry_ms * 2 ** (delivery.attempt - 1) / 1000
            again = replace(delivery, attempt=delivery.attempt + 1)
            self._dispatcher.schedule(pause, partial(self._send, again), ordered=again.ordered)

    def _http(self) -> urllib3.PoolManager:
        # urllib3: thread-safe pools for the sender threads, at half httpx's CPU per request.
        with self._lock:
            if self._client is None:
                self._client = urllib3.PoolManager(
                    num_pools=4,
                    maxsize=SENDERS,
                    retries=False,
                    timeout=urllib3.Timeout(CALLBACK_TIMEOUT_SECONDS),
                )
            return self._client

    def _load_state(self) -> None:
        """What an earlier process of this sandbox recorded: consumed cards and consumptions.

        The file holds JSON lines ``{"carrier", "consumption": {…}}`` (written when a card is
        accepted) and ``{"carrier", "called_back": id}`` (its final callback acknowledged), and
        may hold the plain ``carrier:serial`` lines of older versions (a consumed card). A
        consumption whose callback was never acknowledged is called back again: the platform
        records a duplicate once.
        """
        if self._state_path is None or not self._state_path.exists():
            return
        prefix = f"{self.carrier.value}:"
        called_back: set[str] = set()
        for line in self._state_path.read_text(encoding="utf-8").splitlines():
            if line.startswith(prefix):
                self._consumed.add(line.removeprefix(prefix))
                continue
            entry = self._state_entry(line)
            if entry is None:
                continue
            if "called_back" in entry:
                called_back.add(str(entry["called_back"]))
            elif isinstance(entry.get("consumption"), dict):
                record = Consumption.from_state(entry["consumption"], self._initial_switches)
                self._consumptions[record.consumption_id] = record
                if record.outcome is ConsumptionStatus.SUCCEEDED:
                    self._consumed.add(record.serial)
        refs = [int(r.channel_ref[-12:]) for r in self._consumptions.values()]
        self._refs = itertools.count(max(refs, default=0) + 1)
        for record in self._consumptions.values():
            record.called_back = record.consumption_id in called_back
            if not record.called_back:
                self._dispatcher.schedule(0, partial(self._complete, record), ordered=False)

    def _state_entry(self, line: str) -> dict[str, Any] | None:
        """A JSON line of this carrier's, or None (another carrier's, or cut short by a kill
        mid-write)."""
        try:
            entry = json.loads(line)
        except ValueError:
            return None
        if not isinstance(entry, dict) or entry.get("carrier") != self.carrier.value:
            return None
        return entry

    def _write_state(self, entry: dict[str, Any]) -> None:
        """Append one line to the state file (holds the lock). Flushed at once: a process killed
        right after keeps it (the kernel has it); a power cut is not a sandbox's concern."""
        if self._state_path is None:
            return
        if self._state_file is None:
            self._state_path.parent.mkdir(parents=True, exist_ok=True)
            self._state_file = self._state_path.open("a", encoding="utf-8")
        line = json.dumps({"carrier": self.carrier.value, **entry}, ensure_ascii=False)
        self._state_file.write(line + "\n")
        self._state_file.flush()


def _ack(*, accepted: bool, channel_ref: str | None, reason: str | None) -> dict[str, Any]:
    return {"accepted": accepted, "channel_ref": channel_ref, "reason": reason}
