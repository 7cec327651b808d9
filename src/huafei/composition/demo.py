"""Demo data for `make run`: loaded once per database, marked by a system flag."""

from __future__ import annotations

from sqlalchemy.orm import Session

from huafei.balance.service.rules import install_receiving_numbers
from huafei.carriers.sandbox_numbers import RECEIVING_NUMBERS
from huafei.composition.container import Container
from huafei.core.models import get_flag, set_flag
from huafei.ledger import NewTransfer, transfer_all
from huafei.ledger.chart import Code, ensure_platform_accounts, ensure_wallet
from huafei.ledger.models import TransferKind
from huafei.rates.defaults import install_defaults

_SINGLE = TransferKind.SINGLE
DEMO_FLAG = "demo_data_loaded_at"

#: The owners put capital in; a demo seller has one settled card worth ¥98.50 and a withdrawal
#: in flight: (transfer id, debit, credit, fen, memo, ref, kind).
DEMO_TRANSFERS: tuple[tuple[str, Code, Code, int, str, str | None, TransferKind], ...] = (
    ("demo:capital", Code.OWN_FUNDS, Code.EQUITY, 10_000_000, "owner capital", None, _SINGLE),
    ("demo:card-1:consume", Code.ESCROW, Code.WALLET_AVAILABLE, 9_850, "demo card settled",
     "demo:card-1", _SINGLE),
    ("demo:card-1:spread", Code.ESCROW, Code.SPREAD_REVENUE, 150, "demo card spread",
     "demo:card-1", _SINGLE),
    ("demo:withdrawal-1:hold", Code.WALLET_AVAILABLE, Code.WALLET_HELD, 2_000,
     "demo withdrawal in flight", None, TransferKind.PENDING),
)  # fmt: skip


def load_demo_data(container: Container) -> bool:
    """Load the demo data unless it was loaded before; returns whether it loaded now."""
    now = container.clock.now()

    def work(session: Session) -> bool:
        if get_flag(session, DEMO_FLAG) is not None:
            return False
        install_defaults(session, now=now)
        if container.settings.sandboxes:
            # The sandbox channels' receiving numbers, so balance can be sold at once.
            install_receiving_numbers(
                session, {c.value: phones for c, phones in RECEIVING_NUMBERS.items()}, now=now
            )
        # The seller's wallet codes and the platform's are apart: one map finds either.
        accounts = ensure_platform_accounts(session, now=now)
        accounts |= ensure_wallet(session, "seller:demo", now=now)
        transfers = [
            NewTransfer(
                id=transfer_id,
                debit_account_id=accounts[debit].id,
                credit_account_id=accounts[credit].id,
                amount=amount,
                memo=memo,
                ref=ref,
                kind=kind,
            )
            for transfer_id, debit, credit, amount, memo, ref, kind in DEMO_TRANSFERS
        ]
        transfer_all(session, transfers, now=now)
        set_flag(session, DEMO_FLAG, now.isoformat(), now)
        return True

    return container.db.run(work)
