"""Everything `huafei ledger check` verifies: the ledger's own invariants and the domains'."""

from __future__ import annotations

from sqlalchemy.orm import Session

from huafei.ledger.check import CheckReport, ExtraCheck, check_ledger
from huafei.payouts.escrow import check_escrow_covers_wallets

EXTRA_CHECKS: tuple[ExtraCheck, ...] = (check_escrow_covers_wallets,)


def check_everything(session: Session) -> CheckReport:
    return check_ledger(session, EXTRA_CHECKS)
