"""Everything `huafei ledger check` verifies: the ledger's own invariants and the domains'."""

from __future__ import annotations

from sqlalchemy.orm import Session

from huafei.ledger.check import CheckReport, ExtraCheck, check_ledger

EXTRA_CHECKS: tuple[ExtraCheck, ...] = ()


def check_everything(session: Session) -> CheckReport:
    return check_ledger(session, EXTRA_CHECKS)
