"""The contract every carrier channel implements (real gateways and the sandboxes alike).

Consumption of a recharge card is asynchronous: ``submit_consumption`` answers at once whether the
channel accepted the card; the result arrives later as a signed HTTP callback to the platform
(``POST /callbacks/carriers/{carrier}``), and can also be asked for with ``query_consumption``.

Callback wire format (what a channel sends and the platform verifies):

* body: JSON ``{"notification_id", "consumption_id", "channel_ref", "status",
  "actual_face_value_fen", "reason", "occurred_at"}``;
* headers: ``X-Carrier-Timestamp`` (unix seconds) and ``X-Carrier-Signature`` =
  hex HMAC-SHA256 over ``f"{timestamp}.{raw body}"`` with the channel's shared secret;
* the platform answers ``200`` with the plain-text body ``SUCCESS`` once it has durably recorded
  the notification (a duplicate is answered the same way); anything else makes the channel retry.

The prepaid balance (话费余额) of a number is served synchronously:

* ``query_balance`` — a number's balance in fen, authorised by its service password (服务密码);
* ``transfer_balance`` — 话费转赠: move fen from one number (authorised by its service password)
  to another number of the same carrier, idempotent on the caller's ``transfer_id``;
* ``direct_topup`` — 直充: credit fen to any number of the carrier, idempotent on ``topup_id``;
* ``query_topup`` — the top-up the channel made under a ``topup_id``, if any (for an answer that
  was lost: ask before sending again).
* ``send_verification_code`` / ``verify_code`` — the carrier texts a code to a number (after
  checking its service password) and confirms it: the holder of the number is present;
* ``query_transfer`` — a transfer by the caller's ``transfer_id``, for an answer that was lost.

A channel that answers but says no raises a ``ChannelRefused`` subclass (nothing moved; a retry
with the same id is evaluated afresh); a channel that fails or does not answer raises
``GatewayError`` / ``GatewayTimeout`` (a timed-out transfer or top-up may have happened: retry it
with the same id, which answers the first result instead of moving money twice).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from huafei.core.errors import HuafeiError


class Carrier(enum.StrEnum):
    CMCC = "cmcc"
    """China Mobile 中国移动"""
    CUCC = "cucc"
    """China Unicom 中国联通"""
    CTCC = "ctcc"
    """China Telecom 中国电信"""


class ConsumptionStatus(enum.StrEnum):
    PROCESSING = "processing"
    """Accepted, no result yet."""
    SUCCEEDED = "succeeded"
    """Consumed; ``actual_face_value_fen`` says what the card was really worth."""
    WRONG_PIN = "wrong_pin"
    USED = "used"
    """Already consumed before (by anyone)."""
    EXPIRED = "expired"
    REJECTED = "rejected"
    """Any other refusal (product paused, rule violation); ``reason`` says which."""
    UNKNOWN = "unknown"
    """The channel has never heard of this consumption id."""

    @property
    def final(self) -> bool:
        return self not in (ConsumptionStatus.PROCESSING, ConsumptionStatus.UNKNOWN)


@dataclass(frozen=True, slots=True)
class ConsumptionRequest:
    consumption_id: str
    """Our id for this attempt; the channel is idempotent on it."""
    carrier: Carrier
    face_value_fen: int
    serial: str
    pin: str = field(repr=False)
    """Plain only in memory on its way to the channel; kept out of ``repr`` (and so of logs)."""
    callback_url: str


@dataclass(frozen=True, slots=True)
class ConsumptionAck:
    accepted: bool
    channel_ref: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ConsumptionResult:
    consumption_id: str
    status: ConsumptionStatus
    channel_ref: str | None = None
    actual_face_value_fen: int | None = None
    reason: str | None = None
    notification_id: str | None = None
    occurred_at: datetime | None = None
    """When the channel says the state was reached (orders callbacks that arrive out of order)."""


class GatewayError(HuafeiError):
    code = "carrier_gateway_error"
    status = 502
    title = "The carrier channel failed"


class GatewayTimeout(GatewayError):
    """The request may or may not have reached the channel: query before retrying."""

    code = "carrier_gateway_timeout"
    status = 504
    title = "The carrier channel did not answer in time"


@dataclass(frozen=True, slots=True)
class BalanceTransferRequest:
    """话费转赠: move ``amount_fen`` from ``from_phone`` to ``to_phone`` of the same carrier."""

    transfer_id: str
    """Our id for this transfer; the channel is idempotent on it."""
    # Phone numbers are personal data and passwords secrets: both kept out of ``repr`` (and logs).
    from_phone: str = field(repr=False)
    to_phone: str = field(repr=False)
    amount_fen: int
    service_password: str = field(repr=False)
    """``from_phone``'s service password (服务密码), which authorises the debit."""


@dataclass(frozen=True, slots=True)
class BalanceTransferResult:
    transfer_id: str
    channel_ref: str
    from_phone: str = field(repr=False)
    to_phone: str = field(repr=False)
    amount_fen: int
    from_balance_fen: int
    """The sender's balance right after the transfer (a replay repeats the first answer)."""
    completed_at: datetime


@dataclass(frozen=True, slots=True)
class TopUpRequest:
    """直充: credit ``amount_fen`` to ``phone``; the amount is one the carrier sells."""

    topup_id: str
    """Our id for this top-up; the channel is idempotent on it."""
    phone: str = field(repr=False)
    amount_fen: int


@dataclass(frozen=True, slots=True)
class TopUpResult:
    topup_id: str
    channel_ref: str
    phone: str = field(repr=False)
    amount_fen: int
    completed_at: datetime


#: Each refusal by its code on the wire; every subclass of ``ChannelRefused`` adds itself.
REFUSALS: dict[str, type[ChannelRefused]] = {}


@dataclass(frozen=True, slots=True)
class CodeRequest:
    """Ask the carrier to text a verification code to ``phone``, authorised by its service
    password; idempotent on ``request_id`` (a repeat texts nothing more)."""

    request_id: str
    phone: str = field(repr=False)
    service_password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class CodeSent:
    request_id: str
    expires_at: datetime
    """The code is accepted until then."""


class ChannelRefused(HuafeiError):
    """The channel answered and refused the operation: nothing moved.

    ``reason`` is the refusal's code on the wire (docs/sandboxes.md); each subclass has its own.
    A refusal is not remembered under the request's id, so a retry is evaluated afresh.
    """

    code = "carrier_refused"
    status = 422
    title = "The carrier refused the operation"
    reason: ClassVar[str] = "refused"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        REFUSALS[cls.reason] = cls


REFUSALS[ChannelRefused.reason] = ChannelRefused


class WrongServicePassword(ChannelRefused):
    code = "carrier_wrong_service_password"
    title = "The service password does not match the number"
    reason = "wrong_service_password"


class UnknownNumber(ChannelRefused):
    code = "carrier_unknown_number"
    title = "The carrier has no such number"
    reason = "unknown_number"


class NumberOfAnotherCarrier(ChannelRefused):
    code = "carrier_number_of_another_carrier"
    title = "The number belongs to another carrier"
    reason = "another_carrier"


class SameNumber(ChannelRefused):
    code = "carrier_transfer_to_same_number"
    title = "A number cannot transfer balance to itself"
    reason = "same_number"


class InsufficientBalance(ChannelRefused):
    code = "carrier_insufficient_balance"
    title = "The number's balance is too low for this transfer"
    reason = "insufficient_balance"


class InvalidAmount(ChannelRefused):
    code = "carrier_invalid_amount"
    title = "The carrier does not accept this amount"
    reason = "invalid_amount"


class RequestIdReused(ChannelRefused):
    """The id was used before for a different operation; the channel keeps the first."""

    code = "carrier_request_id_reused"
    status = 409
    title = "The id was already used for a different operation"
    reason = "id_reused"


class UnknownRequest(ChannelRefused):
    """A query names an id the channel made nothing under (never received, or refused: a
    refusal is not remembered)."""

    code = "carrier_request_not_found"
    status = 404
    title = "The channel has no record of this id"
    reason = "not_found"


class WrongVerificationCode(ChannelRefused):
    code = "carrier_wrong_verification_code"
    title = "The verification code is not the one the carrier sent"
    reason = "wrong_code"


class VerificationCodeExpired(ChannelRefused):
    """Expired, used up by wrong guesses, or never sent under that request id."""

    code = "carrier_verification_code_expired"
    title = "The verification code has expired; ask for a new one"
    reason = "code_expired"


class MonthlyLimitExceeded(ChannelRefused):
    code = "carrier_monthly_transfer_limit"
    title = "The number has reached the carrier's monthly transfer limit"
    reason = "monthly_limit"


class BadCallbackSignature(HuafeiError):
    code = "bad_callback_signature"
    status = 401
    title = "The callback's signature or timestamp is not valid"


class CarrierGateway(Protocol):
    carrier: Carrier

    def submit_consumption(self, request: ConsumptionRequest) -> ConsumptionAck:
        """Hand a card to the channel. Raises ``GatewayTimeout`` / ``GatewayError``."""
        ...

    def query_consumption(self, consumption_id: str) -> ConsumptionResult:
        """Ask for the state of a consumption (for lost callbacks)."""
        ...

    def parse_callback(self, headers: dict[str, str], body: bytes) -> ConsumptionResult:
        """Verify a callback's signature and timestamp window and decode it.

        Raises ``BadCallbackSignature``.
        """
        ...

    def check_service_password(self, phone: str, password: str) -> bool:
        """Whether ``password`` is the service password (服务密码) of ``phone``."""
        ...

    def query_balance(self, phone: str, service_password: str) -> int:
        """The prepaid balance (话费余额) of ``phone`` in fen.

        Raises ``WrongServicePassword``, ``UnknownNumber``, ``NumberOfAnotherCarrier`` (a number
        this channel does not serve), ``GatewayTimeout`` / ``GatewayError``.
        """
        ...

    def transfer_balance(self, request: BalanceTransferRequest) -> BalanceTransferResult:
        """话费转赠, answered synchronously; idempotent on ``request.transfer_id``.

        The same id with the same content answers the first result and moves nothing more; with
        other content it raises ``RequestIdReused``. Raises ``WrongServicePassword``,
        ``UnknownNumber``, ``NumberOfAnotherCarrier`` (either number not of this carrier),
        ``SameNumber``, ``InsufficientBalance``, ``InvalidAmount`` (not positive), and
        ``GatewayTimeout`` (may have happened: retry with the same id) / ``GatewayError``.
        """
        ...

    def direct_topup(self, request: TopUpRequest) -> TopUpResult:
        """直充, answered synchronously; idempotent on ``request.topup_id`` like transfers.

        Raises ``InvalidAmount`` (not an amount the carrier sells), ``UnknownNumber``,
        ``NumberOfAnotherCarrier``, ``RequestIdReused``, ``GatewayTimeout`` / ``GatewayError``.
        """
        ...

    def query_topup(self, topup_id: str) -> TopUpResult | None:
        """The top-up made under ``topup_id`` (its first answer, as a retry would get it), or
        None when the channel made none: it never received the request, or refused it (a
        refusal moved nothing and is not remembered). Raises ``GatewayTimeout`` /
        ``GatewayError``.
        """
        ...

    def query_transfer(self, transfer_id: str) -> BalanceTransferResult | None:
        """The transfer made under ``transfer_id`` (its first answer), or None when the channel
        never carried one out under it (never received, or refused: a refusal is not kept).

        Raises ``GatewayTimeout`` / ``GatewayError``.
        """
        ...

    def send_verification_code(self, request: CodeRequest) -> CodeSent:
        """The carrier texts a verification code to ``request.phone`` (its own SMS, not ours).

        Raises ``WrongServicePassword``, ``UnknownNumber``, ``NumberOfAnotherCarrier``,
        ``RequestIdReused`` (the id was used for another number), ``GatewayTimeout`` /
        ``GatewayError``.
        """
        ...

    def verify_code(self, request_id: str, phone: str, code: str) -> None:
        """Confirm the code texted under ``request_id``; answered again for a code confirmed.

        Raises ``WrongVerificationCode``, ``VerificationCodeExpired``, ``GatewayTimeout`` /
        ``GatewayError``.
        """
        ...
