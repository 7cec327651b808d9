"""Database plumbing: the declarative base, engines for SQLite and PostgreSQL, units of work.

Services only ``flush``; the edge (a request, a job, a CLI command) runs them inside
``Database.run`` which commits, or rolls back and retries on a deadlock or serialization conflict.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    create_engine,
    event,
    insert,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator, TypeEngine

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: 64-bit integer primary keys; SQLite only auto-increments a plain INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; ``timestamptz`` on PostgreSQL, ISO text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetime given; the platform stores aware UTC datetimes only"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - part of the TypeDecorator interface
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """Exact decimals (rates) on both backends: ``NUMERIC`` on PostgreSQL, text on SQLite,
    whose NUMERIC would store a binary float."""

    impl = Numeric(12, 6)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(12, 6))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = Decimal(value)
        if not exact.is_finite():
            raise ValueError("only finite decimals are stored")
        return format(exact, "f") if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:  # noqa: ARG002
        if value is None:
            return None
        return Decimal(str(value))


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine set up for serious use on either backend."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=20,
            hide_parameters=True,  # an error's log line must not carry the values it was given
        )
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # No pre-ping: it costs a round trip per transaction; a dropped connection surfaces as a
    # disconnect error, which `Database.run` retries on a fresh connection.
    return create_engine(
        url, pool_size=pool_size, max_overflow=20, pool_recycle=1800, hide_parameters=True
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # WAL + NORMAL: durable at checkpoints, never corrupt; the usual choice for WAL mode.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache instead of 2 MiB
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Every transaction takes the write lock up front: a deferred transaction that reads and
        # then writes fails with SQLITE_BUSY instead of waiting, IMMEDIATE waits its turn.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


T = TypeVar("T")

_PG_RETRYABLE = {"40001", "40P01"}  # serialization_failure, deadlock_detected
#: the server went away or is starting: connection_exception (08…), admin_shutdown,
#: crash_shutdown, cannot_connect_now
_PG_GONE = ("08", "57P01", "57P02", "57P03")


def is_retryable(exc: BaseException) -> bool:
    """Deadlocks, serialization conflicts, a lost or refused connection (PostgreSQL restarting)
    and SQLite lock timeouts are safe to retry; once retries are spent they mean "try again
    later" (the API answers 503, ``database_unavailable``).

    Besides SQLAlchemy's wrapped errors this knows the driver's own (psycopg) errors, which
    statements run on the driver's connection raise unwrapped (the ledger's store): they come
    from a statement inside the unit of work, never from its commit, so nothing was committed.
    """
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        if orig is not None and _from_psycopg(orig):
            return _psycopg_retryable(orig)
        return isinstance(exc, OperationalError) and "database is locked" in str(orig)
    return _from_psycopg(exc) and _psycopg_retryable(exc)


def _from_psycopg(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] == "psycopg"


def _psycopg_retryable(exc: BaseException) -> bool:
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate in _PG_RETRYABLE:
        return True
    if sqlstate is None:
        # No state from the server: the connection broke or could not be made.
        return type(exc).__name__ == "OperationalError"
    return str(sqlstate).startswith(_PG_GONE)


class Database:
    """An engine and its session factory, and the one place transactions are committed."""

    def __init__(self, url: str, *, retries: int = 8, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.retries = retries
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def run(self, work: Callable[[Session], T], *, retries: int | None = None) -> T:
        """Run ``work`` in one transaction; commit, or roll back and retry when retryable."""
        attempts = (self.retries if retries is None else retries) + 1
        for attempt in range(1, attempts + 1):
            try:
                with self.sessions() as session, session.begin():
                    return work(session)
            except Exception as exc:
                if attempt == attempts or not is_retryable(exc):
                    raise
                delay = min(0.2, 0.002 * 2**attempt) * random.uniform(0.5, 1.5)
                log.info("retrying unit of work", extra={"attempt": attempt, "delay": delay})
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction without retry, for reads and tests."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def bulk_insert(
    session: Session, table: Any, rows: list[dict[str, Any]], *, ignore_conflicts: bool = False
) -> None:
    """Insert ``rows`` (the same columns in each), skipping unique-constraint conflicts when
    asked, without reading anything back.

    On PostgreSQL the values go column by column as arrays in one short statement,
    ``INSERT … SELECT * FROM unnest(%(c0)s::type[], …)``: one round trip and one statement the
    driver has seen before, whatever the number of rows (a multi-row ``VALUES`` would be new
    text for each row count, and an executemany costs the driver a message per row). Elsewhere
    (SQLite, in process) a plain executemany.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        stmt = (
            _ignoring_insert(table, dialect.name, returning=False)
            if ignore_conflicts
            else insert(table)
        )
        session.execute(stmt, rows)
        return
    keys = tuple(rows[0])
    plan = _UNNEST_INSERTS.get((table, keys, ignore_conflicts))
    if plan is None:
        plan = _UNNEST_INSERTS[(table, keys, ignore_conflicts)] = _unnest_plan(
            table, keys, dialect, ignore_conflicts
        )
    sql, processors, defaults = plan
    params = {
        f"c{index}": [row[key] if process is None else process(row[key]) for row in rows]
        for index, (key, process) in enumerate(zip(keys, processors, strict=True))
    }
    for index, value in defaults:
        params[f"c{index}"] = [value] * len(rows)
    session.connection().exec_driver_sql(sql, params)


_TYPE_MODIFIERS = re.compile(r"\(\s*\d+(\s*,\s*\d+)?\s*\)")
_UNNEST_INSERTS: dict[
    tuple[Any, tuple[str, ...], bool], tuple[str, list[Any], list[tuple[int, Any]]]
] = {}


def _unnest_plan(
    table: Any, keys: tuple[str, ...], dialect: Dialect, ignore_conflicts: bool
) -> tuple[str, list[Any], list[tuple[int, Any]]]:
    columns = [table.c[key] for key in keys]
    # Columns left out take their Python-side default, as in any Core insert.
    defaults: list[tuple[int, Any]] = []
    for column in table.columns:
        if column.key in keys or column.default is None:
            continue
        if not column.default.is_scalar:
            raise ValueError(f"bulk_insert: give {table.name}.{column.key} (no constant default)")
        process = column.type.bind_processor(dialect)
        value = column.default.arg
        defaults.append((len(columns), value if process is None else process(value)))
        columns.append(column)
    # The arrays carry the base type without length or precision: an explicit cast to
    # VARCHAR(64) would cut a longer value silently, where the insert itself refuses it.
    arrays = ", ".join(
        f"%(c{index})s::{_TYPE_MODIFIERS.sub('', column.type.compile(dialect=dialect))}[]"
        for index, column in enumerate(columns)
    )
    names = ", ".join(dialect.identifier_preparer.quote(column.name) for column in columns)
    sql = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) "
        f"SELECT * FROM unnest({arrays})"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    given = columns[: len(keys)]
    return sql, [column.type.bind_processor(dialect) for column in given], defaults


def insert_ignoring_conflicts(session: Session, table: Any, rows: list[dict[str, Any]]) -> int:
    """Insert rows, silently skipping any that violate a unique constraint (an inbox insert).

    Returns how many rows were newly inserted. The rows go as one executemany, which SQLAlchemy
    sends as multi-row statements ("insertmanyvalues") from a statement compiled once per table
    and dialect.
    """
    return len(insert_new(session, table, rows))


def insert_new(session: Session, table: Any, rows: list[dict[str, Any]]) -> list[Any]:
    """``insert_ignoring_conflicts`` answering the primary keys of the rows it inserted."""
    if not rows:
        return []
    stmt = _ignoring_insert(table, session.get_bind().dialect.name)
    return list(session.execute(stmt, rows).scalars())


_IGNORING_INSERTS: dict[tuple[Any, str, bool], Any] = {}


def _ignoring_insert(table: Any, dialect: str, *, returning: bool = True) -> Any:
    stmt = _IGNORING_INSERTS.get((table, dialect, returning))
    if stmt is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(table).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(table).on_conflict_do_nothing()
        if returning:
            # rowcount is not reliable for INSERT … ON CONFLICT across drivers; RETURNING is.
            stmt = stmt.returning(next(iter(table.primary_key.columns)))
        _IGNORING_INSERTS[(table, dialect, returning)] = stmt
    return stmt
