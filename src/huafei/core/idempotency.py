"""Idempotency keys for money-moving requests: the same key and body get the first response.

The key row is inserted (insert-or-ignore) in the same transaction as the work it protects, so
a request that fails leaves no key behind and a retry runs again; a request that succeeded is
answered from the stored response. The same key with a different body is a conflict.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from huafei.core.db import Base, BigIntPK, UTCDateTime, insert_ignoring_conflicts
from huafei.core.errors import Conflict, ValidationFailed

MAX_KEY_LENGTH = 80


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    #: whose key it is (``seller:42``) and for which operation, so keys never collide
    scope: Mapped[str] = mapped_column(String(160))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response_body: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IdempotencyKeyMissing(ValidationFailed):
    code = "idempotency_key_missing"
    status = 400
    title = "An Idempotency-Key header is required"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used for a different request"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: Any


def request_hash(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim_key(
    session: Session, *, scope: str, key: str | None, body: Any, now: datetime
) -> StoredResponse | None:
    """Reserve ``key`` for this request, or return the response stored for it.

    Returns None when the caller should do the work (then call ``store_response``).
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyMissing(
            f"send an Idempotency-Key header of 1 to {MAX_KEY_LENGTH} characters"
        )
    digest = request_hash(body)
    inserted = insert_ignoring_conflicts(
        session,
        IdempotencyKey.__table__,
        [
            {
                "scope": scope,
                "key": key,
                "request_hash": digest,
                "status_code": None,
                "response_body": None,
                "created_at": now,
            }
        ],
    )
    if inserted:
        return None
    row = session.execute(
        select(
            IdempotencyKey.request_hash, IdempotencyKey.status_code, IdempotencyKey.response_body
        ).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    ).one()
    if row.request_hash != digest or row.status_code is None:
        raise IdempotencyKeyReused(
            "the Idempotency-Key was already used with another request body", key=key
        )
    return StoredResponse(row.status_code, json.loads(row.response_body or "null"))


def store_response(session: Session, *, scope: str, key: str, status_code: int, body: Any) -> None:
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        .values(status_code=status_code, response_body=json.dumps(body, ensure_ascii=False))
    )
