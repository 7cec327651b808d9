"""Migrations: one head, date-prefixed files, and a schema that matches the models."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from huafei.migrations import HERE, at_head, head_revisions
from huafei.models import metadata


def test_one_head() -> None:
    assert len(head_revisions()) == 1


def test_files_start_with_a_date() -> None:
    names = [p.name for p in (HERE / "versions").glob("*.py")]
    assert names
    assert all(re.match(r"^\d{8}_", name) for name in names), names


def test_models_and_migrations_agree(db) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []
    assert at_head(db.engine)
