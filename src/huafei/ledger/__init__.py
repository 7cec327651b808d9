"""Double-entry ledger modelled on TigerBeetle's accounts and transfers.

Other domains use the ledger through this package's names (``from huafei.ledger import
NewTransfer, transfer``), the chart of accounts (:mod:`huafei.ledger.chart`), its tables
(:mod:`huafei.ledger.models`) and errors (:mod:`huafei.ledger.errors`); the modules behind the
names below are the ledger's own business. The ledger imports no other domain.

* :mod:`~huafei.ledger.records` — the values: a transfer asked for, one stored, a batch result;
* :mod:`~huafei.ledger.accounts` — creating and finding accounts;
* :mod:`~huafei.ledger.engine` — the one write path, ``create_transfers``, and what builds on it;
* :mod:`~huafei.ledger.reading` — transfers, pending states, balances as of a time, statements;
* :mod:`~huafei.ledger.expiry` — pending transfers whose timeout has passed.
"""

from huafei.ledger.accounts import create_account, find_account, get_account
from huafei.ledger.engine import TransferQueue, create_transfers, transfer, transfer_all
from huafei.ledger.expiry import expire_pending_transfers, expiry_id
from huafei.ledger.reading import (
    Balances,
    StatementLine,
    StatementPage,
    balance_as_of,
    get_transfer,
    pending_state,
    statement,
    transfers_by_ref,
    transfers_by_refs,
)
from huafei.ledger.records import (
    ACCOUNTS,
    MAX_ID_LENGTH,
    TRANSFERS,
    NewTransfer,
    TransferRecord,
    TransferResult,
    transfer_digest,
)

__all__ = [
    "ACCOUNTS",
    "MAX_ID_LENGTH",
    "TRANSFERS",
    "Balances",
    "NewTransfer",
    "StatementLine",
    "StatementPage",
    "TransferQueue",
    "TransferRecord",
    "TransferResult",
    "balance_as_of",
    "create_account",
    "create_transfers",
    "expire_pending_transfers",
    "expiry_id",
    "find_account",
    "get_account",
    "get_transfer",
    "pending_state",
    "statement",
    "transfer",
    "transfer_all",
    "transfer_digest",
    "transfers_by_ref",
    "transfers_by_refs",
]
