"""The ledger's values: a transfer asked for, a transfer stored, the result of one in a batch.

Shared by the write path (:mod:`huafei.ledger.engine`), the reading functions
(:mod:`huafei.ledger.reading`) and the check (:mod:`huafei.ledger.check`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from huafei.core.money import CNY
from huafei.ledger import errors
from huafei.ledger.models import Account, Transfer, TransferKind

ACCOUNTS: Table = Account.__table__  # type: ignore[assignment]
TRANSFERS: Table = Transfer.__table__  # type: ignore[assignment]
MAX_ID_LENGTH = 80


@dataclass(frozen=True, slots=True)
class NewTransfer:
    """A transfer to create. ``id`` is chosen by the caller and makes the request idempotent.

    For ``post_pending``/``void_pending`` the accounts may be left 0 (taken from the pending
    transfer) and ``amount`` ``None`` (the full pending amount). ``linked`` chains this transfer
    with the next one in the batch: the chain succeeds or fails as a whole.
    """

    id: str
    debit_account_id: int = 0
    credit_account_id: int = 0
    amount: int | None = None
    kind: TransferKind = TransferKind.SINGLE
    pending_id: str | None = None
    timeout_seconds: int | None = None
    currency: str = CNY
    code: int = 0
    ref: str | None = None
    memo: str = ""
    linked: bool = False


def transfer_digest(
    transfer_id: str,
    debit_account_id: int,
    credit_account_id: int,
    amount: int,
    currency: str,
    kind: str,
    pending_id: str | None,
) -> str:
    """The digest stored with a transfer over its immutable fields."""
    text = (
        f"{transfer_id}|{debit_account_id}|{credit_account_id}|{amount}|{currency}|{kind}|"
        f"{pending_id or ''}"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(slots=True)
class TransferRecord:
    """A stored transfer. Not frozen only because frozen dataclasses are slow to build and this
    is built once per transfer on the hot path; nothing mutates one."""

    id: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    code: int
    kind: TransferKind
    pending_id: str | None
    timeout_at: datetime | None
    ref: str | None
    memo: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> TransferRecord:
        """A record from a row of ``ledger_transfers``."""
        return cls(
            id=row.id,
            debit_account_id=row.debit_account_id,
            credit_account_id=row.credit_account_id,
            amount=row.amount,
            currency=row.currency,
            code=row.code,
            kind=TransferKind(row.kind),
            pending_id=row.pending_id,
            timeout_at=row.timeout_at,
            ref=row.ref,
            memo=row.memo,
            created_at=row.created_at,
        )

    def digest(self) -> str:
        """A fingerprint of the immutable fields; ``ledger check`` names a row edited by hand."""
        return transfer_digest(
            self.id,
            self.debit_account_id,
            self.credit_account_id,
            self.amount,
            self.currency,
            self.kind.value,
            self.pending_id,
        )

    def matches(self, new: NewTransfer) -> bool:
        """Whether a retried request asks for exactly this transfer."""
        timeout = None
        if self.timeout_at is not None:
            timeout = int((self.timeout_at - self.created_at).total_seconds())
        return (
            new.kind == self.kind
            and new.pending_id == self.pending_id
            and new.debit_account_id in (0, self.debit_account_id)
            and new.credit_account_id in (0, self.credit_account_id)
            and new.amount in (None, self.amount)
            and (new.amount is not None or self.kind.resolves_pending)
            and new.currency == self.currency
            and new.code == self.code
            and new.ref == self.ref
            and new.memo == self.memo
            and (new.timeout_seconds or None) == timeout
        )


@dataclass(frozen=True, slots=True)
class TransferResult:
    """What happened to one transfer of a batch: a record (new or existing) or an error."""

    id: str
    record: TransferRecord | None = None
    error: errors.LedgerError | None = None
    created: bool = False

    @property
    def ok(self) -> bool:
        """The transfer was created or already existed as asked."""
        return self.error is None
