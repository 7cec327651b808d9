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
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from huafei.bench.chaos_checks import quiesce, run_checks
from huafei.bench.chaos_processes import Process, nemesis, postgres_cluster
from huafei.bench.chaos_sellers import SellerClients, make_chaos_sellers
from huafei.bench.chaos_state import Options, Tally
from huafei.bench.common import free_port, machine
from huafei.core.clock import SystemClock
from huafei.core.db import Database
from huafei.migrations import upgrade
from huafei.rates.defaults import install_defaults
from huafei.rates.service import current_agreement


@dataclass
class _Cast:
    """The run's processes: the sandboxes, two servers and two workers."""

    sandbox: Process
    servers: list[Process]
    workers: list[Process]
    sandbox_url: str
    bases: list[str]

    @property
    def everyone(self) -> list[Process]:
        return [self.sandbox, *self.servers, *self.workers]


@dataclass
class _Timings:
    started: float
    driven: float = 0.0
    ended: float = 0.0
    quiet: float | None = None


def run_chaos(options: Options) -> dict[str, Any]:
    """The run of the module's docstring; its figures, ``ok`` when every check passed."""
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
    sellers = make_chaos_sellers(db, options.sellers, run_id)
    agreement = db.run(lambda s: current_agreement(s, SystemClock().now()))
    cast = _cast(options, url)
    tally = Tally()
    clients = SellerClients(
        options,
        rng,
        bases=cast.bases,
        sellers=sellers,
        agreement=(agreement.version, agreement.sha256),
        run_id=run_id,
        tally=tally,
    )
    timings, checks = _perform(options, cast, db, clients, nemesis_rng, cluster=cluster)
    db.dispose()
    return _figures(options, tally, timings, checks)


def _cast(options: Options, url: str) -> _Cast:
    """The processes, their logs emptied, the sandboxes' state files gone."""
    logs = options.log_dir
    logs.mkdir(parents=True, exist_ok=True)
    state = logs / "sandbox-state"
    state.mkdir(exist_ok=True)
    for old in state.iterdir():
        old.unlink()
    sandbox_port = free_port()
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    ports = [free_port() for _ in range(2)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    env = _environment(url, sandbox, logs)

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
    cast = _Cast(sandbox_process, servers, workers, sandbox, bases)
    for process in cast.everyone:
        process.log.write_bytes(b"")
    return cast


def _environment(url: str, sandbox: str, logs: Path) -> dict[str, str]:
    state = logs / "sandbox-state"
    return {
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


def _bring_up(processes: list[Process]) -> None:
    """Start the processes not running, then wait until every one is ready."""
    for process in processes:
        if not process.running:
            process.start()
    for process in processes:
        process.wait_ready()


def _perform(
    options: Options,
    cast: _Cast,
    db: Database,
    clients: SellerClients,
    nemesis_rng: random.Random,
    *,
    cluster: tuple[str, str] | None,
) -> tuple[_Timings, dict[str, Any]]:
    """Everything up; the sellers work while the nemesis kills; then everything up again, the
    quiescence awaited and the checks run. Every process is stopped at the end."""
    stop = threading.Event()
    timings = _Timings(started=time.monotonic())
    processes = cast.everyone
    try:
        _bring_up(processes)
        victims = processes if options.kill_sandbox else [*cast.servers, *cast.workers]
        killer = threading.Thread(
            target=nemesis,
            args=(options, nemesis_rng, victims),
            kwargs={
                "cluster": cluster,
                "tally": clients.tally,
                "stop": stop,
                "started": timings.started,
            },
            daemon=True,
        )
        killer.start()
        driving = time.monotonic()
        asyncio.run(clients.drive())
        timings.driven = time.monotonic() - driving
        stop.set()
        killer.join(timeout=180)
        timings.ended = time.monotonic()
        _bring_up(processes)
        timings.quiet = quiesce(db, options.quiesce_seconds)
        checks = run_checks(options, db, cast.sandbox_url, clients.tally, quiet=timings.quiet)
    finally:
        stop.set()
        for process in reversed(processes):
            process.stop()
    return timings, checks


def _figures(
    options: Options, tally: Tally, timings: _Timings, checks: dict[str, Any]
) -> dict[str, Any]:
    quiet = timings.quiet
    return {
        "seconds": round(timings.driven, 1),
        "seconds_with_start_and_stop": round(timings.ended - timings.started, 1),
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


def render(figures: dict[str, Any]) -> str:
    """The figures as JSON, as printed and written."""
    return json.dumps(figures, indent=2, ensure_ascii=False)
