"""Typed ledger errors; each code is stable and documented in docs/ledger.md."""

from __future__ import annotations

from huafei.core.errors import HuafeiError


class LedgerError(HuafeiError):
    code = "ledger_error"
    status = 422
    title = "The ledger refused the transfer"


class AccountNotFound(LedgerError):
    code = "account_not_found"
    title = "Account not found"
    status = 404


class AmountMustBePositive(LedgerError):
    code = "amount_must_be_positive"
    title = "Amount must be a positive number of fen"


class AccountsMustBeDifferent(LedgerError):
    code = "accounts_must_be_different"
    title = "Debit and credit accounts must differ"


class CurrencyMismatch(LedgerError):
    code = "ledger_currency_mismatch"
    title = "Transfer currency differs from an account's currency"


class ExceedsCredits(LedgerError):
    code = "exceeds_credits"
    title = "Debits would exceed the account's credits"


class ExceedsDebits(LedgerError):
    code = "exceeds_debits"
    title = "Credits would exceed the account's debits"


class TimeoutRequiresPending(LedgerError):
    code = "timeout_requires_pending"
    title = "Only pending transfers time out"


class PendingTransferNotFound(LedgerError):
    code = "pending_transfer_not_found"
    title = "Pending transfer not found"
    status = 404


class PendingTransferNotPending(LedgerError):
    code = "pending_transfer_not_pending"
    title = "The referenced transfer is not a pending transfer"


class PendingTransferAlreadyPosted(LedgerError):
    code = "pending_transfer_already_posted"
    title = "The pending transfer was already posted"
    status = 409


class PendingTransferAlreadyVoided(LedgerError):
    code = "pending_transfer_already_voided"
    title = "The pending transfer was already voided"
    status = 409


class PendingTransferExpired(LedgerError):
    code = "pending_transfer_expired"
    title = "The pending transfer has expired"
    status = 409


class PendingTransferMismatch(LedgerError):
    code = "pending_transfer_mismatch"
    title = "Accounts or currency differ from the pending transfer"


class ExceedsPendingAmount(LedgerError):
    code = "exceeds_pending_amount"
    title = "Amount is more than the pending transfer holds"


class TransferExistsWithDifferentFields(LedgerError):
    code = "transfer_exists_with_different_fields"
    title = "A transfer with this id exists with different fields"
    status = 409


class LinkedTransferFailed(LedgerError):
    code = "linked_transfer_failed"
    title = "Another transfer of the linked chain failed"


class InvalidTransferId(LedgerError):
    code = "invalid_transfer_id"
    title = "Transfer id must be 1 to 80 characters"
