"""Every secret stored encrypted, and re-encrypting them under the active key.

A domain that stores a ``Keyring`` ciphertext adds its column to ``ENCRYPTED_COLUMNS``;
``huafei keys rotate`` then re-encrypts it with the rest. Each ciphertext starts with the id of
its key, so the rotation finds what is still under an old key without decrypting anything, and
can be stopped and run again at any point.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Table, select, update
from sqlalchemy.orm import Session

from huafei.balance.models import BalanceAuthorisation
from huafei.core.crypto import Keyring
from huafei.core.db import Database
from huafei.identity.models import (
    ID_NUMBER_CONTEXT,
    REAL_NAME_CONTEXT,
    SERVICE_PASSWORD_CONTEXT,
    TOTP_SECRET_CONTEXT,
    Seller,
    Staff,
)


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    table: Table
    column: str
    context: str
    """The ``Keyring`` context the values were encrypted with."""

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"


def _table(model: type[object]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    if not isinstance(table, Table):  # pragma: no cover - declarative models have a Table
        raise TypeError(f"{model} has no table")
    return table


ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn(_table(Seller), "real_name_enc", REAL_NAME_CONTEXT),
    EncryptedColumn(_table(Seller), "id_number_enc", ID_NUMBER_CONTEXT),
    EncryptedColumn(_table(Seller), "service_password_enc", SERVICE_PASSWORD_CONTEXT),
    EncryptedColumn(_table(Staff), "totp_secret_enc", TOTP_SECRET_CONTEXT),
    EncryptedColumn(_table(BalanceAuthorisation), "service_password_enc", SERVICE_PASSWORD_CONTEXT),
)


def rotate_column(
    db: Database, keyring: Keyring, target: EncryptedColumn, *, batch_size: int = 500
) -> int:
    """Re-encrypt every value of one column that is not under the active key; returns how many.

    Works in batches, one transaction each, walking the primary key upwards.
    """
    (key,) = target.table.primary_key.columns
    value: Column[str] = target.table.c[target.column]
    stale = ~value.startswith(f"{keyring.active}:", autoescape=True)
    rotated = 0
    last: object = None
    while True:

        def work(session: Session, after: object = last) -> tuple[int, object]:
            query = select(key, value).where(value.is_not(None), stale).order_by(key)
            if after is not None:
                query = query.where(key > after)
            rows = session.execute(query.limit(batch_size)).all()
            for row_key, stored in rows:
                session.execute(
                    update(target.table)
                    .where(key == row_key)
                    .values({target.column: keyring.rotate(stored, context=target.context)})
                )
            return len(rows), rows[-1][0] if rows else after

        count, last = db.run(work)
        rotated += count
        if count < batch_size:
            return rotated


def rotate_all(db: Database, keyring: Keyring, *, batch_size: int = 500) -> dict[str, int]:
    return {
        target.name: rotate_column(db, keyring, target, batch_size=batch_size)
        for target in ENCRYPTED_COLUMNS
    }
