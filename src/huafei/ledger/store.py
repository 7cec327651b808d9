"""The ledger's write path in plain SQL on the session's own DBAPI connection.

Posting is the hottest path of the platform (every order touches the escrow account), so the five
statements of a batch skip the ORM and expression layers: measured on the benchmark machine this
is 5x faster per batch than the same statements through SQLAlchemy Core (docs/performance.md).
They still run inside the caller's transaction — the cursor belongs to the session's connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

ACCOUNT_COLUMNS = (
    "id, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits, "
    "debits_pending, debits_posted, credits_pending, credits_posted"
)
TRANSFER_COLUMNS = (
    "id",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "currency",
    "code",
    "kind",
    "pending_id",
    "timeout_at",
    "ref",
    "memo",
    "created_at",
    "digest",
)
_TRANSFER_SELECT = ", ".join(TRANSFER_COLUMNS)
Query = tuple[str, list[Any]]
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format for DateTime on SQLite


class LedgerStore:
    """Dialect-aware SQL for one batch, on the session's connection."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.postgres = connection.dialect.name == "postgresql"
        dbapi = connection.connection.dbapi_connection
        if dbapi is None:  # pragma: no cover - a checked-out connection always has one
            raise RuntimeError("no database connection")
        self.dbapi: Any = dbapi
        self.cursor: Any = dbapi.cursor()
        self.p = "%s" if self.postgres else "?"

    def close(self) -> None:
        self.cursor.close()

    # -- conversions ----------------------------------------------------------------------------
    def to_db_time(self, value: datetime | None) -> Any:
        if value is None or self.postgres:
            return value
        return value.astimezone(UTC).replace(tzinfo=None).strftime(_SQLITE_TIME)

    @staticmethod
    def from_db_time(value: Any) -> datetime | None:
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)

    def _in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        if self.postgres:
            return f"{column} = ANY(%s)", [list(values)]
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    # -- statements -----------------------------------------------------------------------------
    def _lock_accounts_sql(self, ids: Iterable[int]) -> Query | None:
        """Read and lock the accounts, in id order so concurrent batches cannot deadlock."""
        ordered = sorted(set(ids))
        if not ordered:
            return None
        where, params = self._in("id", ordered)
        lock = " FOR UPDATE" if self.postgres else ""  # SQLite: BEGIN IMMEDIATE already holds it
        return (
            f"SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE {where} ORDER BY id{lock}",
            params,
        )

    def _transfers_sql(self, ids: Iterable[str]) -> Query | None:
        return self._transfers_where(_TRANSFER_SELECT, "id", ids)

    def _resolutions_sql(self, pending_ids: Iterable[str]) -> Query | None:
        return self._transfers_where("pending_id, kind", "pending_id", pending_ids)

    def _transfers_where(self, columns: str, column: str, values: Iterable[str]) -> Query | None:
        """``columns`` of the transfers whose ``column`` is one of ``values`` (None: no values)."""
        wanted = list(set(values))
        if not wanted:
            return None
        where, params = self._in(column, wanted)
        return f"SELECT {columns} FROM ledger_transfers WHERE {where}", params

    def _fetch(self, query: Query | None) -> list[Any]:
        if query is None:
            return []
        self.cursor.execute(*query)
        return list(self.cursor.fetchall())

    def transfers(self, ids: Iterable[str]) -> list[tuple[Any, ...]]:
        return self._fetch(self._transfers_sql(ids))

    def locked_state(
        self, account_ids: Iterable[int], pending_ids: Iterable[str], ids: Iterable[str]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[str, str]], list[tuple[Any, ...]]]:
        """Lock the accounts, then read which pending transfers are resolved and which ids exist.

        On PostgreSQL the three statements go in one pipeline: one round trip, and the server
        still runs them in order, so the reads see everything committed before the locks.
        """
        queries = [
            self._lock_accounts_sql(account_ids),
            self._resolutions_sql(pending_ids),
            self._transfers_sql(ids),
        ]
        if not self.postgres:
            accounts, resolutions, existing = (self._fetch(query) for query in queries)
            return accounts, resolutions, existing
        cursors = [self.dbapi.cursor() if query else None for query in queries]
        with self.dbapi.pipeline():
            for cursor, query in zip(cursors, queries, strict=True):
                if cursor is not None and query is not None:
                    cursor.execute(*query)
        rows = [list(cursor.fetchall()) if cursor else [] for cursor in cursors]
        for cursor in cursors:
            if cursor is not None:
                cursor.close()
        return rows[0], rows[1], rows[2]

    def write(
        self, transfers: list[tuple[Any, ...]], balances: list[tuple[int, int, int, int, int]]
    ) -> None:
        """Insert the transfers and write each touched account's balances once.

        Balances are rows of (debits_pending, debits_posted, credits_pending, credits_posted, id).
        """
        p = self.p
        marks = ",".join([p] * len(TRANSFER_COLUMNS))
        insert = f"INSERT INTO ledger_transfers ({_TRANSFER_SELECT}) VALUES ({marks})"
        update = (
            f"UPDATE ledger_accounts SET debits_pending = {p}, debits_posted = {p}, "
            f"credits_pending = {p}, credits_posted = {p} WHERE id = {p}"
        )
        if not self.postgres:
            self.cursor.executemany(insert, transfers)
            self.cursor.executemany(update, balances)
            return
        with self.dbapi.pipeline():
            self.cursor.executemany(insert, transfers)
            self.cursor.executemany(update, balances)
