"""What a chaos run (``bench/chaos.py``) is asked for and what it counts, shared by its parts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import SandboxCard
from huafei.orders.models import OrderState
from huafei.payouts.models import WithdrawalStatus

CARRIER = Carrier.CMCC
FACE_FEN = 2_000
ACTUAL_FACE_FEN = 1_000  # what a wrong-face card is really worth
SELLER_NAME = "测试卖家"  # the bench sellers' verified real name (``common.make_sellers``)
CONSUMED = {
    OrderState.SUCCEEDED.value,
    OrderState.FACE_VALUE_MISMATCH.value,
    OrderState.SETTLING.value,
    OrderState.SETTLED.value,
}
FINAL_WITHDRAWALS = {
    WithdrawalStatus.PAID.value,
    WithdrawalStatus.FAILED.value,
    WithdrawalStatus.REJECTED.value,
    WithdrawalStatus.CANCELLED.value,
}
#: a request is retried with its key until it is answered, for at most this long
RETRY_FOR_SECONDS = 180.0
#: a 503 this long after a PostgreSQL restart is still the outage, not a bug
OUTAGE_GRACE_SECONDS = 15.0


@dataclass
class Options:
    """A run's length, load, faults and where it keeps its logs."""

    database_url: str
    seconds: float = 120.0
    clients: int = 8
    #: enough that the personal daily withdrawal count (10) does not stop a long run's payouts
    sellers: int = 250
    kill_every: tuple[float, float] = (3.0, 6.0)
    pg_restarts: int = 1
    kill_sandbox: bool = False
    quiesce_seconds: float = 300.0
    log_dir: Path = Path("var/chaos")
    seed: int | None = None


@dataclass
class Tally:
    """What the clients and the nemesis did and saw."""

    operations: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    retries: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    server_errors: list[tuple[float, int, str]] = field(default_factory=list)
    replays: int = 0
    replay_mismatches: list[str] = field(default_factory=list)
    unanswered: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    pg_restarts: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class SellerState:
    """A seller the clients act for: its session, bank card, device and good cards."""

    token: str
    seller_id: int
    method_id: int
    device: str
    cards: list[SandboxCard] = field(default_factory=list)
