"""`huafei bench orders`: signed-in sellers submit cards over HTTP; the carrier sandbox calls back
over HTTP; workers settle on the real-time profile. Reports orders/s submitted and settled and the
time from submission to settled (p50/p99), measured from the orders' own timestamps.

Everything shares the machine: the load generator (this process), the platform (``servers``
`huafei serve` processes), the carrier sandboxes (one `huafei sandbox serve` process, as a real
channel is a service of its own), the workers (`huafei worker` processes) and the database.

Each client submits for several sellers in turn, so the sellers' daily limits (SPEC §6) do not
cap the run: a seller takes at most ``CARDS_PER_SELLER`` cards.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from huafei.bench.common import (
    drain,
    ensure_postgres_database,
    free_port,
    machine,
    make_sellers,
    settled_figures,
    wait_healthy,
    wait_started,
)
from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import SandboxCard, issue_cards
from huafei.core.clock import SystemClock
from huafei.core.db import Database
from huafei.core.settings import Settings
from huafei.invariants import check_everything
from huafei.migrations import upgrade
from huafei.orders.models import Order, OrderState
from huafei.rates.defaults import install_defaults
from huafei.rates.service import current_agreement

FACE_FEN = 10_000
#: cards one seller submits in a run; the L3 daily card-sale limit is ¥50,000 (500 × ¥100)
CARDS_PER_SELLER = 400


def run_orders_bench(
    url: str,
    *,
    clients: int,
    seconds: float,
    workers: int = 2,
    servers: int = 1,
    cards_per_request: int = 1,
    rate: float = 0.0,
    warmup: float = 10.0,
    log_dir: Path | None = None,
) -> dict[str, Any]:
    """The run of the module's docstring; its figures."""
    is_postgres = url.startswith("postgresql")
    if is_postgres:
        # A fresh database each run: a queue table full of a previous run's finished jobs
        # (and their dead tuples) slows the claims and would make runs incomparable.
        ensure_postgres_database(url, fresh=True)
    upgrade(url)
    db = Database(url, pool_size=4)
    db.run(lambda s: install_defaults(s, now=SystemClock().now()))
    run = _Sellers.make(db, clients=clients, seconds=seconds)
    warm = _Sellers.make(db, clients=clients, seconds=warmup) if warmup else None
    current = db.run(lambda s: current_agreement(s, SystemClock().now()))
    platform = Platform(url, servers=servers, workers=workers, logs=log_dir)
    try:
        platform.start()
        load = _Load(
            bases=platform.bases,
            agreement={"version": current.version, "sha256": current.sha256},
            secret=Settings().sandbox_card_secret.get_secret_value(),
            clients=clients,
            cards_per_request=cards_per_request,
            rate=rate,
        )
        if warm is not None:
            _warm_up(db, load, warm, seconds=warmup, analyze=is_postgres)
        started_at = SystemClock().now()
        submitted, refused, request_errors = asyncio.run(_drive(load, run, seconds=seconds))
        ended_at = SystemClock().now()
        _drain(db, started_at, timeout=max(120.0, seconds * 10))
    finally:
        platform.stop()
    figures = _figures(db, started_at, ended_at, submitted, refused)
    with db.session() as session:
        figures["ledger_check_ok"] = check_everything(session).ok
    db.dispose()
    figures.update(
        backend="postgresql" if is_postgres else "sqlite",
        clients=clients,
        workers=workers,
        servers=servers,
        cards_per_request=cards_per_request,
        request_errors=request_errors,
        offered_rate=rate or None,
        warmup_seconds=warmup,
        seconds=round((ended_at - started_at).total_seconds(), 2),
        machine=machine(),
    )
    return figures


@dataclass(frozen=True)
class _Sellers:
    """Sellers enough for 1,000 cards a second for ``seconds``, whatever the client count;
    each client submits for ``per_client`` of them in turn."""

    run_id: str
    tokens: list[str]
    per_client: int

    @classmethod
    def make(cls, db: Database, *, clients: int, seconds: float) -> _Sellers:
        run_id = uuid.uuid4().hex[:8]
        per_client = max(1, math.ceil(seconds * 1000 / (clients * CARDS_PER_SELLER)))
        return cls(run_id, make_sellers(db, clients * per_client, run_id), per_client)


@dataclass(frozen=True)
class _Load:
    """Where the clients submit, what, and how fast (``rate`` cards a second; 0: at once)."""

    bases: list[str]
    agreement: dict[str, str]
    secret: str
    clients: int
    cards_per_request: int
    rate: float


class Platform:
    """The processes: the carrier sandboxes, ``servers`` servers and ``workers`` workers (the
    balance mode, ``bench/balance.py``, runs the same)."""

    def __init__(self, url: str, *, servers: int, workers: int, logs: Path | None) -> None:
        self.servers = servers
        self.workers = workers
        self.sandbox_port = free_port()
        ports = [free_port() for _ in range(servers)]
        self.bases = [f"http://127.0.0.1:{port}" for port in ports]
        env = {
            **os.environ,
            "HUAFEI_DATABASE_URL": url,
            "HUAFEI_WORKER_IN_PROCESS": "false",
            "HUAFEI_CARRIER_BASE_URL": f"http://127.0.0.1:{self.sandbox_port}/sandbox/carriers",
            "HUAFEI_SANDBOX_CALLBACK_DELAY_MS": "50",
            "HUAFEI_LOG_LEVEL": "WARNING",
            # Not "production": that refuses the sandboxes and SQLite the bench runs on. "test"
            # runs the same code on the hot path (no development SMS log lines).
            "HUAFEI_ENV": "test",
        }
        # Workers name their server as the callback address: callbacks spread over the servers.
        self.envs = [
            env | {"HUAFEI_PORT": str(port), "HUAFEI_PUBLIC_BASE_URL": base}
            for port, base in zip(ports, self.bases, strict=True)
        ]
        self.logs = logs or Path("var/bench/logs")
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: list[subprocess.Popen[bytes]] = []

    def _start(self, args: list[str], environment: dict[str, str], log_name: str) -> None:
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "huafei", *args],
                env=environment,
                stdout=(self.logs / log_name).open("wb"),
                stderr=subprocess.STDOUT,
            )
        )

    def start(self) -> None:
        """Everything started; returns once the servers answer and the workers claim work."""
        self._start(
            ["sandbox", "serve", "--port", str(self.sandbox_port)],
            self.envs[0],
            "orders-sandbox.log",
        )
        for index in range(self.servers):
            self._start(["serve"], self.envs[index], f"orders-serve-{index}.log")
        for index, base in enumerate([f"http://127.0.0.1:{self.sandbox_port}", *self.bases]):
            wait_healthy(base, self.processes[index])
        for index in range(self.workers):
            self._start(["worker"], self.envs[index % self.servers], f"orders-worker-{index}.log")
        # Load starts once every worker has loaded the platform and is claiming work, as in
        # production, where workers run before traffic arrives.
        for index in range(self.workers):
            log = self.logs / f"orders-worker-{index}.log"
            wait_started(log, self.processes[1 + self.servers + index])

    def stop(self) -> None:
        """Every process terminated (killed when it takes too long)."""
        for process in reversed(self.processes):
            process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _warm_up(
    db: Database, load: _Load, sellers: _Sellers, *, seconds: float, analyze: bool
) -> None:
    """The same load for a while first, not counted: the processes warm up and the database has
    rows and statistics, as it has in service. A fresh database's first plans are made for empty
    tables, and PostgreSQL keeps a prepared statement's generic plan (a sequential scan) as the
    table grows until autovacuum analyzes it — a minute of load later."""
    warm_started = SystemClock().now()
    asyncio.run(_drive(load, sellers, seconds=seconds))
    _drain(db, warm_started, timeout=max(120.0, seconds * 10))
    if analyze:
        with db.engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()


async def _drive(
    load: _Load, sellers: _Sellers, *, seconds: float
) -> tuple[int, int, dict[str, int]]:
    """The clients submit for ``seconds``: cards submitted, cards refused, request errors."""
    deadline = time.monotonic() + seconds
    counts = {"submitted": 0, "refused": 0}
    errors: dict[str, int] = {}
    # Sequence numbers unique to this run, so cards are fresh even on a reused database.
    offset = (int(sellers.run_id, 16) % 1000) * 10_000_000
    cards_per_request, rate = load.cards_per_request, load.rate

    started = time.monotonic()
    # With a rate, client i sends its k-th request at (k × clients + i) × cards a request / rate
    # seconds (an offered load that does not slow down when the platform does).
    interval = load.clients * cards_per_request / rate if rate else 0.0

    async def client(index: int, http: httpx.AsyncClient) -> None:
        number = 0
        mine = sellers.tokens[index * sellers.per_client : (index + 1) * sellers.per_client]
        while time.monotonic() < deadline:
            if interval:
                due = started + (number // cards_per_request) * interval
                due += index * cards_per_request / rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            token = mine[min(number // CARDS_PER_SELLER, len(mine) - 1)]
            cards = issue_cards(
                load.secret,
                Carrier.CMCC,
                FACE_FEN,
                cards_per_request,
                start=offset + index * 100_000 + number,
            )
            number += cards_per_request
            path, body = _order_request(cards, load.agreement)
            try:
                response = await http.post(
                    f"{load.bases[index % len(load.bases)]}{path}",
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Idempotency-Key": f"{sellers.run_id}:{index}:{number}",
                    },
                    json=body,
                )
            except httpx.HTTPError as exc:
                # Counted, not fatal: the figures say how many requests got no answer.
                counts["refused"] += cards_per_request
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            if response.status_code == 201:
                counts["submitted"] += len(response.json()["orders"])
            else:
                counts["refused"] += cards_per_request

    limits = httpx.Limits(max_connections=load.clients, max_keepalive_connections=load.clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(load.clients)))
    return counts["submitted"], counts["refused"], errors


def _order_request(
    cards: list[SandboxCard], agreement: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """The path and body submitting ``cards``: one card alone, more as a batch."""
    body: dict[str, Any] = {
        "profile": "third_party",
        "carrier": "cmcc",
        "face_value_fen": FACE_FEN,
        "agreement_version": agreement["version"],
        "agreement_sha256": agreement["sha256"],
        "lawful_source_confirmed": True,
    }
    if len(cards) == 1:
        return "/api/v1/orders", body | {"serial": cards[0].serial, "pin": cards[0].pin}
    return "/api/v1/orders/batch", body | {"cards": "\n".join(f"{c.serial} {c.pin}" for c in cards)}


def _drain(db: Database, since: datetime, *, timeout: float) -> None:
    """Wait for the orders submitted during the run to reach a final state."""
    drain(db, Order, since=since, final=[s.value for s in OrderState if s.final], timeout=timeout)


def _figures(
    db: Database, started_at: datetime, ended_at: datetime, submitted: int, refused: int
) -> dict[str, Any]:
    result = settled_figures(db, Order, since=started_at, settled=OrderState.SETTLED.value)
    window = max((ended_at - started_at).total_seconds(), 1e-9)
    final = {s.value for s in OrderState if s.final}
    return {
        "orders_submitted": submitted,
        "submissions_refused": refused,
        "orders_settled": result.settled,
        "orders_not_final": sum(1 for state in result.states if state not in final),
        "submitted_per_second": round(submitted / window, 1),
        "settled_per_second": result.per_second,
        "latency_p50_ms": result.p50_ms,
        "latency_p99_ms": result.p99_ms,
    }
