"""`huafei bench chaos` (`make chaos`): the platform under faults, then its invariants.

Processes, as in production: the sandboxes (the carrier channels and the payout rails, one
`huafei sandbox serve --rails` process with durable state), two `huafei serve` and two
`huafei worker`, all on PostgreSQL. Sellers submit cards (good, used, expired, wrong face, wrong
PIN, duplicates of their own and of other sellers' cards), replay requests with their keys and
withdraw (alone and two at once) over HTTP, while a nemesis SIGKILLs a random server or worker
(and, when asked, the sandboxes) every few seconds and restarts PostgreSQL. A client whose
request got no answer or a 5xx retries it with the same key, on another server.

Then nobody is killed any more, everything is running, and the run waits for quiescence and
checks: `ledger check` passes; each card is consumed at most once and each consumed card paid
exactly once; each withdrawal is paid at most once, with its hold posted or released; the
sellers' wallets hold what their cards earned less what they withdrew; nothing is stuck (every
order and withdrawal final, no failed job, no unhandled callback); a replayed request got the
first answer again; no 5xx but 503 while PostgreSQL was restarting. Exit 1 when any fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from huafei.bench.ledger import machine
from huafei.bench.orders import _free_port, _make_sellers, _wait_healthy
from huafei.carriers.gateway import Carrier
from huafei.carriers.models import CarrierNotification
from huafei.carriers.sandbox_cards import SandboxCard, SandboxCardKind, issue_cards
from huafei.core.clock import SystemClock
from huafei.core.db import Database
from huafei.core.settings import Settings
from huafei.identity.models import Seller
from huafei.invariants import check_everything
from huafei.jobs.models import Job
from huafei.ledger import pending_state
from huafei.ledger.chart import WALLET_CODES
from huafei.ledger.models import Account, Transfer, TransferKind
from huafei.migrations import upgrade
from huafei.orders.models import Order, OrderState
from huafei.payouts.models import MethodKind, Withdrawal, WithdrawalStatus
from huafei.payouts.service.holds import hold_id
from huafei.payouts.service.methods import store_method
from huafei.rates.defaults import install_defaults
from huafei.rates.service import current_agreement

CARRIER = Carrier.CMCC
FACE_FEN = 2_000
ACTUAL_FACE_FEN = 1_000  # what a wrong-face card is really worth
SELLER_NAME = "测试卖家"  # the bench sellers' verified real name (``_make_sellers``)
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


# -- the processes --------------------------------------------------------------------------------
@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    health_url: str | None = None
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"\n--- start {self.starts} ---\n".encode())
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "huafei", *self.args],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.started_at = time.monotonic()

    def wait_ready(self, timeout: float = 90.0) -> None:
        if self.popen is None:
            raise RuntimeError(f"{self.name} was never started")
        if self.health_url:
            _wait_healthy(self.health_url, self.popen, timeout=timeout)
        else:
            _wait_started_since(self.log, self.starts, self.popen, timeout=timeout)

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


def _wait_started_since(
    log: Path, starts: int, process: subprocess.Popen[bytes], *, timeout: float
) -> None:
    """A worker's log says "started" after its latest start marker."""
    deadline = time.monotonic() + timeout
    marker = f"--- start {starts} ---".encode()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{log.name}: the process exited while starting")
        data = log.read_bytes()
        if b"started" in data[data.rfind(marker) :]:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{log.name}: did not start")


def postgres_cluster() -> tuple[str, str] | None:
    """The local cluster's version and name (Debian's layout), if there is one."""
    root = Path("/etc/postgresql")
    if not root.is_dir():
        return None
    for version in sorted(root.iterdir(), reverse=True):
        for cluster in sorted(version.iterdir()):
            if (cluster / "postgresql.conf").exists():
                return version.name, cluster.name
    return None


def restart_postgres(cluster: tuple[str, str], *, mode: str) -> float:
    """Restart the local PostgreSQL (``mode``: fast, or immediate — a crash and recovery);
    returns how long it took."""
    started = time.monotonic()
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            cluster[0],
            cluster[1],
            "restart",
            "--mode",
            mode,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return time.monotonic() - started


# -- the run --------------------------------------------------------------------------------------
@dataclass
class Tally:
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
    token: str
    seller_id: int
    method_id: int
    device: str
    cards: list[SandboxCard] = field(default_factory=list)


def run_chaos(options: Options) -> dict[str, Any]:
    url = options.database_url
    if not url.startswith("postgresql"):
        raise ValueError("the chaos run needs PostgreSQL (several processes write at once)")
    rng = random.Random(options.seed)
    nemesis_rng = random.Random(rng.random())
    cluster = postgres_cluster()
    if options.pg_restarts and cluster is None:
        raise RuntimeError("no local PostgreSQL cluster to restart (/etc/postgresql)")
    _fresh_database(url)
    upgrade(url)
    db = Database(url, pool_size=4)
    now = SystemClock().now()
    db.run(lambda s: install_defaults(s, now=now))
    run_id = uuid.uuid4().hex[:8]
    sellers = _sellers(db, options.sellers, run_id)
    agreement = db.run(lambda s: current_agreement(s, SystemClock().now()))
    logs = options.log_dir
    logs.mkdir(parents=True, exist_ok=True)
    state = logs / "sandbox-state"
    state.mkdir(exist_ok=True)
    for old in state.iterdir():
        old.unlink()

    sandbox_port = _free_port()
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    ports = [_free_port() for _ in range(2)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    env = {
        **os.environ,
        "HUAFEI_ENV": "development",
        "HUAFEI_DATABASE_URL": url,
        "HUAFEI_DB_RETRIES": "20",
        "HUAFEI_WORKER_IN_PROCESS": "false",
        "HUAFEI_CARRIER_BASE_URL": f"{sandbox}/sandbox/carriers",
        "HUAFEI_PAYOUT_RAIL_URL": f"{sandbox}/sandbox/rails",
        "HUAFEI_SANDBOX_STATE_PATH": str(state / "carriers.jsonl"),
        "HUAFEI_SANDBOX_DIR": str(logs / "sandbox"),
        "HUAFEI_SANDBOX_CALLBACK_DELAY_MS": "200",
        "HUAFEI_SANDBOX_RAIL_SETTLE_SECONDS": "0.5",
        "HUAFEI_ORDERS_CHECK_AFTER_SECONDS": "3",
        "HUAFEI_CARRIER_TIMEOUT_SECONDS": "5",
        "HUAFEI_PAYOUT_RAIL_TIMEOUT_SECONDS": "5",
        "HUAFEI_PAYOUT_POLL_SECONDS": "3",
        "HUAFEI_WORKER_LEASE_SECONDS": "5",
        # Every client is 127.0.0.1: the failed-card pause would stop them all.
        "HUAFEI_GUESSING_MAX_FAILURES": "1000000",
        "HUAFEI_GUESSING_MAX_FAILURES_PER_ADDRESS": "1000000",
        "HUAFEI_LOG_LEVEL": "WARNING",
        "HUAFEI_DEMO_DATA": "false",
    }

    def server_env(index: int) -> dict[str, str]:
        return env | {"HUAFEI_PORT": str(ports[index]), "HUAFEI_PUBLIC_BASE_URL": bases[index]}

    sandbox_process = Process(
        "sandbox",
        ["sandbox", "serve", "--rails", "--port", str(sandbox_port),
         "--rail-state-dir", str(state)],
        server_env(0),
        logs / "sandbox.log",
        health_url=sandbox,
    )  # fmt: skip
    servers = [
        Process(f"server-{i}", ["serve"], server_env(i), logs / f"server-{i}.log", bases[i])
        for i in range(2)
    ]
    workers = [
        Process(f"worker-{i}", ["worker"], server_env(i), logs / f"worker-{i}.log")
        for i in range(2)
    ]
    processes = [sandbox_process, *servers, *workers]
    for process in processes:
        process.log.write_bytes(b"")
    tally = Tally()
    stop = threading.Event()
    started = time.monotonic()
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()
        nemesis = threading.Thread(
            target=_nemesis,
            args=(
                options,
                nemesis_rng,
                processes if options.kill_sandbox else [*servers, *workers],
            ),
            kwargs={"cluster": cluster, "tally": tally, "stop": stop, "started": started},
            daemon=True,
        )
        nemesis.start()
        driving = time.monotonic()
        asyncio.run(
            _drive(options, rng, bases, sellers, agreement.version, agreement.sha256, run_id, tally)
        )
        driven = time.monotonic() - driving
        stop.set()
        nemesis.join(timeout=180)
        ended = time.monotonic()
        for process in processes:
            if not process.running:
                process.start()
        for process in processes:
            process.wait_ready()
        quiet = _quiesce(db, options.quiesce_seconds)
        checks = _check(options, db, sandbox, tally, quiet=quiet)
    finally:
        stop.set()
        for process in reversed(processes):
            process.stop()
    db.dispose()
    figures: dict[str, Any] = {
        "seconds": round(driven, 1),
        "seconds_with_start_and_stop": round(ended - started, 1),
        "quiescence_seconds": round(quiet, 1) if quiet is not None else None,
        "operations": sum(tally.operations.values()),
        "operations_by_kind": dict(tally.operations),
        "requests": tally.requests,
        "retried_requests": tally.retries,
        "answers": dict(sorted(tally.statuses.items())),
        "refusals": dict(tally.refusals.most_common()),
        "transport_errors": dict(tally.transport_errors),
        "server_errors": len(tally.server_errors),
        "replays": tally.replays,
        "kills": sum(tally.kills.values()),
        "kills_by_process": dict(sorted(tally.kills.items())),
        "postgres_restarts": len(tally.pg_restarts),
        "postgres_restart_seconds": [round(d, 1) for _, d in tally.pg_restarts],
        "clients": options.clients,
        "sellers": options.sellers,
        "sandbox_killed": options.kill_sandbox,
        "checks": checks,
        "ok": all(check["ok"] for check in checks.values()),
        "machine": machine(),
    }
    return figures


def _fresh_database(url: str) -> None:
    """A new, empty database each run; only one whose name starts with ``huafei_chaos``."""
    parsed = make_url(url)
    name = parsed.database or ""
    if not name.startswith("huafei_chaos"):
        raise ValueError("the chaos run drops and recreates its database: name it huafei_chaos*")
    admin = create_engine(
        parsed.set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _sellers(db: Database, count: int, run_id: str) -> list[SellerState]:
    """Verified (L3) sellers with a session and a bank card each (the card added directly: the
    SMS confirmation is not what this run is about)."""
    tokens = _make_sellers(db, count, run_id)
    settings = Settings()
    keyring = settings.keyring()
    now = SystemClock().now()

    def work(session: Session) -> list[SellerState]:
        ids = list(session.scalars(select(Seller.id).order_by(Seller.id.desc()).limit(count)))
        states = []
        for index, (seller_id, token) in enumerate(zip(sorted(ids), tokens, strict=True)):
            method = store_method(
                session,
                owner_ref=f"seller:{seller_id}",
                kind=MethodKind.BANK_CARD,
                account_no=_bank_card(index),
                holder_name=SELLER_NAME,
                verified_real_name=SELLER_NAME,
                keyring=keyring,
                now=now,
            )
            states.append(SellerState(token, seller_id, method.id, f"chaos-{index}"))
        return states

    return db.run(work)


def _replay_key(status: int, document: Any) -> Any:
    """What a replay must repeat: a success's whole body; a refusal's status, code and detail
    (its stored record keeps the problem's scalar members, not its per-line lists)."""
    if status < 400 or not isinstance(document, dict):
        return status, document
    return status, document.get("code"), document.get("detail")


def _bank_card(index: int) -> str:
    """An ICBC debit card number (BIN 622202) with a right check digit."""
    body = f"622202{index:012d}"
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
        total += digit
    return body + str((10 - total % 10) % 10)


# -- the nemesis ----------------------------------------------------------------------------------
def _nemesis(
    options: Options,
    rng: random.Random,
    victims: list[Process],
    *,
    cluster: tuple[str, str] | None,
    tally: Tally,
    stop: threading.Event,
    started: float,
) -> None:
    """SIGKILL a random victim every few seconds and start it again at once; restart PostgreSQL
    at evenly spaced moments of the run."""
    restarts_due = [
        started + options.seconds * (i + 1) / (options.pg_restarts + 1)
        for i in range(options.pg_restarts)
    ]
    while not stop.wait(rng.uniform(*options.kill_every)):
        if restarts_due and time.monotonic() >= restarts_due[0] and cluster is not None:
            restarts_due.pop(0)
            mode = "fast" if len(tally.pg_restarts) % 2 == 0 else "immediate"
            at = time.monotonic()
            tally.pg_restarts.append((at, restart_postgres(cluster, mode=mode)))
            continue
        # A process still starting up is left alone: a kill is of a process at work.
        ready = [p for p in victims if p.running and time.monotonic() - p.started_at > 3.0]
        if not ready:
            continue
        victim = rng.choice(ready)
        victim.kill()
        tally.kills[victim.name] += 1
        victim.start()


# -- the sellers ----------------------------------------------------------------------------------
@dataclass
class Request:
    kind: str
    path: str
    body: dict[str, Any]
    key: str
    seller: SellerState


async def _drive(
    options: Options,
    rng: random.Random,
    bases: list[str],
    sellers: list[SellerState],
    agreement_version: str,
    agreement_sha256: str,
    run_id: str,
    tally: Tally,
) -> None:
    deadline = time.monotonic() + options.seconds
    secret = Settings().sandbox_card_secret.get_secret_value()
    answered: list[tuple[Request, int, Any]] = []
    offset = (int(run_id, 16) % 1000) * 100_000_000

    def order_body(cards: list[SandboxCard], pins: list[str] | None = None) -> dict[str, Any]:
        pins = pins or [card.pin for card in cards]
        body: dict[str, Any] = {
            "profile": "third_party",
            "carrier": CARRIER.value,
            "face_value_fen": FACE_FEN,
            "agreement_version": agreement_version,
            "agreement_sha256": agreement_sha256,
            "lawful_source_confirmed": True,
        }
        if len(cards) == 1 and rng.random() < 0.5:
            return body | {"serial": cards[0].serial, "pin": pins[0]}
        return body | {
            "cards": "\n".join(f"{c.serial} {p}" for c, p in zip(cards, pins, strict=True))
        }

    def path_of(body: dict[str, Any]) -> str:
        return "/api/v1/orders/batch" if "cards" in body else "/api/v1/orders"

    async def send(http: httpx.AsyncClient, request: Request) -> tuple[int, Any] | None:
        """POST until answered (not a transport error, not a 5xx), the same key each time."""
        give_up = time.monotonic() + RETRY_FOR_SECONDS
        attempt = 0
        while time.monotonic() < give_up:
            base = bases[(hash(request.key) + attempt) % len(bases)]
            if attempt:
                tally.retries += 1
                await asyncio.sleep(min(2.0, 0.1 * 2**attempt) * rng.uniform(0.5, 1.0))
            attempt += 1
            tally.requests += 1
            try:
                response = await http.post(
                    base + request.path,
                    json=request.body,
                    headers={
                        "Authorization": f"Bearer {request.seller.token}",
                        "Idempotency-Key": request.key,
                        "X-Device-Id": request.seller.device,
                    },
                )
            except httpx.HTTPError as exc:
                tally.transport_errors[type(exc).__name__] += 1
                continue
            if response.status_code >= 500:
                tally.server_errors.append(
                    (time.monotonic(), response.status_code, response.text[:300])
                )
                tally.statuses[str(response.status_code)] += 1
                continue
            tally.statuses[str(response.status_code)] += 1
            document = response.json()
            if response.status_code >= 400:
                tally.refusals[f"{request.kind}: {document.get('code')}"] += 1
            return response.status_code, document
        tally.unanswered += 1
        return None

    async def one(http: httpx.AsyncClient, number: int, client: int) -> None:
        seller = sellers[rng.randrange(len(sellers))]
        key = f"{run_id}:{client}:{number}"
        roll = rng.random()
        if roll < 0.45:
            count = rng.choice([1, 1, 2, 3, 5])
            cards, pins = [], []
            for index in range(count):
                start = offset + client * 10_000_000 + number * 10 + index
                kind = rng.choices(
                    ["good", "used", "expired", "wrong_face", "wrong_pin"], [75, 8, 5, 7, 5]
                )[0]
                card = _card(secret, kind, start)
                cards.append(card)
                pins.append(_wrong(card.pin) if kind == "wrong_pin" else card.pin)
            body = order_body(cards, pins)
            kind_name = "submit"
            seller.cards.extend(c for c, p in zip(cards, pins, strict=True) if p == c.pin)
        elif roll < 0.55:
            # Half the time one's own card again, else another seller's.
            owner = seller if rng.random() < 0.5 else sellers[rng.randrange(len(sellers))]
            if not owner.cards:
                return
            card = rng.choice(owner.cards)
            body = order_body([card])
            kind_name = "duplicate_own" if owner is seller else "duplicate_other"
        elif roll < 0.65:
            if not answered:
                return
            first, status, document = rng.choice(answered)
            tally.replays += 1
            tally.operations["replay"] += 1
            again = await send(http, first)
            if again is not None and _replay_key(*again) != _replay_key(status, document):
                tally.replay_mismatches.append(
                    f"{first.kind} {first.key}: {status} then {again[0]}"
                )
            return
        elif roll < 0.9:
            body = {
                "method_id": seller.method_id,
                "amount": f"{rng.randint(5, 60)}.{rng.randint(0, 99):02d}",
            }
            kind_name = "withdraw"
        else:
            # Two withdrawals of one seller at once: both may not fit in the balance.
            amount = f"{rng.randint(20, 80)}"
            requests = [
                Request(
                    "withdraw_race",
                    "/api/v1/withdrawals",
                    {"method_id": seller.method_id, "amount": amount},
                    f"{key}:{side}",
                    seller,
                )
                for side in "ab"
            ]
            tally.operations["withdraw_race"] += 2
            results = await asyncio.gather(*(send(http, r) for r in requests))
            for request, result in zip(requests, results, strict=True):
                if result is not None:
                    answered.append((request, *result))
            return
        path = path_of(body) if kind_name != "withdraw" else "/api/v1/withdrawals"
        request = Request(kind_name, path, body, key, seller)
        tally.operations[kind_name] += 1
        result = await send(http, request)
        if result is not None:
            answered.append((request, *result))

    async def client(index: int, http: httpx.AsyncClient) -> None:
        number = 0
        while time.monotonic() < deadline:
            number += 1
            await one(http, number, index)

    limits = httpx.Limits(max_connections=options.clients * 2)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(options.clients)))


def _card(secret: str, kind: str, start: int) -> SandboxCard:
    if kind == "used":
        return issue_cards(secret, CARRIER, FACE_FEN, 1, kind=SandboxCardKind.USED, start=start)[0]
    if kind == "expired":
        return issue_cards(secret, CARRIER, FACE_FEN, 1, kind=SandboxCardKind.EXPIRED, start=start)[
            0
        ]
    if kind == "wrong_face":
        return issue_cards(
            secret,
            CARRIER,
            FACE_FEN,
            1,
            kind=SandboxCardKind.WRONG_FACE,
            actual_face_value_fen=ACTUAL_FACE_FEN,
            start=start,
        )[0]
    return issue_cards(secret, CARRIER, FACE_FEN, 1, start=start)[0]


def _wrong(pin: str) -> str:
    return pin[:-1] + str((int(pin[-1]) + 1) % 10)


# -- quiescence and the checks --------------------------------------------------------------------
def _open_work(session: Session) -> dict[str, int]:
    final_orders = [s.value for s in OrderState if s.final]
    return {
        "orders_not_final": int(
            session.scalar(
                select(func.count()).select_from(Order).where(Order.state.not_in(final_orders))
            )
            or 0
        ),
        "withdrawals_not_final": int(
            session.scalar(
                select(func.count())
                .select_from(Withdrawal)
                .where(Withdrawal.status.not_in(FINAL_WITHDRAWALS))
            )
            or 0
        ),
        "unhandled_callbacks": int(
            session.scalar(
                select(func.count())
                .select_from(CarrierNotification)
                .where(CarrierNotification.handled_at.is_(None))
            )
            or 0
        ),
    }


def _quiesce(db: Database, timeout: float) -> float | None:
    """Seconds until every order and withdrawal is final; None if that did not happen."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not any(db.run(_open_work).values()):
            return time.monotonic() - started
        time.sleep(1.0)
    return None


def _check(
    options: Options, db: Database, sandbox: str, tally: Tally, *, quiet: float | None
) -> dict[str, Any]:
    consumptions = httpx.get(
        f"{sandbox}/sandbox/carriers/{CARRIER.value}/control/consumptions", timeout=120
    ).json()
    rail_payouts = [
        payout
        for rail in ("bank", "alipay", "wechat", "ecny")
        for payout in httpx.get(
            f"{sandbox}/sandbox/rails/{rail}/_control/payouts", timeout=120
        ).json()
    ]
    checks: dict[str, Any] = {}

    with db.session() as session:
        report = check_everything(session)
        checks["ledger_check"] = {"ok": report.ok, "report": None if report.ok else report.render()}

        orders = session.execute(
            select(Order.id, Order.state, Order.fingerprint, Order.consumption_id, Order.payout_fen)
        ).all()
        consumed_cards = Counter(o.fingerprint for o in orders if o.state in CONSUMED)
        successes = Counter(c["serial"] for c in consumptions if c["outcome"] == "succeeded")
        succeeded_ids = {c["consumption_id"] for c in consumptions if c["outcome"] == "succeeded"}
        settled = {o.consumption_id: o for o in orders if o.state == OrderState.SETTLED.value}
        checks["cards_consumed_at_most_once"] = {
            "ok": max(consumed_cards.values(), default=0) <= 1
            and max(successes.values(), default=0) <= 1,
            "consumed_at_the_channel": len(succeeded_ids),
        }
        owed = Counter(
            transfer_id.split(":")[1]
            for transfer_id in session.scalars(
                select(Transfer.id).where(Transfer.id.like("order:%:owed"))
            )
        )
        paid_twice = [order_id for order_id, n in owed.items() if n > 1]
        unpaid = sorted(succeeded_ids - set(settled))
        paid_unconsumed = sorted(set(settled) - succeeded_ids)
        checks["consumed_cards_paid_exactly_once"] = {
            "ok": not paid_twice and not unpaid and not paid_unconsumed,
            "settled_orders": len(settled),
            "consumed_not_settled": unpaid[:20],
            "settled_not_consumed": paid_unconsumed[:20],
            "paid_twice": paid_twice[:20],
        }

        withdrawals = list(session.scalars(select(Withdrawal)))
        rail_paid = Counter(p["payout_id"] for p in rail_payouts if p["paid"])
        problems = []
        for withdrawal in withdrawals:
            paid_at_rail = rail_paid.get(withdrawal.payout_id, 0)
            if paid_at_rail > 1:
                problems.append(f"{withdrawal.payout_id}: paid {paid_at_rail} times")
            if (withdrawal.status == WithdrawalStatus.PAID.value) != (paid_at_rail == 1):
                problems.append(
                    f"{withdrawal.payout_id}: {withdrawal.status}, rail paid {paid_at_rail}"
                )
            hold = pending_state(session, hold_id(withdrawal.id))
            expected = (
                TransferKind.POST_PENDING
                if withdrawal.status == WithdrawalStatus.PAID.value
                else TransferKind.VOID_PENDING
            )
            if hold is not expected:
                problems.append(f"{withdrawal.payout_id}: {withdrawal.status}, hold {hold}")
        known = {w.payout_id for w in withdrawals}
        problems += [f"{p}: paid at the rail, unknown here" for p in rail_paid if p not in known]
        statuses = Counter(w.status for w in withdrawals)
        checks["withdrawals_paid_at_most_once_holds_resolved"] = {
            "ok": not problems,
            "withdrawals": dict(statuses),
            "problems": problems[:20],
        }

        wallets = int(
            session.scalar(
                select(
                    func.coalesce(func.sum(Account.credits_posted - Account.debits_posted), 0)
                ).where(Account.owner_ref.like("seller:%"), Account.code.in_(WALLET_CODES))
            )
            or 0
        )
        earned = sum(o.payout_fen or 0 for o in orders if o.state == OrderState.SETTLED.value)
        withdrawn = sum(
            w.amount_fen + w.fee_fen for w in withdrawals if w.status == WithdrawalStatus.PAID.value
        )
        checks["money_conserved"] = {
            "ok": wallets == earned - withdrawn,
            "wallets_fen": wallets,
            "earned_fen": earned,
            "withdrawn_fen": withdrawn,
        }

        open_work = _open_work(session)
        failed_jobs = int(
            session.scalar(select(func.count()).select_from(Job).where(Job.status == "failed")) or 0
        )
        conflicts = sum(1 for o in orders if o.state == OrderState.CONFLICT.value)
        checks["nothing_stuck"] = {
            "ok": quiet is not None and not any(open_work.values()) and not failed_jobs,
            **open_work,
            "conflicts": conflicts,
            "failed_jobs": failed_jobs,
            "orders": dict(Counter(o.state for o in orders)),
        }

    # While PostgreSQL restarts the API answers 503 (nothing done, try again); any other 5xx,
    # or a 503 at another time, is a bug.
    outages = [(at - 1.0, at + took + OUTAGE_GRACE_SECONDS) for at, took in tally.pg_restarts]
    unexpected = [
        f"{status}: {body}"
        for at, status, body in tally.server_errors
        if status != 503 or not any(start <= at <= end for start, end in outages)
    ]
    # The nemesis did its work: a broken one would make every other check pass vacuously.
    least_kills = int(0.8 * options.seconds / options.kill_every[1])
    checks["faults_injected"] = {
        "ok": len(tally.pg_restarts) == options.pg_restarts
        and sum(tally.kills.values()) >= least_kills,
        "kills": sum(tally.kills.values()),
        "least_kills": least_kills,
        "postgres_restarts": len(tally.pg_restarts),
    }
    checks["answers"] = {
        "ok": not unexpected and not tally.replay_mismatches and not tally.unanswered,
        "server_errors_outside_restarts": unexpected[:20],
        "replay_mismatches": tally.replay_mismatches[:20],
        "unanswered": tally.unanswered,
    }
    return checks


def render(figures: dict[str, Any]) -> str:
    return json.dumps(figures, indent=2, ensure_ascii=False)
