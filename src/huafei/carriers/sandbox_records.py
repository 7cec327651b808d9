"""What a carrier sandbox keeps: its switches, its consumptions, its callbacks and their
deliveries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from huafei.carriers.gateway import REFUSALS, ConsumptionResult, ConsumptionStatus


class SandboxSwitches(BaseModel):
    """How the sandbox behaves; every field can be changed by tests at any time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    callback_delay_ms: int = Field(default=1500, ge=0, le=600_000)
    """How long consuming a card takes: the result is called back (and queryable) after this."""
    callback_attempts: int = Field(default=5, ge=1, le=20)
    """Deliveries of a callback the platform does not acknowledge with ``SUCCESS``."""
    callback_retry_ms: int = Field(default=200, ge=1, le=600_000)
    """First pause before redelivering; doubles after each attempt."""
    duplicate_callbacks: bool = False
    """Deliver every callback twice (same notification id, same body)."""
    stale_callback_after_final: bool = False
    """After the final callback, deliver a ``processing`` one (new id, earlier time)."""
    swap_callbacks: bool = False
    """Hold a card's callbacks until the next card's result is ready, then deliver that one
    first: results of two cards arrive swapped in time (held at most ``swap_wait_ms``)."""
    swap_wait_ms: int = Field(default=2000, ge=0, le=600_000)
    lose_callbacks: bool = False
    """Never deliver the callbacks; only a query tells the result."""
    bad_signature: bool = False
    """Sign callbacks with the wrong secret."""
    timestamp_skew_seconds: int = 0
    """Added to the callback's timestamp (e.g. -600: a stale, replayed-looking callback)."""
    slow_response_ms: int = Field(default=0, ge=0, le=600_000)
    """Every channel request does its work and then answers this late (past a client timeout
    the request may or may not have been accepted, like a real timeout)."""
    fail_status: int | None = Field(default=None, ge=500, le=599)
    """Every channel request answers this HTTP status without doing anything."""
    reject_reason: str | None = Field(default=None, max_length=200)
    """Refuse every card with status ``rejected`` and this reason (e.g. product paused)."""
    topup_refusal: str | None = None
    """Refuse every top-up (直充) with this refusal ``reason`` (e.g. ``unknown_number``: the
    number is not in service); nothing is credited."""

    @field_validator("topup_refusal")
    @classmethod
    def _known_refusal(cls, value: str | None) -> str | None:
        if value is not None and value not in REFUSALS:
            raise ValueError(f"one of {', '.join(sorted(REFUSALS))}")
        return value

    monthly_transfer_limit_fen: int = Field(default=50_000, ge=0, le=10**12)
    """话费转赠 out of one number in a Beijing calendar month at most (the official channel's
    ¥500); a transfer past it is refused ``monthly_limit``."""
    refuse_transfers: str | None = Field(default=None, min_length=1, max_length=64)
    """Refuse every balance transfer with this reason (e.g. ``risk_control``); nothing moves."""
    lose_transfer_answers: bool = False
    """Carry out each balance transfer, then answer HTTP 504 as if the answer were lost on the
    way: only a query (or a retry under the same id) tells what happened."""


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One attempt to deliver a callback, as the sandbox saw it."""

    notification_id: str
    consumption_id: str
    status: str
    attempt: int
    http_status: int | None
    error: str | None
    acknowledged: bool
    """The platform answered ``200 SUCCESS``."""


@dataclass
class Consumption:
    """A card the channel accepted, and what became of it."""

    consumption_id: str
    channel_ref: str
    fingerprint: str
    callback_url: str
    outcome: ConsumptionStatus
    actual_face_value_fen: int | None
    reason: str | None
    accepted_at: datetime
    switches: SandboxSwitches
    serial: str = ""
    status: ConsumptionStatus = ConsumptionStatus.PROCESSING
    completed_at: datetime | None = None
    called_back: bool = False
    """The final callback was acknowledged (a restarted sandbox sends the others again)."""

    def to_state(self) -> dict[str, Any]:
        """What the state file keeps of it (never the PIN: the fingerprint is a hash)."""
        return {
            "consumption_id": self.consumption_id,
            "channel_ref": self.channel_ref,
            "fingerprint": self.fingerprint,
            "callback_url": self.callback_url,
            "serial": self.serial,
            "outcome": self.outcome.value,
            "actual_face_value_fen": self.actual_face_value_fen,
            "reason": self.reason,
            "accepted_at": self.accepted_at.isoformat(),
        }

    def to_control(self) -> dict[str, Any]:
        """The control route's view (``GET …/control/consumptions``)."""
        return {
            **self.to_state(),
            "status": self.status.value,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "called_back": self.called_back,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], switches: SandboxSwitches) -> Consumption:
        """A consumption as ``to_state`` kept it, consumed by now (the sandbox was down)."""
        accepted_at = datetime.fromisoformat(str(state["accepted_at"]))
        return cls(
            consumption_id=str(state["consumption_id"]),
            channel_ref=str(state["channel_ref"]),
            fingerprint=str(state["fingerprint"]),
            callback_url=str(state["callback_url"]),
            outcome=ConsumptionStatus(state["outcome"]),
            actual_face_value_fen=state.get("actual_face_value_fen"),
            reason=state.get("reason"),
            accepted_at=accepted_at,
            switches=switches,
            serial=str(state.get("serial", "")),
            # Consumed while the sandbox was down, at the latest.
            status=ConsumptionStatus(state["outcome"]),
            completed_at=accepted_at,
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One callback to deliver (again, from its second attempt)."""

    notification_id: str
    consumption_id: str
    status: str
    body: bytes
    url: str
    switches: SandboxSwitches
    attempt: int = 1
    ordered: bool = True
    """Sent one at a time in due order (a consumption with several callbacks: duplicates, a stale
    one after the final, swapped pairs); the others go out concurrently, as a real channel's
    many senders do."""


def consumption_result(
    record: Consumption,
    status: ConsumptionStatus,
    occurred_at: datetime | None,
    *,
    notification: bool = True,
) -> ConsumptionResult:
    """The consumption in the wire's terms (a callback's, with a new notification id)."""
    final = status.final
    return ConsumptionResult(
        consumption_id=record.consumption_id,
        status=status,
        channel_ref=record.channel_ref,
        actual_face_value_fen=record.actual_face_value_fen if final else None,
        reason=record.reason if final else None,
        notification_id=uuid.uuid4().hex if notification else None,
        occurred_at=occurred_at,
    )
