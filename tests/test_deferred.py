"""Rows deferred to the commit (``core.deferred``) follow the transaction they were made in:
written with it, forgotten with it, and a rolled-back savepoint forgets only its own rows."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from sqlalchemy import select

from huafei.core.deferred import defer_insert
from huafei.notices.models import Notice

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
NOTICES = Notice.__table__


def _notice(owner: str) -> dict[str, object]:
    return {
        "owner_ref": owner,
        "kind": "balance_change",
        "title": "t",
        "body": "b",
        "created_at": NOW,
    }


def _owners(db) -> list[str]:
    return db.run(lambda s: list(s.scalars(select(Notice.owner_ref).order_by(Notice.id))))


def test_deferred_rows_are_written_when_the_unit_of_work_commits(db) -> None:
    def work(session) -> None:
        defer_insert(session, NOTICES, _notice("seller:1"))
        defer_insert(session, NOTICES, _notice("seller:2"))
        # Not written yet: nobody reads them back in this unit of work.
        assert session.scalar(select(Notice.id)) is None

    db.run(work)
    assert _owners(db) == ["seller:1", "seller:2"]


def test_a_rolled_back_unit_of_work_writes_none_of_its_rows(db) -> None:
    class Boom(Exception):
        pass

    def work(session) -> None:
        defer_insert(session, NOTICES, _notice("seller:1"))
        raise Boom

    with contextlib.suppress(Boom):
        db.run(work)
    db.run(lambda s: defer_insert(s, NOTICES, _notice("seller:3")))
    assert _owners(db) == ["seller:3"]


def test_a_rolled_back_savepoint_forgets_only_the_rows_made_inside_it(db) -> None:
    def work(session) -> None:
        defer_insert(session, NOTICES, _notice("before"))
        with contextlib.suppress(LookupError), session.begin_nested():
            defer_insert(session, NOTICES, _notice("inside-rolled-back"))
            raise LookupError("refused")  # a failure inside the savepoint rolls it back
        with session.begin_nested():
            defer_insert(session, NOTICES, _notice("inside-kept"))
        defer_insert(session, NOTICES, _notice("after"))

    db.run(work)
    assert _owners(db) == ["before", "inside-kept", "after"]


def test_a_flush_inside_a_savepoint_does_not_lose_its_mark(db) -> None:
    """The ORM's flush runs in an inner transaction of its own; its end must not make a later
    savepoint rollback forget rows from before the savepoint."""

    def work(session) -> None:
        defer_insert(session, NOTICES, _notice("before"))
        with contextlib.suppress(LookupError), session.begin_nested():
            defer_insert(session, NOTICES, _notice("inside-rolled-back"))
            session.add(Notice(**_notice("flushed-then-rolled-back")))
            session.flush()
            raise LookupError("refused")
        defer_insert(session, NOTICES, _notice("after"))

    db.run(work)
    assert _owners(db) == ["before", "after"]
