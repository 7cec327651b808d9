"""The wire format of a carrier channel: endpoint paths and the result document.

Shared by the HTTP gateway (which reads results) and the sandboxes (which write them).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from huafei.carriers.errors import MalformedCallback
from huafei.carriers.gateway import ConsumptionResult, ConsumptionStatus
from huafei.core.clock import utc

SUBMIT_PATH = "/consumptions"
QUERY_PATH = "/consumptions/query"
PASSWORD_PATH = "/service-password/check"  # noqa: S105 - a URL path, not a password
CALLBACK_PATH = "/callbacks/carriers/{carrier}"


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


def optional_time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return utc(datetime.fromisoformat(str(value)))
    except ValueError:
        raise MalformedCallback("occurred_at is not an ISO 8601 time") from None
