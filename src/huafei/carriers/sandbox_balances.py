"""A carrier sandbox's balances (话费余额): queries, transfers (话费转赠) and top-ups (直充).

They start from ``TEST_NUMBERS``, are answered synchronously, idempotent on the caller's id, and
kept in memory until ``reset`` (docs/sandboxes.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from huafei.carriers.formats import face_values_fen
from huafei.carriers.gateway import (
    BalanceTransferResult,
    Carrier,
    InsufficientBalance,
    InvalidAmount,
    NumberOfAnotherCarrier,
    RequestIdReused,
    SameNumber,
    TopUpResult,
    UnknownNumber,
    WrongServicePassword,
)
from huafei.carriers.sandbox_numbers import TEST_NUMBERS, carrier_of, service_password_matches
from huafei.core.clock import Clock

log = logging.getLogger(__name__)


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

    def __init__(self, carrier: Carrier, *, clock: Clock, next_ref: Callable[[str], str]) -> None:
        self.carrier = carrier
        self.clock = clock
        self._next_ref = next_ref
        self._lock = threading.Lock()
        self._balances = self._initial_balances()
        # id → (fingerprint of the request, the first answer): successes only, see ``transfer``.
        self._transfers: dict[str, tuple[str, BalanceTransferResult]] = {}
        self._topups: dict[str, tuple[str, TopUpResult]] = {}

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

    def check_service_password(self, phone: str, password: str) -> bool:
        """A test number of this carrier with its service password (docs/sandboxes.md)."""
        number = TEST_NUMBERS.get(phone)
        if number is None or number.carrier is not self.carrier:
            return False
        return service_password_matches(phone, password)

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
        return {n.phone: n.balance_fen for n in TEST_NUMBERS.values() if n.carrier is self.carrier}

    def _require_own_number(self, phone: str) -> None:
        """A valid number of this carrier (holds the lock)."""
        carrier = carrier_of(phone)
        if carrier is None:
            raise UnknownNumber
        if carrier is not self.carrier:
            raise NumberOfAnotherCarrier

    def _authorise(self, phone: str, service_password: str) -> None:
        """A number with a balance here and its service password (holds the lock). A number
        only topped up has no service password, so nothing matches it."""
        self._require_own_number(phone)
        if phone not in self._balances:
            raise UnknownNumber
        if not service_password_matches(phone, service_password):
            raise WrongServicePassword
