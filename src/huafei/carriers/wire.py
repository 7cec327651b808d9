"""The wire format of a carrier channel: endpoint paths and the documents it answers.

Shared by the HTTP gateway (which reads them) and the sandboxes (which write them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from huafei.carriers.errors import MalformedCallback
from huafei.carriers.gateway import (
    REFUSALS,
    BalanceTransferResult,
    ChannelRefused,
    CodeSent,
    ConsumptionResult,
    ConsumptionStatus,
    TopUpResult,
)
from huafei.core.clock import utc

SUBMIT_PATH = "/consumptions"
QUERY_PATH = "/consumptions/query"
PASSWORD_PATH = "/service-password/check"  # noqa: S105 - a URL path, not a password
CALLBACK_PATH = "/callbacks/carriers/{carrier}"
BALANCE_QUERY_PATH = "/balance/query"
TRANSFER_PATH = "/balance/transfers"
TOPUP_PATH = "/topups"
TOPUP_QUERY_PATH = "/topups/query"
TRANSFER_QUERY_PATH = "/balance/transfers/query"
CODE_SEND_PATH = "/balance/codes"
CODE_VERIFY_PATH = "/balance/codes/verify"


def decode_result(data: Mapping[str, Any]) -> ConsumptionResult:
    """A consumption result in the wire format (callback body or query answer)."""
    consumption_id = data.get("consumption_id")
    if not isinstance(consumption_id, str) or not consumption_id:
        raise MalformedCallback("consumption_id is missing")
    try:
        status = ConsumptionStatus(str(data.get("status")))
    except ValueError:
        raise MalformedCallback("status is not a known consumption status") from None
    face = data.get("actual_face_value_fen")
    if face is not None and (not isinstance(face, int) or isinstance(face, bool) or face < 0):
        raise MalformedCallback("actual_face_value_fen must be a non-negative integer")
    if status is ConsumptionStatus.SUCCEEDED and face is None:
        raise MalformedCallback("a success names the actual face value")
    return ConsumptionResult(
        consumption_id=consumption_id,
        status=status,
        channel_ref=optional_str(data.get("channel_ref")),
        actual_face_value_fen=face,
        reason=optional_str(data.get("reason")),
        notification_id=optional_str(data.get("notification_id")),
        occurred_at=optional_time(data.get("occurred_at")),
    )


def encode_result(result: ConsumptionResult) -> dict[str, Any]:
    """The wire form of a result (what a channel sends; the inverse of ``decode_result``)."""
    return {
        "notification_id": result.notification_id,
        "consumption_id": result.consumption_id,
        "channel_ref": result.channel_ref,
        "status": result.status.value,
        "actual_face_value_fen": result.actual_face_value_fen,
        "reason": result.reason,
        "occurred_at": result.occurred_at.isoformat() if result.occurred_at else None,
    }


def optional_str(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedCallback("a text field holds something else")
    return value[:200]


def optional_time(value: Any, name: str = "occurred_at") -> datetime | None:
    if value is None:
        return None
    try:
        return utc(datetime.fromisoformat(str(value)))
    except ValueError:
        raise MalformedCallback(f"{name} is not an ISO 8601 time") from None


# -- balance operations ---------------------------------------------------------------------------
# Each answer is ``{"ok": true, …}`` or a refusal ``{"ok": false, "reason", "message"}``, both with
# HTTP 200: a refusal is the channel's verdict, not a failure of the channel.


def encode_refusal(error: ChannelRefused, message: str) -> dict[str, Any]:
    # A refusal of a reason this code has no class for carries it in ``extra``.
    reason = error.extra.get("reason") or error.reason
    return {"ok": False, "reason": reason, "message": message}


def refusal(data: Mapping[str, Any]) -> ChannelRefused | None:
    """The refusal an answer carries, or None when it is a success."""
    ok = data.get("ok")
    if ok is True:
        return None
    if ok is not False:
        raise MalformedCallback("ok must be true or false")
    reason = optional_str(data.get("reason")) or ChannelRefused.reason
    error = REFUSALS.get(reason)
    if error is None:
        # A reason this platform does not know yet is still a refusal: nothing moved.
        return ChannelRefused(reason=reason)
    return error()


def encode_transfer(result: BalanceTransferResult) -> dict[str, Any]:
    return _encode_success(result)


def decode_transfer(data: Mapping[str, Any]) -> BalanceTransferResult:
    return BalanceTransferResult(**_decode_fields(data, _TRANSFER_FIELDS))


def encode_topup(result: TopUpResult) -> dict[str, Any]:
    return _encode_success(result)


def decode_topup(data: Mapping[str, Any]) -> TopUpResult:
    return TopUpResult(**_decode_fields(data, _TOPUP_FIELDS))


def encode_transfer_query(result: BalanceTransferResult | None, transfer_id: str) -> dict[str, Any]:
    """A transfer query's answer: ``{"ok": true, "found": true, …the transfer}`` or
    ``{"ok": true, "found": false, "transfer_id"}``."""
    if result is None:
        return {"ok": True, "found": False, "transfer_id": transfer_id}
    return {**_encode_success(result), "found": True}


def decode_transfer_query(data: Mapping[str, Any]) -> BalanceTransferResult | None:
    found = data.get("found")
    if not isinstance(found, bool):
        raise MalformedCallback("found must be true or false")
    return decode_transfer(data) if found else None


def encode_code_sent(sent: CodeSent) -> dict[str, Any]:
    return {"ok": True, "request_id": sent.request_id, "expires_at": sent.expires_at.isoformat()}


def decode_code_sent(data: Mapping[str, Any]) -> CodeSent:
    return CodeSent(
        request_id=required_str(data, "request_id"), expires_at=required_time(data, "expires_at")
    )


def _encode_success(result: BalanceTransferResult | TopUpResult) -> dict[str, Any]:
    """``{"ok": true, …}`` with every field of the result, times in ISO 8601."""
    document: dict[str, Any] = {"ok": True}
    for item in fields(result):
        value = getattr(result, item.name)
        document[item.name] = value.isoformat() if isinstance(value, datetime) else value
    return document


def _decode_fields(
    data: Mapping[str, Any], decoders: Mapping[str, Callable[[Mapping[str, Any], str], Any]]
) -> dict[str, Any]:
    """Each field read by its decoder, in order (the first bad one is named)."""
    return {name: decode(data, name) for name, decode in decoders.items()}


def fen(data: Mapping[str, Any], name: str) -> int:
    """A non-negative integer amount in fen (never a float, never a string)."""
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedCallback(f"{name} must be a non-negative integer")
    return value


def required_str(data: Mapping[str, Any], name: str) -> str:
    value = optional_str(data.get(name))
    if not value:
        raise MalformedCallback(f"{name} is missing")
    return value


def required_time(data: Mapping[str, Any], name: str) -> datetime:
    value = optional_time(data.get(name), name)
    if value is None:
        raise MalformedCallback(f"{name} is missing")
    return value


#: How each field of a balance answer is read (the order of the result's fields).
_TRANSFER_FIELDS = {
    "transfer_id": required_str,
    "channel_ref": required_str,
    "from_phone": required_str,
    "to_phone": required_str,
    "amount_fen": fen,
    "from_balance_fen": fen,
    "completed_at": required_time,
}
_TOPUP_FIELDS = {
    "topup_id": required_str,
    "channel_ref": required_str,
    "phone": required_str,
    "amount_fen": fen,
    "completed_at": required_time,
}
