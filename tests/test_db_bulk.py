"""``core.db.bulk_insert``: the one-statement bulk insert behaves like any insert on both
databases — defaults filled, too-long values refused (never cut), conflicts skipped when asked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from huafei.carriers.models import CarrierNotification
from huafei.core.db import bulk_insert
from huafei.notices.models import Notice

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _inbox_row(notification: str, consumption: str = "hf1") -> dict[str, object]:
    return {
        "carrier": "cmcc",
        "notification_id": notification,
        "consumption_id": consumption,
        "channel_ref": None,
        "status": "succeeded",
        "actual_face_value_fen": 10_000,
        "reason": None,
        "occurred_at": None,
        "body": "{}",
        "received_at": NOW,
    }


def test_rows_are_stored_with_their_defaults(db) -> None:
    rows = [
        {
            "owner_ref": f"seller:{i}",
            "kind": "balance_change",
            "title": "余额变动",
            "body": "x",
            "ref": None,
            "created_at": NOW,
        }
        for i in range(300)
    ]
    db.run(lambda s: bulk_insert(s, Notice.__table__, rows))
    stored = db.run(lambda s: list(s.scalars(select(Notice).order_by(Notice.id))))
    assert [n.owner_ref for n in stored] == [f"seller:{i}" for i in range(300)]
    # Left out, so the columns' defaults: unread, no SMS attempts yet.
    assert {(n.read, n.sms_attempts, n.ref) for n in stored} == {(False, 0, None)}
    assert stored[0].created_at == NOW


def test_conflicts_are_skipped_only_when_asked(db) -> None:
    db.run(lambda s: bulk_insert(s, CarrierNotification.__table__, [_inbox_row("n1")]))
    again = [_inbox_row("n1"), _inbox_row("n2"), _inbox_row("n2")]
    db.run(lambda s: bulk_insert(s, CarrierNotification.__table__, again, ignore_conflicts=True))
    ids = db.run(lambda s: s.scalars(select(CarrierNotification.notification_id)).all())
    assert sorted(ids) == ["n1", "n2"]
    with pytest.raises(DBAPIError):
        db.run(lambda s: bulk_insert(s, CarrierNotification.__table__, [_inbox_row("n1")]))


def test_a_value_too_long_for_its_column_is_refused_not_cut(db) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    with pytest.raises(DBAPIError):
        db.run(
            lambda s: bulk_insert(
                s, CarrierNotification.__table__, [_inbox_row("n9", consumption="x" * 65)]
            )
        )
    assert db.run(lambda s: s.scalars(select(CarrierNotification.id)).all()) == []
