"""What a payout rail's sandbox keeps: its failure switches and its payouts, in memory and in
its state file."""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from huafei.payouts.accounts import mask_name
from huafei.payouts.models import RailName
from huafei.payouts.rails.base import PayoutResult, PayoutStatus


class FailureMode(enum.StrEnum):
    """A way the rail fails on purpose (the module's table)."""

    ACCOUNT_FROZEN = "account_frozen"
    NAME_MISMATCH = "name_mismatch"
    LIMIT_EXCEEDED = "limit_exceeded"
    TIMEOUT = "timeout"
    DUPLICATE_RESULT = "duplicate_result"
    LOST_RESULT = "lost_result"


#: a failure's code and reason, as the rail words them
FAILURES = {
    FailureMode.ACCOUNT_FROZEN: ("ACCOUNT_FROZEN", "收款账户已冻结 / the payee account is frozen"),
    FailureMode.NAME_MISMATCH: (
        "NAME_MISMATCH",
        "收款户名与账号不符 / name does not match account",
    ),
    FailureMode.LIMIT_EXCEEDED: ("LIMIT_EXCEEDED", "超过渠道单笔限额 / over the rail's limit"),
}


#: A carrier wallet is a mainland mobile number at one of the three carriers.
_WALLET_NUMBER = re.compile(r"^1[3-9][0-9]{9}$")
_WALLET_CARRIERS = frozenset({"cmcc", "cucc", "ctcc"})


def account_refusal(rail: RailName, order: dict[str, Any]) -> tuple[str, str] | None:
    """Why the rail refuses an order's account at once, or None (only the carrier-wallet rail
    checks the account's shape: a mobile number and its carrier)."""
    if rail is not RailName.CARRIER_WALLET:
        return None
    if _WALLET_NUMBER.match(str(order.get("account_no", ""))) and (
        order.get("bank_code") in _WALLET_CARRIERS
    ):
        return None
    return "INVALID_ACCOUNT", "收款手机号未开通钱包 / no wallet for this number"


@dataclass
class Rule:
    """A switched-on failure and how many more payouts it applies to."""

    mode: FailureMode
    remaining: int
    delay_seconds: float


@dataclass
class SandboxPayout:
    """A payout the rail took, and what became of it."""

    payout_id: str
    fingerprint: str
    amount_fen: int
    account_no: str
    account_name: str
    notify_url: str
    rail_ref: str
    accepted_at: datetime
    modes: set[FailureMode]
    status: PayoutStatus = PayoutStatus.PROCESSING
    code: str | None = None
    reason: str | None = None
    finished_at: datetime | None = None
    refused: bool = False
    submissions: int = 1
    callbacks_delivered: int = 0
    notification_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def result(self) -> PayoutResult:
        """The payout in the rail's result terms (a callback's or a query's)."""
        return PayoutResult(
            payout_id=self.payout_id,
            status=self.status,
            rail_ref=self.rail_ref,
            amount_fen=self.amount_fen,
            code=self.code,
            reason=self.reason,
            notification_id=self.notification_id,
            finished_at=self.finished_at,
        )


def to_state(payout: SandboxPayout) -> dict[str, Any]:
    """What the state file keeps of a payout (its account masked)."""
    return {
        "payout_id": payout.payout_id,
        "fingerprint": payout.fingerprint,
        "amount_fen": payout.amount_fen,
        # Masked as the statement shows them: the sandbox's file is no store of personal data.
        "account_no": mask_account(payout.account_no),
        "account_name": mask_name(payout.account_name),
        "notify_url": payout.notify_url,
        "rail_ref": payout.rail_ref,
        "accepted_at": payout.accepted_at.isoformat(),
        "modes": sorted(mode.value for mode in payout.modes),
        "status": payout.status.value,
        "code": payout.code,
        "reason": payout.reason,
        "finished_at": payout.finished_at.isoformat() if payout.finished_at else None,
        "refused": payout.refused,
        "submissions": payout.submissions,
        "callbacks_delivered": payout.callbacks_delivered,
        "notification_id": payout.notification_id,
    }


def restore(state: dict[str, Any]) -> SandboxPayout:
    """A payout as ``to_state`` kept it."""
    finished = state.get("finished_at")
    return SandboxPayout(
        payout_id=str(state["payout_id"]),
        fingerprint=str(state["fingerprint"]),
        amount_fen=int(state["amount_fen"]),
        account_no=str(state["account_no"]),
        account_name=str(state["account_name"]),
        notify_url=str(state["notify_url"]),
        rail_ref=str(state["rail_ref"]),
        accepted_at=datetime.fromisoformat(str(state["accepted_at"])),
        modes={FailureMode(mode) for mode in state.get("modes", [])},
        status=PayoutStatus(state["status"]),
        code=state.get("code"),
        reason=state.get("reason"),
        finished_at=datetime.fromisoformat(finished) if finished else None,
        refused=bool(state.get("refused")),
        submissions=int(state.get("submissions", 1)),
        callbacks_delivered=int(state.get("callbacks_delivered", 0)),
        notification_id=str(state["notification_id"]),
    )


def mask_account(account_no: str) -> str:
    """An account number as a statement shows it."""
    if "@" in account_no:
        local, _, domain = account_no.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(account_no) <= 8:
        return "*" * len(account_no)
    return account_no[:4] + "*" * (len(account_no) - 8) + account_no[-4:]
