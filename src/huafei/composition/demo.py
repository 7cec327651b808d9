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

DEMO_FLAG = "demo_data_loaded_at"


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
        platform = ensure_platform_accounts(session, now=now)
        wallet = ensure_wallet(session, "seller:demo", now=now)
        # The owners put capital in; a demo seller has one settled card worth ¥98.50.
        transfer_all(
            session,
            [
                NewTransfer(
                    id="demo:capital",
                    debit_account_id=platform[Code.OWN_FUNDS].id,
                    credit_account_id=platform[Code.EQUITY].id,
                    amount=10_000_000,
                    memo="owner capital",
                ),
                NewTransfer(
                    id="demo:card-1:consume",
                    debit_account_id=platform[Code.ESCROW].id,
                    credit_account_id=wallet[Code.WALLET_AVAILABLE].id,
                    amount=9_850,
                    memo="demo card settled",
                    ref="demo:card-1",
                ),
                NewTransfer(
                    id="demo:card-1:spread",
                    debit_account_id=platform[Code.ESCROW].id,
                    credit_account_id=platform[Code.SPREAD_REVENUE].id,
                    amount=150,
                    memo="demo card spread",
                    ref="demo:card-1",
                ),
                NewTransfer(
                    id="demo:withdrawal-1:hold",
                    debit_account_id=wallet[Code.WALLET_AVAILABLE].id,
                    credit_account_id=wallet[Code.WALLET_HELD].id,
                    amount=2_000,
                    kind=TransferKind.PENDING,
                    memo="demo withdrawal in flight",
                ),
            ],
            now=now,
        )
        set_flag(session, DEMO_FLAG, now.isoformat(), now)
        return True

    return container.db.run(work)
