"""Rows nobody reads back in the unit of work that makes them (order events, notices), written
together just before it commits.

One statement per table (``core.db.bulk_insert``) instead of the ORM's per-object bookkeeping
and multi-row ``INSERT … RETURNING``. They commit or roll back with
everything else; a reader in the same unit of work calls :func:`write_deferred` first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.orm import Session, SessionTransaction

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


_MARKS = "huafei.deferred_marks"


@event.listens_for(Session, "after_transaction_create")
def _mark(session: Session, transaction: SessionTransaction) -> None:
    # A savepoint remembers how many rows were deferred when it began, so rolling it back
    # forgets only the rows deferred inside it.
    if transaction.nested:
        pending: dict[Table, list[dict[str, Any]]] = session.info.get(_PENDING, {})
        marks = session.info.setdefault(_MARKS, {})
        marks[id(transaction)] = {table: len(rows) for table, rows in pending.items()}


@event.listens_for(Session, "after_transaction_end")
def _unmark(session: Session, transaction: SessionTransaction) -> None:
    # (A savepoint's end comes before its rollback event, so its mark stays until then; the
    # marks go when the outermost transaction ends — not a flush's inner transaction.)
    if transaction.parent is None:
        session.info.pop(_MARKS, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
        return
    if not previous_transaction.nested:
        return  # a flush's inner transaction: the transaction around it decides
    mark = session.info.get(_MARKS, {}).pop(id(previous_transaction), None)
    if mark is None:
        return
    pending: dict[Table, list[dict[str, Any]]] = session.info.get(_PENDING, {})
    for table in list(pending):
        del pending[table][mark.get(table, 0) :]
