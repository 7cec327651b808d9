"""`huafei bench orders --balance`: signed-in sellers sell their numbers' balance over HTTP, in
the five steps of the API (authorisation, the carrier's code read from the sandbox's outbox,
the balance, the quote, the sale); workers have the carrier sandbox transfer it and settle on
the real-time profile. Reports sales/s made and settled and the time from the sale to settled
(p50/p99), from the sales' own timestamps.

The processes are the orders benchmark's (``orders.Platform``). Sellers' numbers are the
sandbox's derived numbers (``carriers.sandbox_numbers.derived_number``: ¥500 each, a service
password from the sandbox secret); each sells ``SALES_PER_SELLER`` × ¥80, within the carrier's
¥500 a month and the level-3 ¥500 a day.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session

from huafei.balance.models import BalanceSale, SaleState
from huafei.balance.service.rules import install_receiving_numbers
from huafei.bench.common import (
    drain,
    ensure_postgres_database,
    machine,
    make_sellers,
    seller_phones,
    settled_figures,
)
from huafei.bench.orders import Platform
from huafei.carriers.sandbox_numbers import DERIVED_PREFIX, RECEIVING_NUMBERS, derived_number
from huafei.core.clock import SystemClock
from huafei.core.db import Database
from huafei.core.settings import Settings
from huafei.invariants import check_everything
from huafei.migrations import upgrade
from huafei.rates.defaults import install_defaults
from huafei.rates.service import current_agreement

SALE_FEN = 8_000
SALES_PER_SELLER = 6
#: sellers are made for this many sales a second at most
MAX_RATE = 50
API = "/api/v1/balance"


@dataclass(frozen=True)
class _Seller:
    token: str
    phone: str
    password: str


def run_balance_bench(
    url: str,
    *,
    clients: int,
    seconds: float,
    workers: int = 2,
    servers: int = 1,
    log_dir: Path | None = None,
) -> dict[str, Any]:
    """The run of the module's docstring; its figures."""
    is_postgres = url.startswith("postgresql")
    if is_postgres:
        ensure_postgres_database(url, fresh=True)
    upgrade(url)
    db = Database(url, pool_size=4)
    db.run(_install)
    sellers = _make_sellers(db, clients=clients, seconds=seconds)
    current = db.run(lambda s: current_agreement(s, SystemClock().now()))
    agreement = {"agreement_version": current.version, "agreement_sha256": current.sha256}
    platform = Platform(url, servers=servers, workers=workers, logs=log_dir)
    try:
        platform.start()
        codes = f"http://127.0.0.1:{platform.sandbox_port}/sandbox/carriers/cmcc/control/codes"
        started_at = SystemClock().now()
        made, refused, errors = asyncio.run(
            _drive(platform.bases, codes, agreement, sellers, clients=clients, seconds=seconds)
        )
        ended_at = SystemClock().now()
        final = [SaleState.SETTLED.value, SaleState.FAILED.value]
        drain(db, BalanceSale, since=started_at, final=final, timeout=max(120.0, seconds * 10))
    finally:
        platform.stop()
    figures = _figures(db, started_at, ended_at, made, refused)
    with db.session() as session:
        figures["ledger_check_ok"] = check_everything(session).ok
    db.dispose()
    figures.update(
        mode="balance",
        backend="postgresql" if is_postgres else "sqlite",
        clients=clients,
        workers=workers,
        servers=servers,
        request_errors=errors,
        seconds=round((ended_at - started_at).total_seconds(), 2),
        machine=machine(),
    )
    return figures


def _install(session: Session) -> None:
    now = SystemClock().now()
    install_defaults(session, now=now)
    install_receiving_numbers(
        session, {c.value: phones for c, phones in RECEIVING_NUMBERS.items()}, now=now
    )


def _make_sellers(db: Database, *, clients: int, seconds: float) -> list[_Seller]:
    run_id = uuid.uuid4().hex[:8]
    count = clients * max(1, math.ceil(seconds * MAX_RATE / (clients * SALES_PER_SELLER)))
    tokens = make_sellers(db, count, run_id, phone_prefix=DERIVED_PREFIX)
    secret = Settings().sandbox_card_secret.get_secret_value()
    sellers = []
    for token, phone in zip(tokens, seller_phones(count, run_id, DERIVED_PREFIX), strict=True):
        number = derived_number(secret, phone)
        if number is None:  # pragma: no cover - the prefix is the derived block's
            raise RuntimeError(f"{phone} is not a derived sandbox number")
        sellers.append(_Seller(token, phone, number.service_password))
    return sellers


async def _drive(
    bases: list[str],
    codes: str,
    agreement: dict[str, str],
    sellers: list[_Seller],
    *,
    clients: int,
    seconds: float,
) -> tuple[int, int, dict[str, int]]:
    """The clients sell for ``seconds``, each for its share of the sellers in turn: sales made,
    sales refused, request errors by kind."""
    deadline = time.monotonic() + seconds
    counts = {"made": 0, "refused": 0}
    errors: dict[str, int] = {}
    share = max(1, len(sellers) // clients)

    async def client(index: int, http: httpx.AsyncClient) -> None:
        base = bases[index % len(bases)]
        mine = sellers[index * share : (index + 1) * share]
        for number in range(len(mine) * SALES_PER_SELLER):
            if time.monotonic() >= deadline:
                return
            seller = mine[number // SALES_PER_SELLER]
            try:
                made = await _sell(http, base, codes, agreement, seller, key=f"{index}:{number}")
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                made = False
            counts["made" if made else "refused"] += 1

    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    return counts["made"], counts["refused"], errors


async def _sell(
    http: httpx.AsyncClient,
    base: str,
    codes: str,
    agreement: dict[str, str],
    seller: _Seller,
    *,
    key: str,
) -> bool:
    """One sale in the API's steps; whether it was made."""
    auth = {"Authorization": f"Bearer {seller.token}"}
    started = await http.post(
        f"{base}{API}/authorisations",
        headers=auth,
        json={"phone": seller.phone, "service_password": seller.password},
    )
    if started.status_code != 201:
        return False
    authorisation = started.json()["id"]
    texted = (await http.get(codes, params={"phone": seller.phone})).json()
    confirmed = await http.post(
        f"{base}{API}/authorisations/{authorisation}/code",
        headers=auth,
        json={"code": texted[0]["code"]},
    )
    balance = await http.get(f"{base}{API}/authorisations/{authorisation}/balance", headers=auth)
    if confirmed.status_code != 200 or balance.status_code != 200:
        return False
    quote = await http.post(
        f"{base}{API}/quotes",
        headers=auth,
        json={"authorisation_id": authorisation, "amount_fen": SALE_FEN},
    )
    if quote.status_code != 201:
        return False
    sale = await http.post(
        f"{base}{API}/sales",
        headers=auth | {"Idempotency-Key": f"bench:{seller.phone}:{key}"},
        json={
            "authorisation_id": authorisation,
            "quote_id": quote.json()["quote_id"],
            "lawful_source_confirmed": True,
            **agreement,
        },
    )
    return sale.status_code == 201


def _figures(
    db: Database, started_at: datetime, ended_at: datetime, made: int, refused: int
) -> dict[str, Any]:
    result = settled_figures(db, BalanceSale, since=started_at, settled=SaleState.SETTLED.value)
    window = max((ended_at - started_at).total_seconds(), 1e-9)
    return {
        "sales_made": made,
        "sales_refused": refused,
        "sales_settled": result.settled,
        "sales_failed": result.states.count(SaleState.FAILED.value),
        "sales_per_second": round(made / window, 1),
        "settled_per_second": result.per_second,
        "latency_p50_ms": result.p50_ms,
        "latency_p99_ms": result.p99_ms,
    }
