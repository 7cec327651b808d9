"""The operation log: who did what, when and from where (staff actions and auth events).

Rows are appended in the same transaction as the change they describe; the table refuses UPDATE
and DELETE. ``detail`` must never hold personal data: masked values and ids only.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.identity.models import OperationLogEntry


class ActorKind(enum.StrEnum):
    """Who did something recorded in the operation log."""

    ANONYMOUS = "anonymous"
    SELLER = "seller"
    STAFF = "staff"
    PARTNER = "partner"
    SYSTEM = "system"
    """The CLI, a job."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted, as the operation log records it: kind, label, id and where from."""

    kind: ActorKind
    label: str
    id: int | None = None
    origin: Origin = field(default_factory=Origin)

    @classmethod
    def anonymous(cls, origin: Origin) -> Actor:
        """Someone not signed in, known only by where the request came from."""
        return cls(ActorKind.ANONYMOUS, "anonymous", None, origin)

    @classmethod
    def system(cls, label: str, origin: Origin | None = None) -> Actor:
        """The platform itself (the CLI, a job), named by ``label``."""
        return cls(ActorKind.SYSTEM, label, None, origin or Origin())


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    now: datetime,
    target: str | None = None,
    outcome: str = "ok",
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append one entry. ``action`` is a stable dotted name (docs/identity.md lists them)."""
    origin = actor.origin
    session.add(
        OperationLogEntry(
            occurred_at=now,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            actor_label=actor.label[:80],
            action=action,
            target=target,
            outcome=outcome,
            ip=origin.ip[:45] if origin.ip else None,
            user_agent=origin.user_agent[:200] if origin.user_agent else None,
            request_id=origin.request_id,
            detail=json.dumps(dict(detail or {}), sort_keys=True, ensure_ascii=False),
        )
    )
    session.flush()


def read_log(
    session: Session,
    *,
    limit: int = 100,
    before_id: int | None = None,
    action: str | None = None,
    actor_kind: str | None = None,
    actor_id: int | None = None,
) -> list[OperationLogEntry]:
    """Newest first; page with ``before_id``."""
    query = select(OperationLogEntry).order_by(OperationLogEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(OperationLogEntry.id < before_id)
    if action is not None:
        query = query.where(OperationLogEntry.action == action)
    if actor_kind is not None:
        query = query.where(OperationLogEntry.actor_kind == actor_kind)
    if actor_id is not None:
        query = query.where(OperationLogEntry.actor_id == actor_id)
    return list(session.scalars(query))
