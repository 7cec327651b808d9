"""`huafei bench ledger`: transfers per second through one hot account, against pgbench."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import KW_ONLY, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from huafei.bench.common import ensure_postgres_database, machine, percentile
from huafei.core.clock import SystemClock
from huafei.core.db import Database
from huafei.invariants import check_everything
from huafei.ledger import NewTransfer
from huafei.ledger.batcher import TransferBatcher
from huafei.ledger.chart import PLATFORM, Code, ensure_account
from huafei.migrations import upgrade

#: The other side of each transfer: a pool of seller wallets (the escrow account is the hot one).
WALLETS = 16


def run_ledger_bench(
    url: str, *, clients: int, seconds: float, with_pgbench: bool = True, batchers: int = 2
) -> dict[str, Any]:
    """``clients`` post transfers from the hot account for ``seconds``; the figures."""
    is_postgres = url.startswith("postgresql")
    if is_postgres:
        ensure_postgres_database(url)
    upgrade(url)
    db = Database(url, pool_size=4)
    clock = SystemClock()
    run_id = uuid.uuid4().hex[:8]
    now = clock.now()

    def setup(session: Any) -> tuple[int, list[int]]:
        hot = ensure_account(session, Code.ESCROW, PLATFORM, now=now).id
        wallets = [
            ensure_account(session, Code.WALLET_AVAILABLE, f"bench:{run_id}:{i}", now=now).id
            for i in range(WALLETS)
        ]
        return hot, wallets

    hot, wallets = db.run(setup)
    # SQLite is embedded: the writer is in this process, so the event loop runs each batch itself
    # (inline) rather than sharing the GIL with a batcher thread. PostgreSQL waits on the server,
    # so a batcher thread lets the loop prepare the next batch meanwhile.
    batcher = TransferBatcher(db, clock.now, inline=not is_postgres, threads=batchers)
    load = _Load(batcher, clients=clients, hot=hot, wallets=wallets, run_id=run_id)
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    try:
        elapsed = asyncio.run(load.drive(seconds, threaded=is_postgres))
    finally:
        sys.setswitchinterval(previous)
    batcher.close()
    with db.session() as session:
        report = check_everything(session)
    db.dispose()
    flat = [value for per_client in load.latencies for value in per_client]
    figures: dict[str, Any] = {
        "backend": "postgresql" if is_postgres else "sqlite",
        "clients": clients,
        "seconds": round(elapsed, 2),
        "transfers": len(flat),
        "failed": sum(load.failures),
        "batches": batcher.batches,
        "transfers_per_second": round(len(flat) / elapsed, 1),
        "latency_p50_ms": round(percentile(flat, 0.50) * 1000, 2),
        "latency_p99_ms": round(percentile(flat, 0.99) * 1000, 2),
        "mean_batch": round(len(flat) / max(1, batcher.batches), 1),
        "ledger_check_ok": report.ok,
        "machine": machine(),
    }
    if flat:
        figures["latency_mean_ms"] = round(statistics.fmean(flat) * 1000, 2)
    if is_postgres and with_pgbench:
        pgbench = run_pgbench(url, clients=clients, seconds=seconds)
        figures["pgbench"] = pgbench
        if pgbench.get("tps"):
            figures["ratio_to_pgbench"] = round(figures["transfers_per_second"] / pgbench["tps"], 2)
    return figures


@dataclass(eq=False)
class _Load:
    """The clients: coroutines on one event loop, each posting a transfer and waiting for it.
    Thousands of them cost nothing, and the only other busy thread is the batcher, so the GIL
    is not what is measured."""

    batcher: TransferBatcher
    _: KW_ONLY
    clients: int
    hot: int
    wallets: list[int]
    run_id: str
    latencies: list[list[float]] = field(init=False)
    failures: list[int] = field(init=False)
    _numbers: Iterator[int] = field(init=False, default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.latencies = [[] for _ in range(self.clients)]
        self.failures = [0] * self.clients

    async def drive(self, seconds: float, *, threaded: bool) -> float:
        """Post for ``seconds``; the time it took. ``threaded``: the batcher runs on its own
        thread (else this loop flushes it)."""
        loop = asyncio.get_running_loop()
        deadline = time.perf_counter() + seconds

        def resolve(future: asyncio.Future[Any], outcome: Any) -> None:
            if threaded:
                loop.call_soon_threadsafe(future.set_result, outcome)
            else:
                future.set_result(outcome)

        flushing = None if threaded else asyncio.create_task(self._flusher())
        started = time.perf_counter()
        await asyncio.gather(*(self._client(i, deadline, resolve) for i in range(self.clients)))
        elapsed = time.perf_counter() - started
        if flushing is not None:
            flushing.cancel()
        return elapsed

    async def _client(
        self,
        index: int,
        deadline: float,
        resolve: Callable[[asyncio.Future[Any], Any], None],
    ) -> None:
        loop = asyncio.get_running_loop()
        while time.perf_counter() < deadline:
            future: asyncio.Future[Any] = loop.create_future()
            started = time.perf_counter()
            self.batcher.submit(
                NewTransfer(
                    # time-ordered ids, as an order-number or ULID generator gives them
                    id=f"bench:{self.run_id}:{next(self._numbers):012d}",
                    debit_account_id=self.hot,
                    credit_account_id=self.wallets[index % WALLETS],
                    amount=100,
                    code=1,
                ),
                partial(resolve, future),
            )
            result = await future
            self.latencies[index].append(time.perf_counter() - started)
            if isinstance(result, BaseException) or not result.ok:
                self.failures[index] += 1

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(0)
            if self.batcher.flush() == 0:
                await asyncio.sleep(0.0005)


def find_pgbench() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    return str(candidates[-1]) if candidates else None


def run_pgbench(url: str, *, clients: int, seconds: float) -> dict[str, Any]:
    """pgbench's TPC-B-like default script at scale 1 on a scratch database of the same server."""
    binary = find_pgbench()
    if binary is None:
        return {"skipped": "pgbench not found"}
    parsed = make_url(url)
    scratch = parsed.set(database="huafei_pgbench")
    ensure_postgres_database(scratch.render_as_string(hide_password=False))
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    conn = [
        "-h", parsed.host or "127.0.0.1",
        "-p", str(parsed.port or 5432),
        "-U", parsed.username or "postgres",
    ]  # fmt: skip
    subprocess.run(
        [binary, *conn, "-i", "-s", "1", "-q", "huafei_pgbench"],
        check=True,
        capture_output=True,
        env=env,
    )
    out = subprocess.run(
        [binary, *conn, "-c", str(clients), "-j", str(clients), "-T", str(max(1, int(seconds))),
         "huafei_pgbench"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )  # fmt: skip
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", out.stdout)
    return {
        "tps": float(match.group(1)) if match else None,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "clients": clients,
        "scale": 1,
    }
