"""Idempotency keys with Stripe's semantics for every money-moving request.

The first request with a key runs and its response (success or business error) is stored in the
same transaction as its effects. Of a refusal only the problem document itself is stored — its
standard members and scalar fields, not the lists it may carry (a refused batch's 5,000 line
verdicts): a retry learns the same status, code and detail; the full list is in the first
answer, and ``/orders/validate`` gives it again.

A retry with the same key and the same request gets that response again; the same key with a
different request is refused with 409. Two first requests racing with one key: the database's
unique index lets one commit; the other's work is rolled back and it answers with the winner's
stored response.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huafei.core.clock import Clock
from huafei.core.db import Database
from huafei.core.errors import HuafeiError
from huafei.core.models import IdempotencyRecord

MAX_KEY_LENGTH = 255
#: Visible ASCII, as HTTP carries it unchanged (a UUID, a random token).
KEY_PATTERN = r"^[!-~]+$"


class IdempotencyKeyRequired(HuafeiError):
    code = "idempotency_key_required"
    status = 400
    title = "This request moves money and needs an Idempotency-Key header"


class IdempotencyKeyReused(HuafeiError):
    code = "idempotency_key_reused"
    status = 409
    title = "This Idempotency-Key was used for a different request"


@dataclass(frozen=True, slots=True)
class IdempotentResponse:
    status_code: int
    body: Any
    replayed: bool


#: The longest text field of a stored refusal (a detail naming what was wrong).
_STORED_TEXT = 1000


def stored_problem(problem: dict[str, Any]) -> dict[str, Any]:
    """What a refusal's record keeps: the problem's scalar members (``type``, ``code``,
    ``status``, ``detail`` … and scalar extras such as a changed fee), not its lists or maps."""
    kept: dict[str, Any] = {}
    for name, value in problem.items():
        if isinstance(value, str):
            kept[name] = value[:_STORED_TEXT]
        elif value is None or isinstance(value, bool | int | float):
            kept[name] = value
    return kept


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, ensure_ascii=False)
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def run_idempotent(
    db: Database,
    clock: Clock,
    *,
    principal: str,
    key: str | None,
    method: str,
    path: str,
    body: bytes,
    handler: Callable[[Session], tuple[int, Any]],
) -> IdempotentResponse:
    """Run ``handler`` once per (principal, key); replay its stored response afterwards.

    ``handler`` returns ``(status_code, json_body)``. A ``HuafeiError`` it raises is stored as
    the problem response (its effects rolled back) and raised again on replays as the same
    problem, so a client retrying a refused request sees the same refusal.
    """
    if not key:
        raise IdempotencyKeyRequired
    if len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyRequired(f"the key is longer than {MAX_KEY_LENGTH} characters")
    run = _KeyedRequest(
        clock,
        principal=principal,
        key=key,
        method=method,
        path=path,
        fingerprint=request_fingerprint(method, path, body),
    )
    try:
        return db.run(lambda session: run.first_or_replay(session, handler))
    except IntegrityError:
        # Another request with this key committed first: answer as its retry would be answered.
        record = db.run(run.stored)
        if record is None:
            raise
        return db.run(lambda _session: run.replay(record))


@dataclass(frozen=True, slots=True)
class _KeyedRequest:
    """One request with its key: run for the first time, or answered from its record."""

    clock: Clock
    principal: str
    key: str
    method: str
    path: str
    fingerprint: str

    def stored(self, session: Session) -> IdempotencyRecord | None:
        return session.scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == self.principal, IdempotencyRecord.key == self.key
            )
        ).one_or_none()

    def replay(self, record: IdempotencyRecord) -> IdempotentResponse:
        if record.request_hash != self.fingerprint:
            raise IdempotencyKeyReused(
                f"key {self.key!r} was first used for {record.method} {record.path} "
                "with another body"
            )
        return IdempotentResponse(
            record.status_code, json.loads(record.response_body), replayed=True
        )

    def first_or_replay(
        self, session: Session, handler: Callable[[Session], tuple[int, Any]]
    ) -> IdempotentResponse:
        record = self.stored(session)
        if record is not None:
            return self.replay(record)
        try:
            with session.begin_nested():
                status_code, payload = handler(session)
            kept = payload
        except HuafeiError as error:
            status_code, payload = error.status, error.to_problem(instance=self.path)
            kept = stored_problem(payload)
        session.add(
            IdempotencyRecord(
                principal=self.principal,
                key=self.key,
                method=self.method,
                path=self.path,
                request_hash=self.fingerprint,
                status_code=status_code,
                response_body=json.dumps(kept, ensure_ascii=False, default=str),
                created_at=self.clock.now(),
            )
        )
        session.flush()
        return IdempotentResponse(status_code, payload, replayed=False)
