"""The ledger's write path: transfers (single, linked, two-phase) applied in batches.

``create_transfers`` is the one write path. It takes a batch, locks each account it touches once
(in id order, so concurrent batches cannot deadlock each other), applies the transfers to the
balances in memory in order, and writes the new transfers and each account's new balances in a
handful of statements — TigerBeetle's batching, which is what keeps a hot account fast.
It only flushes; the caller's unit of work commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from huafei.ledger import errors
from huafei.ledger.models import Account, TransferKind
from huafei.ledger.records import MAX_ID_LENGTH, NewTransfer, TransferRecord, TransferResult
from huafei.ledger.store import LedgerStore

# Enum members bound to module names: attribute access on an Enum class is a descriptor call,
# measurable on the hot path.
_SINGLE = TransferKind.SINGLE
_PENDING = TransferKind.PENDING
_POST = TransferKind.POST_PENDING
_VOID = TransferKind.VOID_PENDING
_EXPIRE = TransferKind.EXPIRE_PENDING


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
        """Add transfers that succeed or fail together."""
        if not transfers:
            return
        self._transfers += [replace(t, linked=True) for t in transfers[:-1]]
        self._transfers.append(replace(transfers[-1], linked=False))

    def __len__(self) -> int:
        return len(self._transfers)

    def flush(self, session: Session, *, now: datetime) -> list[TransferRecord]:
        """Create every queued chain in one batch; raises the first real error."""
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
        _check_limits(debit, credit, amount)
        debit.debits_pending += amount
        credit.credits_pending += amount
    else:
        _check_limits(debit, credit, amount)
        debit.debits_posted += amount
        credit.credits_posted += amount
    debit.dirty = credit.dirty = True
    return _created(batch, new, debit, credit, amount, timeout_at=timeout_at)


def _created(
    batch: _Batch,
    new: NewTransfer,
    debit: _AccountState,
    credit: _AccountState,
    amount: int,
    *,
    pending_id: str | None = None,
    timeout_at: datetime | None = None,
) -> TransferRecord:
    """The record of ``new``, applied to the batch's balances."""
    return TransferRecord(
        id=new.id,
        debit_account_id=debit.id,
        credit_account_id=credit.id,
        amount=amount,
        currency=new.currency,
        code=new.code,
        kind=new.kind,
        pending_id=pending_id,
        timeout_at=timeout_at,
        ref=new.ref,
        memo=new.memo,
        created_at=batch.now,
    )


def _check_limits(
    debit: _AccountState, credit: _AccountState, amount: int, *, release_pending: int = 0
) -> None:
    """Refuse a transfer of ``amount`` (after releasing ``release_pending`` on both sides) that
    would break the debit account's or the credit account's limit."""
    if debit.debits_must_not_exceed_credits:
        used = debit.debits_pending + debit.debits_posted - release_pending
        _within(debit.id, used, amount, debit.credits_posted, errors.ExceedsCredits)
    if credit.credits_must_not_exceed_debits:
        used = credit.credits_pending + credit.credits_posted - release_pending
        _within(credit.id, used, amount, credit.debits_posted, errors.ExceedsDebits)


def _within(
    account_id: int,
    used: int,
    amount: int,
    limit: int,
    error: type[errors.ExceedsCredits | errors.ExceedsDebits],
) -> None:
    if used + amount > limit:
        available = limit - used
        raise error(
            f"account {account_id} has {available} fen available",
            account_id=account_id,
            available=available,
        )


def _resolve_pending(batch: _Batch, new: NewTransfer) -> TransferRecord:
    pending = _open_pending(batch, new)
    amount = _resolution_amount(pending, new)
    debit = _account(batch, pending.debit_account_id)
    credit = _account(batch, pending.credit_account_id)
    if new.kind is _POST:
        # Posting moves the amount from pending to posted; it cannot newly break a limit that the
        # pending transfer respected, but check anyway against the current balances.
        _check_limits(debit, credit, amount, release_pending=pending.amount)
        debit.debits_posted += amount
        credit.credits_posted += amount
    debit.debits_pending -= pending.amount
    credit.credits_pending -= pending.amount
    debit.dirty = credit.dirty = True
    # ``new.currency`` is the pending transfer's (``_resolution_amount`` checked it).
    return _created(batch, new, debit, credit, amount, pending_id=pending.id)


def _open_pending(batch: _Batch, new: NewTransfer) -> TransferRecord:
    """The pending transfer ``new`` resolves, still open and resolvable by ``new``'s kind."""
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
    return pending


def _resolution_amount(pending: TransferRecord, new: NewTransfer) -> int:
    """What ``new`` moves of ``pending``: its fields must agree with the pending transfer's."""
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
    return amount


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
