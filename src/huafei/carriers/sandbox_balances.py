"""A carrier sandbox's balances (话费余额): queries, transfers (话费转赠) and top-ups (直充),
and the verification codes the carrier texts to a number before a transfer.

They start from ``TEST_NUMBERS`` (and the platform's ``RECEIVING_NUMBERS`` at 0), are answered
synchronously, idempotent on the caller's id, and kept in memory until ``reset``
(docs/sandboxes.md). Transfers out of one number are capped per Beijing calendar month
(``monthly_transfer_limit_fen``); the switches can refuse every transfer.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from huafei.carriers.formats import face_values_fen
from huafei.carriers.gateway import (
    BalanceTransferResult,
    Carrier,
    ChannelRefused,
    CodeSent,
    InsufficientBalance,
    InvalidAmount,
    MonthlyLimitExceeded,
    NumberOfAnotherCarrier,
    RequestIdReused,
    SameNumber,
    TopUpResult,
    UnknownNumber,
    VerificationCodeExpired,
    WrongServicePassword,
    WrongVerificationCode,
)
from huafei.carriers.sandbox_numbers import (
    RECEIVING_NUMBERS,
    TEST_NUMBERS,
    carrier_of,
    sandbox_number,
)
from huafei.carriers.sandbox_records import SandboxSwitches
from huafei.core.clock import Clock
from huafei.core.days import BEIJING

log = logging.getLogger(__name__)

#: How long a texted code is accepted, and how many wrong guesses use it up.
CODE_TTL = timedelta(minutes=5)
CODE_MAX_ATTEMPTS = 5


@dataclass
class TextedCode:
    """A verification code the carrier texted (the sandbox's outbox keeps them)."""

    request_id: str
    phone: str
    code: str
    sent_at: datetime
    expires_at: datetime
    attempts: int = 0
    confirmed: bool = False

    def to_control(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "phone": self.phone,
            "code": self.code,
            "text": f"【话费转赠】验证码 {self.code}，5 分钟内有效。请勿告诉他人。",
            "sent_at": self.sent_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "confirmed": self.confirmed,
        }


Answer = TypeVar("Answer", BalanceTransferResult, TopUpResult)


def _first_answer(
    answers: dict[str, tuple[str, Answer]], request_id: str, fingerprint: str
) -> Answer | None:
    """The answer remembered for ``request_id``, None if there is none; ``RequestIdReused`` when
    it was given to another request (holds the lock)."""
    remembered = answers.get(request_id)
    if remembered is None:
        return None
    if remembered[0] != fingerprint:
        raise RequestIdReused
    return remembered[1]


class BalanceBook:
    """One carrier's numbers and their balances; ``next_ref`` names an operation
    (``ZZ`` a transfer, ``CZ`` a top-up) in the channel's one sequence of references."""

    def __init__(
        self,
        carrier: Carrier,
        *,
        clock: Clock,
        next_ref: Callable[[str], str],
        rules: Callable[[], SandboxSwitches] = SandboxSwitches,
        secret: str = "",
    ) -> None:
        self.carrier = carrier
        #: the sandbox secret the derived numbers' passwords come from (``derived_number``)
        self._secret = secret
        self.clock = clock
        self._next_ref = next_ref
        self._rules = rules
        self._lock = threading.Lock()
        self._balances = self._initial_balances()
        # id → (fingerprint of the request, the first answer): successes only, see ``transfer``.
        self._transfers: dict[str, tuple[str, BalanceTransferResult]] = {}
        self._topups: dict[str, tuple[str, TopUpResult]] = {}
        #: (number, Beijing month) → fen transferred out of it that month
        self._sent: dict[tuple[str, str], int] = {}
        self._codes: dict[str, TextedCode] = {}

    @property
    def balances(self) -> dict[str, int]:
        """Every number this channel holds a balance for (test numbers and topped-up ones)."""
        with self._lock:
            return dict(self._balances)

    def reset(self) -> None:
        """Back to the initial balances, forgetting transfers and top-ups."""
        with self._lock:
            self._balances = self._initial_balances()
            self._transfers.clear()
            self._topups.clear()
            self._sent.clear()
            self._codes.clear()

    @property
    def outbox(self) -> list[dict[str, object]]:
        """Every code the carrier texted, newest first (what a phone would have received)."""
        with self._lock:
            return [code.to_control() for code in reversed(self._codes.values())]

    def check_service_password(self, phone: str, password: str) -> bool:
        """A test (or derived) number of this carrier with its service password
        (docs/sandboxes.md)."""
        number = sandbox_number(self._secret, phone)
        if number is None or number.carrier is not self.carrier:
            return False
        return _same(number.service_password, password)

    def query_balance(self, phone: str, service_password: str) -> int:
        """A number's balance in fen; raises a ``ChannelRefused`` (docs/sandboxes.md)."""
        with self._lock:
            self._authorise(phone, service_password)
            return self._balances[phone]

    def transfer(
        self,
        *,
        transfer_id: str,
        from_phone: str,
        to_phone: str,
        amount_fen: int,
        service_password: str,
    ) -> BalanceTransferResult:
        """话费转赠, idempotent on ``transfer_id``; raises a ``ChannelRefused``.

        The password is checked on every call, replays included: the answer shows the sender's
        balance, which only the password's holder may see. Only successes are remembered, so a
        refused transfer retried with the same id is evaluated afresh (a refusal moved nothing).
        """
        fingerprint = f"{from_phone}>{to_phone}:{amount_fen}"
        with self._lock:
            if amount_fen <= 0:
                raise InvalidAmount
            self._authorise(from_phone, service_password)
            first = _first_answer(self._transfers, transfer_id, fingerprint)
            if first is not None:
                return first
            self._require_own_number(to_phone)
            if to_phone == from_phone:
                raise SameNumber
            balance = self._balances[from_phone]
            if balance < amount_fen:
                raise InsufficientBalance
            month = self._check_rules(from_phone, amount_fen)
            self._sent[month] = self._sent.get(month, 0) + amount_fen
            self._balances[from_phone] = balance - amount_fen
            self._balances[to_phone] = self._balances.get(to_phone, 0) + amount_fen
            result = BalanceTransferResult(
                transfer_id=transfer_id,
                channel_ref=self._next_ref("ZZ"),
                from_phone=from_phone,
                to_phone=to_phone,
                amount_fen=amount_fen,
                from_balance_fen=balance - amount_fen,
                completed_at=self.clock.now(),
            )
            self._transfers[transfer_id] = (fingerprint, result)
        self._log("sandbox transferred balance", result.channel_ref)
        return result

    def query_transfer(self, transfer_id: str) -> BalanceTransferResult | None:
        """The transfer carried out under ``transfer_id``, or None (refusals are not kept)."""
        with self._lock:
            existing = self._transfers.get(transfer_id)
            return None if existing is None else existing[1]

    def send_code(self, *, request_id: str, phone: str, service_password: str) -> CodeSent:
        """Text a verification code to ``phone`` once its service password is right; the same
        ``request_id`` answers the first code's expiry and texts nothing more."""
        with self._lock:
            self._authorise(phone, service_password)
            texted = self._codes.get(request_id)
            if texted is not None:
                if texted.phone != phone:
                    raise RequestIdReused
                return CodeSent(request_id, texted.expires_at)
            now = self.clock.now()
            texted = TextedCode(
                request_id=request_id,
                phone=phone,
                code=f"{secrets.randbelow(10**6):06d}",
                sent_at=now,
                expires_at=now + CODE_TTL,
            )
            self._codes[request_id] = texted
        log.info("sandbox texted a verification code", extra={"carrier": self.carrier.value})
        return CodeSent(request_id, texted.expires_at)

    def verify_code(self, *, request_id: str, phone: str, code: str) -> None:
        """Confirm a texted code; a confirmed code is confirmed again (a retried answer)."""
        with self._lock:
            texted = self._codes.get(request_id)
            if texted is None or texted.phone != phone:
                raise VerificationCodeExpired
            if texted.confirmed and _same(texted.code, code):
                return
            if (
                texted.confirmed
                or texted.attempts >= CODE_MAX_ATTEMPTS
                or texted.expires_at <= self.clock.now()
            ):
                raise VerificationCodeExpired
            if not _same(texted.code, code):
                texted.attempts += 1
                raise WrongVerificationCode
            texted.confirmed = True

    def topup(self, *, topup_id: str, phone: str, amount_fen: int) -> TopUpResult:
        """直充 of an amount the carrier sells, idempotent on ``topup_id``; raises a
        ``ChannelRefused``. Any valid number of this carrier's segments can be topped up: one
        the sandbox holds no balance for starts at 0."""
        fingerprint = f"{phone}:{amount_fen}"
        with self._lock:
            first = _first_answer(self._topups, topup_id, fingerprint)
            if first is not None:
                return first
            if amount_fen not in face_values_fen(self.carrier):
                raise InvalidAmount
            self._require_own_number(phone)
            self._balances[phone] = self._balances.get(phone, 0) + amount_fen
            result = TopUpResult(
                topup_id=topup_id,
                channel_ref=self._next_ref("CZ"),
                phone=phone,
                amount_fen=amount_fen,
                completed_at=self.clock.now(),
            )
            self._topups[topup_id] = (fingerprint, result)
        self._log("sandbox topped up a number", result.channel_ref)
        return result

    def query_topup(self, topup_id: str) -> TopUpResult | None:
        """The top-up made under ``topup_id`` (its first answer), or None: never received, or
        refused (refusals are not remembered)."""
        with self._lock:
            existing = self._topups.get(topup_id)
        return None if existing is None else existing[1]

    def _log(self, message: str, channel_ref: str) -> None:
        log.info(message, extra={"carrier": self.carrier.value, "channel_ref": channel_ref})

    def _initial_balances(self) -> dict[str, int]:
        balances = dict.fromkeys(RECEIVING_NUMBERS[self.carrier], 0)
        balances.update(
            (n.phone, n.balance_fen) for n in TEST_NUMBERS.values() if n.carrier is self.carrier
        )
        return balances

    def _check_rules(self, from_phone: str, amount_fen: int) -> tuple[str, str]:
        """The switches' refusal and the monthly limit (holds the lock); returns the key of the
        sender's month."""
        rules = self._rules()
        if rules.refuse_transfers:
            raise ChannelRefused(reason=rules.refuse_transfers)
        month = (from_phone, self.clock.now().astimezone(BEIJING).strftime("%Y-%m"))
        if self._sent.get(month, 0) + amount_fen > rules.monthly_transfer_limit_fen:
            raise MonthlyLimitExceeded
        return month

    def _require_own_number(self, phone: str) -> None:
        """A valid number of this carrier (holds the lock)."""
        carrier = carrier_of(phone)
        if carrier is None:
            raise UnknownNumber
        if carrier is not self.carrier:
            raise NumberOfAnotherCarrier

    def _authorise(self, phone: str, service_password: str) -> None:
        """A number with a balance here and its service password (holds the lock). A number
        only topped up has no service password, so nothing matches it; a derived number opens
        at its starting balance on first use."""
        self._require_own_number(phone)
        number = sandbox_number(self._secret, phone)
        if phone not in self._balances:
            if number is None:
                raise UnknownNumber
            self._balances[phone] = number.balance_fen
        if number is None or not _same(number.service_password, service_password):
            raise WrongServicePassword


def _same(expected: str, given: str) -> bool:
    """A constant-time comparison of a secret with what was typed (any text)."""
    return secrets.compare_digest(expected.encode(), given.encode())
