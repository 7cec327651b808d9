"""Ledger operations: accounts, transfers (single, linked, two-phase), balances, statements.

``create_transfers`` is the one write path. It takes a batch, locks each account it touches once
(in id order, so concurrent batches cannot deadlock each other), applies the transfers to the
balances in memory in order, and writes the new transfers and each account's new balances in a
handful of statements — TigerBeetle's batching, which is what keeps a hot account fast.
It only flushes; the caller's unit of work commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.orm import Session

from huafei.core.db import insert_ignoring_conflicts
from huafei.core.money import CNY
from huafei.ledger import errors
from huafei.ledger.models import Account, AccountType, Transfer, TransferKind
from huafei.ledger.store import LedgerStore

# Enum members bound to module names: attribute access on an Enum class is a descriptor call,
# measurable on the hot path.
_SINGLE = TransferKind.SINGLE
_PENDING = TransferKind.PENDING
_POST = TransferKind.POST_PENDING
_VOID = TransferKind.VOID_PENDING
_EXPIRE = TransferKind.EXPIRE_PENDING

ACCOUNTS: Table = Account.__table__  # type: ignore[assignment]
TRANSFERS: Table = Transfer.__table__  # type: ignore[assignment]
MAX_ID_LENGTH = 80


# -- values -------------------------------------------------------------------------------------
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
        return self.error is None


@dataclass(slots=True)
class _AccountState:
    id: int
    currency: str
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    dirty: bool = False

    def snapshot(self) -> tuple[int, int, int, int, bool]:
        return (
            self.debits_pending,
            self.debits_posted,
            self.credits_pending,
            self.credits_posted,
            self.dirty,
        )

    def restore(self, snap: tuple[int, int, int, int, bool]) -> None:
        (
            self.debits_pending,
            self.debits_posted,
            self.credits_pending,
            self.credits_posted,
            self.dirty,
        ) = snap


@dataclass(slots=True)
class _Batch:
    now: datetime
    accounts: dict[int, _AccountState]
    pendings: dict[str, TransferRecord]
    resolved: dict[str, TransferKind]
    existing: dict[str, TransferRecord]
    created: list[TransferRecord] = field(default_factory=list)


# -- accounts -----------------------------------------------------------------------------------
def create_account(
    session: Session,
    *,
    code: int,
    type: AccountType,  # noqa: A002 - the ledger's own word for it
    owner_ref: str,
    name: str,
    now: datetime,
    currency: str = CNY,
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
) -> Account:
    """Create an account, or return the existing one with the same code, owner and currency."""
    insert_ignoring_conflicts(
        session,
        ACCOUNTS,
        [
            {
                "code": code,
                "type": type.value,
                "currency": currency,
                "owner_ref": owner_ref,
                "name": name,
                "debits_must_not_exceed_credits": debits_must_not_exceed_credits,
                "credits_must_not_exceed_debits": credits_must_not_exceed_debits,
                "debits_pending": 0,
                "debits_posted": 0,
                "credits_pending": 0,
                "credits_posted": 0,
                "created_at": now,
            }
        ],
    )
    account = session.scalars(
        select(Account).where(
            Account.code == code, Account.owner_ref == owner_ref, Account.currency == currency
        )
    ).one()
    return account


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id, populate_existing=True)
    if account is None:
        raise errors.AccountNotFound(f"account {account_id} does not exist", account_id=account_id)
    return account


def find_account(
    session: Session, *, code: int, owner_ref: str, currency: str = CNY
) -> Account | None:
    return session.scalars(
        select(Account)
        .where(Account.code == code, Account.owner_ref == owner_ref, Account.currency == currency)
        .execution_options(populate_existing=True)
    ).one_or_none()


# -- transfers ----------------------------------------------------------------------------------
def create_transfers(
    session: Session, transfers: Sequence[NewTransfer], *, now: datetime
) -> list[TransferResult]:
    """Create a batch of transfers; one result per transfer, in order.

    Failed transfers write nothing; a failed transfer fails its whole linked chain. A transfer
    whose id exists already returns the stored record when the request is the same, and
    ``transfer_exists_with_different_fields`` otherwise.
    """
    if not transfers:
        return []
    store = LedgerStore(session)
    try:
        batch = _load_batch(store, transfers, now)
        results = _apply(batch, transfers)
        _write(session, store, batch)
    finally:
        store.close()
    return results


def _apply(batch: _Batch, transfers: Sequence[NewTransfer]) -> list[TransferResult]:
    results: list[TransferResult] = []
    chain: list[NewTransfer] = []
    for new in transfers:
        chain.append(new)
        if new.linked:
            continue
        results.extend(_apply_chain(batch, chain))
        chain = []
    if chain:  # a chain left open at the end of the batch fails as a whole
        results.extend(_fail_chain(chain, errors.LinkedTransferFailed("linked chain not closed")))
    return results


def transfer(session: Session, new: NewTransfer, *, now: datetime) -> TransferRecord:
    """Create one transfer, raising its typed error when it fails."""
    (result,) = create_transfers(session, [new], now=now)
    if result.error is not None:
        raise result.error
    if result.record is None:  # pragma: no cover - a result has a record or an error
        raise errors.LedgerError("transfer produced no record")
    return result.record


def transfer_all(
    session: Session, transfers: Sequence[NewTransfer], *, now: datetime
) -> list[TransferRecord]:
    """Create the transfers as one linked chain: all or none; raises the first real error."""
    queue = TransferQueue()
    queue.add_chain(transfers)
    return queue.flush(session, now=now)


class TransferQueue:
    """Linked chains gathered over a unit of work and created together by ``flush``.

    One batch for all of them, so an account that many chains touch (the escrow account, say) is
    locked and written once. Each chain still succeeds or fails as a whole; ``flush`` raises the
    first real error, which rolls the unit of work back.
    """

    def __init__(self) -> None:
        self._transfers: list[NewTransfer] = []

    def add_chain(self, transfers: Sequence[NewTransfer]) -> None:
        if not transfers:
            return
        self._transfers += [replace(t, linked=True) for t in transfers[:-1]]
        self._transfers.append(replace(transfers[-1], linked=False))

    def __len__(self) -> int:
        return len(self._transfers)

    def flush(self, session: Session, *, now: datetime) -> list[TransferRecord]:
        transfers, self._transfers = self._transfers, []
        if not transfers:
            return []
        results = create_transfers(session, transfers, now=now)
        failures = [r.error for r in results if r.error is not None]
        if failures:
            real = [e for e in failures if not isinstance(e, errors.LinkedTransferFailed)]
            raise (real or failures)[0]
        return [r.record for r in results if r.record is not None]


def _record(store: LedgerStore, row: tuple[Any, ...]) -> TransferRecord:
    created_at = store.from_db_time(row[11])
    if created_at is None:  # pragma: no cover - the column is NOT NULL
        raise errors.LedgerError("transfer without a time")
    return TransferRecord(
        id=row[0],
        debit_account_id=row[1],
        credit_account_id=row[2],
        amount=row[3],
        currency=row[4],
        code=row[5],
        kind=TransferKind(row[6]),
        pending_id=row[7],
        timeout_at=store.from_db_time(row[8]),
        ref=row[9],
        memo=row[10],
        created_at=created_at,
    )


def _load_batch(store: LedgerStore, transfers: Sequence[NewTransfer], now: datetime) -> _Batch:
    ids = {t.id for t in transfers if 0 < len(t.id) <= MAX_ID_LENGTH}
    pending_ids = {t.pending_id for t in transfers if t.pending_id}
    # Pending transfers are immutable, so reading them before the locks is safe; what can change
    # (resolutions, existing ids) is read after the locks so that concurrent batches on the same
    # accounts see each other's commits.
    pendings = {row[0]: _record(store, row) for row in store.transfers(pending_ids)}
    account_ids: set[int] = set()
    for t in transfers:
        account_ids.update((t.debit_account_id, t.credit_account_id))
    for p in pendings.values():
        account_ids.update((p.debit_account_id, p.credit_account_id))
    account_ids.discard(0)
    account_rows, resolution_rows, existing_rows = store.locked_state(account_ids, pendings, ids)
    accounts = {
        row[0]: _AccountState(
            id=row[0],
            currency=row[1],
            debits_must_not_exceed_credits=bool(row[2]),
            credits_must_not_exceed_debits=bool(row[3]),
            debits_pending=row[4],
            debits_posted=row[5],
            credits_pending=row[6],
            credits_posted=row[7],
        )
        for row in account_rows
    }
    resolved = {pending: TransferKind(kind) for pending, kind in resolution_rows}
    existing = {row[0]: _record(store, row) for row in existing_rows}
    return _Batch(now, accounts, pendings, resolved, existing)


def _fail_chain(chain: list[NewTransfer], error: errors.LedgerError) -> list[TransferResult]:
    return [TransferResult(t.id, error=error) for t in chain]


def _apply_chain(batch: _Batch, chain: list[NewTransfer]) -> list[TransferResult]:
    snapshots = {a.id: a.snapshot() for a in batch.accounts.values()} if len(chain) > 1 else {}
    created_before = len(batch.created)
    resolved_before = dict(batch.resolved) if len(chain) > 1 else {}
    results: list[TransferResult] = []
    if len(chain) == 1:
        return [_apply_one(batch, chain[0])]
    for index, new in enumerate(chain):
        result = _apply_one(batch, new)
        if result.error is None:
            results.append(result)
            continue
        # Undo the chain's effects and fail every member.
        for account_id, snap in snapshots.items():
            batch.accounts[account_id].restore(snap)
        for record in batch.created[created_before:]:
            batch.existing.pop(record.id, None)
            batch.pendings.pop(record.id, None)
        del batch.created[created_before:]
        batch.resolved = resolved_before
        linked_error = errors.LinkedTransferFailed(
            f"transfer {new.id} of the linked chain failed: {result.error.code}",
            failed_transfer_id=new.id,
        )
        return [
            TransferResult(t.id, error=result.error if i == index else linked_error)
            for i, t in enumerate(chain)
        ]
    return results


def _apply_one(batch: _Batch, new: NewTransfer) -> TransferResult:
    if not 0 < len(new.id) <= MAX_ID_LENGTH:
        return TransferResult(new.id, error=errors.InvalidTransferId(f"bad id {new.id[:90]!r}"))
    existing = batch.existing.get(new.id)
    if existing is not None:
        if existing.matches(new):
            return TransferResult(new.id, record=existing, created=False)
        return TransferResult(
            new.id,
            error=errors.TransferExistsWithDifferentFields(
                f"transfer {new.id} exists with different fields", transfer_id=new.id
            ),
        )
    try:
        record = _validate_and_apply(batch, new)
    except errors.LedgerError as error:
        return TransferResult(new.id, error=error)
    batch.created.append(record)
    batch.existing[record.id] = record
    if record.kind is _PENDING:
        batch.pendings[record.id] = record
    elif record.pending_id is not None:
        batch.resolved[record.pending_id] = record.kind
    return TransferResult(new.id, record=record, created=True)


def _account(batch: _Batch, account_id: int) -> _AccountState:
    account = batch.accounts.get(account_id)
    if account is None:
        raise errors.AccountNotFound(f"account {account_id} does not exist", account_id=account_id)
    return account


def _validate_and_apply(batch: _Batch, new: NewTransfer) -> TransferRecord:
    kind = new.kind
    if kind is not _SINGLE and kind is not _PENDING:
        return _resolve_pending(batch, new)
    if new.pending_id is not None:
        raise errors.PendingTransferMismatch("only post, void and expire refer to a pending id")
    if new.amount is None or new.amount <= 0:
        raise errors.AmountMustBePositive(f"amount {new.amount} fen is not positive")
    if new.debit_account_id == new.credit_account_id:
        raise errors.AccountsMustBeDifferent(f"account {new.debit_account_id} on both sides")
    debit = _account(batch, new.debit_account_id)
    credit = _account(batch, new.credit_account_id)
    if not (new.currency == debit.currency == credit.currency):
        raise errors.CurrencyMismatch(
            f"transfer in {new.currency}, accounts in {debit.currency} and {credit.currency}"
        )
    timeout_at = None
    if new.timeout_seconds:
        if kind is not _PENDING or new.timeout_seconds < 0:
            raise errors.TimeoutRequiresPending("timeout is only for pending transfers, > 0 s")
        timeout_at = batch.now + timedelta(seconds=new.timeout_seconds)
    amount = new.amount
    if kind is _PENDING:
        _check_limits(debit, credit, add_debit_pending=amount, add_credit_pending=amount)
        debit.debits_pending += amount
        credit.credits_pending += amount
    else:
        _check_limits(debit, credit, add_debit_posted=amount, add_credit_posted=amount)
        debit.debits_posted += amount
        credit.credits_posted += amount
    debit.dirty = credit.dirty = True
    return TransferRecord(
        id=new.id,
        debit_account_id=debit.id,
        credit_account_id=credit.id,
        amount=amount,
        currency=new.currency,
        code=new.code,
        kind=new.kind,
        pending_id=None,
        timeout_at=timeout_at,
        ref=new.ref,
        memo=new.memo,
        created_at=batch.now,
    )


def _check_limits(
    debit: _AccountState,
    credit: _AccountState,
    *,
    add_debit_pending: int = 0,
    add_debit_posted: int = 0,
    add_credit_pending: int = 0,
    add_credit_posted: int = 0,
    release_pending: int = 0,
) -> None:
    if debit.debits_must_not_exceed_credits:
        debits = debit.debits_pending + debit.debits_posted - release_pending
        if debits + add_debit_pending + add_debit_posted > debit.credits_posted:
            available = debit.credits_posted - debits
            raise errors.ExceedsCredits(
                f"account {debit.id} has {available} fen available",
                account_id=debit.id,
                available=available,
            )
    if credit.credits_must_not_exceed_debits:
        credit_total = credit.credits_pending + credit.credits_posted - release_pending
        if credit_total + add_credit_pending + add_credit_posted > credit.debits_posted:
            available = credit.debits_posted - credit_total
            raise errors.ExceedsDebits(
                f"account {credit.id} has {available} fen available",
                account_id=credit.id,
                available=available,
            )


def _resolve_pending(batch: _Batch, new: NewTransfer) -> TransferRecord:
    if new.pending_id is None:
        raise errors.PendingTransferNotFound("post, void and expire need a pending id")
    pending = batch.pendings.get(new.pending_id)
    if pending is None:
        raise errors.PendingTransferNotFound(
            f"pending transfer {new.pending_id} does not exist", pending_id=new.pending_id
        )
    if pending.kind is not _PENDING:
        raise errors.PendingTransferNotPending(f"transfer {pending.id} is {pending.kind}")
    state = batch.resolved.get(pending.id)
    if state is _POST:
        raise errors.PendingTransferAlreadyPosted(f"{pending.id} was posted", pending_id=pending.id)
    if state is _VOID:
        raise errors.PendingTransferAlreadyVoided(f"{pending.id} was voided", pending_id=pending.id)
    expired = pending.timeout_at is not None and pending.timeout_at <= batch.now
    if state is _EXPIRE or (expired and new.kind is not _EXPIRE):
        raise errors.PendingTransferExpired(f"{pending.id} has expired", pending_id=pending.id)
    if new.kind is _EXPIRE and not expired:
        raise errors.PendingTransferMismatch(f"{pending.id} has not reached its timeout")
    if new.debit_account_id not in (0, pending.debit_account_id) or new.credit_account_id not in (
        0,
        pending.credit_account_id,
    ):
        raise errors.PendingTransferMismatch("accounts differ from the pending transfer")
    if new.currency != pending.currency:
        raise errors.PendingTransferMismatch("currency differs from the pending transfer")
    if new.timeout_seconds:
        raise errors.TimeoutRequiresPending("only pending transfers time out")
    amount = pending.amount if new.amount is None else new.amount
    if amount <= 0:
        raise errors.AmountMustBePositive(f"amount {amount} fen is not positive")
    if amount > pending.amount:
        raise errors.ExceedsPendingAmount(
            f"{amount} fen is more than the {pending.amount} fen pending",
            pending_amount=pending.amount,
        )
    if new.kind is not _POST and amount != pending.amount:
        raise errors.ExceedsPendingAmount("void and expire release the full pending amount")
    debit = _account(batch, pending.debit_account_id)
    credit = _account(batch, pending.credit_account_id)
    if new.kind is _POST:
        # Posting moves the amount from pending to posted; it cannot newly break a limit that the
        # pending transfer respected, but check anyway against the current balances.
        _check_limits(
            debit,
            credit,
            add_debit_posted=amount,
            add_credit_posted=amount,
            release_pending=pending.amount,
        )
        debit.debits_posted += amount
        credit.credits_posted += amount
    debit.debits_pending -= pending.amount
    credit.credits_pending -= pending.amount
    debit.dirty = credit.dirty = True
    return TransferRecord(
        id=new.id,
        debit_account_id=debit.id,
        credit_account_id=credit.id,
        amount=amount,
        currency=pending.currency,
        code=new.code,
        kind=new.kind,
        pending_id=pending.id,
        timeout_at=None,
        ref=new.ref,
        memo=new.memo,
        created_at=batch.now,
    )


def _write(session: Session, store: LedgerStore, batch: _Batch) -> None:
    if not batch.created:
        return
    batch_time = store.to_db_time(batch.now)
    dirty = [a for a in batch.accounts.values() if a.dirty]
    store.write(
        [
            (
                r.id,
                r.debit_account_id,
                r.credit_account_id,
                r.amount,
                r.currency,
                r.code,
                r.kind.value,
                r.pending_id,
                store.to_db_time(r.timeout_at),
                r.ref,
                r.memo,
                batch_time if r.created_at is batch.now else store.to_db_time(r.created_at),
                r.digest(),
            )
            for r in batch.created
        ],
        [
            (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.id)
            for a in dirty
        ],
    )
    # ORM objects loaded earlier in this session must not show the old balances.
    if len(session.identity_map):
        dirty_ids = {a.id for a in dirty}
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Account) and obj.id in dirty_ids:
                session.expire(obj)


# -- reading ------------------------------------------------------------------------------------
def get_transfer(session: Session, transfer_id: str) -> TransferRecord | None:
    row = session.execute(select(TRANSFERS).where(TRANSFERS.c.id == transfer_id)).one_or_none()
    return TransferRecord.from_row(row) if row is not None else None


def transfers_by_ref(session: Session, ref: str) -> list[TransferRecord]:
    rows = session.execute(
        select(TRANSFERS).where(TRANSFERS.c.ref == ref).order_by(TRANSFERS.c.created_at)
    )
    return [TransferRecord.from_row(row) for row in rows]


def pending_state(session: Session, pending_id: str) -> TransferKind | None:
    """``pending`` while open, else the kind of the transfer that resolved it; None if unknown."""
    pending = get_transfer(session, pending_id)
    if pending is None or pending.kind is not TransferKind.PENDING:
        return None
    kind = session.scalar(select(TRANSFERS.c.kind).where(TRANSFERS.c.pending_id == pending_id))
    return TransferKind(kind) if kind else TransferKind.PENDING


@dataclass(frozen=True, slots=True)
class Balances:
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


def balance_as_of(session: Session, account_id: int, at: datetime) -> Balances:
    """The account's four balances as they stood at ``at`` (inclusive), from its transfers."""
    get_account(session, account_id)
    t = TRANSFERS
    r = TRANSFERS.alias("resolution")
    posted_kinds = (TransferKind.SINGLE.value, TransferKind.POST_PENDING.value)

    def posted(column: Any) -> int:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(t.c.amount), 0)).where(
                    column == account_id, t.c.kind.in_(posted_kinds), t.c.created_at <= at
                )
            )
            or 0
        )

    def pending(column: Any) -> int:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(t.c.amount), 0))
                .select_from(t.outerjoin(r, and_(r.c.pending_id == t.c.id, r.c.created_at <= at)))
                .where(
                    column == account_id,
                    t.c.kind == TransferKind.PENDING.value,
                    t.c.created_at <= at,
                    r.c.id.is_(None),
                )
            )
            or 0
        )

    return Balances(
        debits_pending=pending(t.c.debit_account_id),
        debits_posted=posted(t.c.debit_account_id),
        credits_pending=pending(t.c.credit_account_id),
        credits_posted=posted(t.c.credit_account_id),
    )


@dataclass(frozen=True, slots=True)
class StatementLine:
    transfer: TransferRecord
    side: str  # "debit" or "credit": the side this account is on
    posted_change: int  # signed change of the account's normal-side posted balance
    pending_change: int  # signed change of what is held pending against/for the account


@dataclass(frozen=True, slots=True)
class StatementPage:
    lines: list[StatementLine]
    next_cursor: str | None


def statement(
    session: Session,
    account_id: int,
    *,
    cursor: str | None = None,
    limit: int = 50,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StatementPage:
    """Transfers touching the account, oldest first, in pages of ``limit``.

    ``cursor`` is the opaque ``next_cursor`` of the previous page (keyset pagination on time and
    id, so pages stay stable while new transfers arrive).
    """
    account = get_account(session, account_id)
    limit = max(1, min(limit, 1000))
    t = TRANSFERS
    query = select(t).where(
        or_(t.c.debit_account_id == account_id, t.c.credit_account_id == account_id)
    )
    if since is not None:
        query = query.where(t.c.created_at >= since)
    if until is not None:
        query = query.where(t.c.created_at < until)
    if cursor:
        at_text, _, last_id = cursor.partition("|")
        at = datetime.fromisoformat(at_text)
        query = query.where(or_(t.c.created_at > at, and_(t.c.created_at == at, t.c.id > last_id)))
    rows = list(session.execute(query.order_by(t.c.created_at, t.c.id).limit(limit + 1)))
    more = len(rows) > limit
    lines = [_statement_line(account, TransferRecord.from_row(row)) for row in rows[:limit]]
    next_cursor = None
    if more and lines:
        last = lines[-1].transfer
        next_cursor = f"{last.created_at.isoformat()}|{last.id}"
    return StatementPage(lines, next_cursor)


def _statement_line(account: Account, record: TransferRecord) -> StatementLine:
    side = "debit" if record.debit_account_id == account.id else "credit"
    sign = 1 if (side == "debit") == account.account_type.debit_normal else -1
    kind = record.kind
    posted = sign * record.amount if kind.moves_posted else 0
    if kind is TransferKind.PENDING:
        pending = record.amount
    elif kind.resolves_pending:
        pending = -record.amount  # the amount released (for a partial post, see the pending)
    else:
        pending = 0
    return StatementLine(record, side, posted, pending)


# -- expiry -------------------------------------------------------------------------------------
def expire_pending_transfers(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Expire pending transfers whose timeout has passed. Safe to run twice or concurrently:
    each expiry has a deterministic id and at most one transfer may resolve a pending one."""
    r = TRANSFERS.alias("resolution")
    t = TRANSFERS
    due = session.execute(
        select(t.c.id, t.c.currency)
        .select_from(t.outerjoin(r, r.c.pending_id == t.c.id))
        .where(
            t.c.kind == TransferKind.PENDING.value,
            t.c.timeout_at.is_not(None),
            t.c.timeout_at <= now,
            r.c.id.is_(None),
        )
        .order_by(t.c.timeout_at)
        .limit(limit)
    ).all()
    results = create_transfers(
        session,
        [
            NewTransfer(
                id=expiry_id(row.id),
                kind=TransferKind.EXPIRE_PENDING,
                pending_id=row.id,
                currency=row.currency,
                memo="expired",
            )
            for row in due
        ],
        now=now,
    )
    return sum(1 for result in results if result.created)


def expiry_id(pending_id: str) -> str:
    """The expiry of a pending transfer has one id, so two expiry runs cannot both write it."""
    candidate = f"expire:{pending_id}"
    if len(candidate) <= MAX_ID_LENGTH:
        return candidate
    return "expire:" + hashlib.sha256(pending_id.encode()).hexdigest()
