"""Rows nobody reads back in the unit of work that makes them (order events, notices), written
together just before it commits.

One statement per table (``core.db.bulk_insert``) instead of the ORM's per-object bookkeeping
and multi-row ``INSERT … RETURNING``. They commit or roll back with
everything else; a reader in the same unit of work calls :func:`write_deferred` first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.orm import Session

from huafei.core.db import bulk_insert

_PENDING = "huafei.deferred_rows"


def defer_insert(session: Session, table: Table, row: dict[str, Any]) -> None:
    """Insert ``row`` into ``table`` when the unit of work commits."""
    pending: dict[Table, list[dict[str, Any]]] = session.info.setdefault(_PENDING, {})
    pending.setdefault(table, []).append(row)


def write_deferred(session: Session, table: Table | None = None) -> None:
    """Write the rows deferred so far (only ``table``'s when given)."""
    pending: dict[Table, list[dict[str, Any]]] | None = session.info.get(_PENDING)
    if not pending:
        return
    for target in [table] if table is not None else list(pending):
        rows = pending.pop(target, None)
        if not rows:
            continue
        # One statement needs the same columns in every row.
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            shapes.setdefault(tuple(row), []).append(row)
        for same in shapes.values():
            bulk_insert(session, target, same)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    write_deferred(session)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
