"""Migrations: one head, date-prefixed files, a schema that matches the models, and every
migration undone and done again."""

from __future__ import annotations

import re

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from huafei.core.db import make_engine
from huafei.migrations import HERE, alembic_config, at_head, current_revisions, head_revisions
from huafei.migrations import upgrade as migrate
from huafei.models import metadata


def test_one_head() -> None:
    assert len(head_revisions()) == 1


def test_files_start_with_a_date() -> None:
    names = [p.name for p in (HERE / "versions").glob("*.py")]
    assert names
    assert all(re.match(r"^\d{8}_", name) for name in names), names


def differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_models_and_migrations_agree(db) -> None:
    assert differences(db.engine) == []
    assert at_head(db.engine)


def test_every_migration_can_be_undone_and_done_again(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url, pool_size=1)
    try:
        migrate(empty_database_url)
        assert at_head(engine)
        command.downgrade(alembic_config(empty_database_url), "base")
        assert current_revisions(engine) == ()
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        migrate(empty_database_url)
        assert at_head(engine)
        assert differences(engine) == []
    finally:
        engine.dispose()
