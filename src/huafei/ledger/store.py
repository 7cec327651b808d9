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
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format for DateTime on SQLite


class LedgerStore:
    """Dialect-aware SQL for one batch, on the session's connection."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.postgres = connection.dialect.name == "postgresql"
        dbapi = connection.connection.dbapi_connection
        if dbapi is None:  # pragma: no cover - a checked-out connection always has one
            raise RuntimeError("no database connection")
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
    def lock_accounts(self, ids: Iterable[int]) -> list[tuple[Any, ...]]:
        """Read and lock the accounts, in id order so concurrent batches cannot deadlock."""
        ordered = sorted(set(ids))
        if not ordered:
            return []
        where, params = self._in("id", ordered)
        lock = " FOR UPDATE" if self.postgres else ""  # SQLite: BEGIN IMMEDIATE already holds it
        self.cursor.execute(
            f"SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE {where} ORDER BY id{lock}",
            params,
        )
        return list(self.cursor.fetchall())

    def transfers(self, ids: Iterable[str]) -> list[tuple[Any, ...]]:
        wanted = list(set(ids))
        if not wanted:
            return []
        where, params = self._in("id", wanted)
        self.cursor.execute(
            f"SELECT {_TRANSFER_SELECT} FROM ledger_transfers WHERE {where}", params
        )
        return list(self.cursor.fetchall())

    def resolutions(self, pending_ids: Iterable[str]) -> list[tuple[str, str]]:
        wanted = list(set(pending_ids))
        if not wanted:
            return []
        where, params = self._in("pending_id", wanted)
        self.cursor.execute(f"SELECT pending_id, kind FROM ledger_transfers WHERE {where}", params)
        return list(self.cursor.fetchall())

    def insert_transfers(self, rows: list[tuple[Any, ...]]) -> None:
        marks = ",".join([self.p] * len(TRANSFER_COLUMNS))
        self.cursor.executemany(
            f"INSERT INTO ledger_transfers ({_TRANSFER_SELECT}) VALUES ({marks})", rows
        )

    def update_balances(self, rows: list[tuple[int, int, int, int, int]]) -> None:
        """Rows of (debits_pending, debits_posted, credits_pending, credits_posted, id)."""
        p = self.p
        self.cursor.executemany(
            f"UPDATE ledger_accounts SET debits_pending = {p}, debits_posted = {p}, "
            f"credits_pending = {p}, credits_posted = {p} WHERE id = {p}",
            rows,
        )
