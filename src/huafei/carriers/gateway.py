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
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

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
