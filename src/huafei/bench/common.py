"""What the benchmarks share: their database, the machine's description, percentiles, ports,
sellers with a session, waiting for a process to be ready, and for the trades of a run (card
orders, balance sales) to be final, with the figures of their settlement."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from huafei.core.clock import SystemClock
from huafei.core.db import Database
from huafei.core.settings import Settings
from huafei.identity.models import (
    ID_NUMBER_CONTEXT,
    REAL_NAME_CONTEXT,
    SERVICE_PASSWORD_CONTEXT,
    Seller,
)
from huafei.identity.service import sessions
from huafei.identity.service.kyc import id_number_hash
from huafei.identity.service.oplog import Origin


def ensure_postgres_database(url: str, *, fresh: bool = False) -> None:
    """Create the database named in ``url`` if it does not exist.

    With ``fresh``, a benchmark's own database (its name starts with ``huafei_bench``) is dropped
    first, so every run starts from the same empty state; any other database is left alone.
    """
    parsed = make_url(url)
    admin = create_engine(
        parsed.set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        if fresh and (parsed.database or "").startswith("huafei_bench"):
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        ).scalar()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of the values lie (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def free_port() -> int:
    """A port free on 127.0.0.1 now (a process started next binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seller_phones(count: int, run_id: str, prefix: str = "137") -> list[str]:
    """The numbers of a run's sellers: ``prefix`` then digits from the run id (11 in all)."""
    width = 11 - len(prefix)
    base = int(uuid.UUID(int=int(run_id, 16)).int % 10**7)
    return [f"{prefix}{(base + index) % 10**width:0{width}d}" for index in range(count)]


def make_sellers(db: Database, count: int, run_id: str, *, phone_prefix: str = "137") -> list[str]:
    """Verified (L3) sellers with an open session each, as if they had signed up and passed KYC;
    their numbers are ``seller_phones(count, run_id, phone_prefix)``."""
    clock = SystemClock()
    now = clock.now()
    keyring = Settings().keyring()
    phones = seller_phones(count, run_id, phone_prefix)

    def work(session: Session) -> list[str]:
        tokens = []
        for index in range(count):
            seller = Seller(
                phone=phones[index],
                carrier="cmcc",
                tier=3,
                real_name_enc=keyring.encrypt("测试卖家", context=REAL_NAME_CONTEXT),
                id_number_enc=keyring.encrypt(f"bench-{run_id}-{index}", context=ID_NUMBER_CONTEXT),
                id_number_hash=id_number_hash(keyring, f"bench-{run_id}-{index}"),
                verification_ref="bench",
                l2_verified_at=now,
                service_password_enc=keyring.encrypt(
                    f"bench-{index}", context=SERVICE_PASSWORD_CONTEXT
                ),
                l3_verified_at=now,
                created_at=now,
                updated_at=now,
            )
            session.add(seller)
            session.flush()
            tokens.append(
                sessions.open_session(
                    session,
                    kind=sessions.SessionKind.BEARER,
                    origin=Origin(ip="127.0.0.1"),
                    now=now,
                    seller_id=seller.id,
                ).token
            )
        return tokens

    return db.run(work)


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until ``{url}/healthz`` answers 200; raises when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the platform process exited while starting")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the platform did not become healthy")


def wait_started(log: Path, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until a worker's log says it started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("a worker exited while starting")
        if b"started" in log.read_bytes():
            return
        time.sleep(0.1)
    raise RuntimeError("a worker did not start")


def drain(
    db: Database, trades: Any, *, since: datetime, final: Collection[str], timeout: float
) -> None:
    """Wait for the trades (a table with ``state`` and ``created_at``: ``Order``,
    ``BalanceSale``) made since ``since`` to reach a ``final`` state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        still_open = db.run(
            lambda s: s.scalar(
                select(func.count()).where(
                    trades.created_at >= since, trades.state.not_in(list(final))
                )
            )
        )
        if not still_open:
            return
        time.sleep(0.5)


@dataclass(frozen=True)
class Settled:
    """How the trades of a run settled: how many, how fast, how long each took."""

    states: list[str]
    settled: int
    per_second: float
    p50_ms: float
    p99_ms: float


def settled_figures(db: Database, trades: Any, *, since: datetime, settled: str) -> Settled:
    """The trades made since ``since`` (a table with ``state``, ``created_at``,
    ``settled_at``): settled per second from the first trade to the last settlement (the drain
    included), and p50/p99 from the trade to settled."""
    rows = db.run(
        lambda s: list(
            s.execute(
                select(trades.state, trades.created_at, trades.settled_at).where(
                    trades.created_at >= since
                )
            )
        )
    )
    done = [r for r in rows if r.state == settled and r.settled_at]
    span = (
        (max(r.settled_at for r in done) - min(r.created_at for r in rows)).total_seconds()
        if done
        else 0.0
    )
    latencies = [(r.settled_at - r.created_at).total_seconds() for r in done]
    return Settled(
        states=[str(r.state) for r in rows],
        settled=len(done),
        per_second=round(len(done) / span, 1) if span else 0.0,
        p50_ms=round(percentile(latencies, 0.50) * 1000, 1),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 1),
    )
