"""`huafei bench`: the benchmarks and the chaos run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from huafei.cli.base import print_and_save
from huafei.core.logging import configure_logging
from huafei.core.settings import Settings

bench_app = typer.Typer(
    help="Benchmarks that print and record their figures.", no_args_is_help=True
)
DatabaseUrl = Annotated[str | None, typer.Option(help="database (default: HUAFEI_DATABASE_URL)")]
JsonPath = Annotated[Path | None, typer.Option("--json", help="write the figures as JSON here")]


def _quiet() -> Settings:
    """Turn the platform's logs down to warnings (the figures are the output); the settings."""
    settings = Settings()
    configure_logging("WARNING", json=settings.log_json)
    return settings


@bench_app.command("orders")
def bench_orders(
    clients: int = typer.Option(16, min=1, max=1000, help="concurrent sellers submitting cards"),
    seconds: float = typer.Option(20.0, min=0.1, max=86_400, help="how long to submit"),
    workers: int = typer.Option(2, min=0, max=64, help="worker processes"),
    servers: int = typer.Option(1, min=1, max=64, help="platform (`huafei serve`) processes"),
    rate: float = typer.Option(
        0.0,
        min=0,
        max=100_000,
        help="offered load in cards/s, spread over the clients (0: as fast as they can)",
    ),
    cards_per_request: int = typer.Option(
        1, min=1, max=1000, help="cards in each submission (1: single card)"
    ),
    warmup: float = typer.Option(
        10.0,
        min=0,
        max=3600,
        help="seconds of the same load first, not counted (then ANALYZE on PostgreSQL)",
    ),
    database_url: DatabaseUrl = None,
    json_path: JsonPath = None,
    balance: bool = typer.Option(
        False,
        "--balance",
        help="sellers sell their numbers' balance instead of cards (no warm-up, rate or batches)",
    ),
) -> None:
    """Sellers submit cards over HTTP, sandboxes call back, workers settle; orders/s and p50/p99.

    With ``--balance`` they sell balance in the API's five steps; sales/s and p50/p99."""
    from huafei.bench.balance import run_balance_bench
    from huafei.bench.orders import run_orders_bench

    settings = _quiet()
    if balance:
        figures = run_balance_bench(
            database_url or settings.database_url,
            clients=clients,
            seconds=seconds,
            workers=workers,
            servers=servers,
        )
        print_and_save(json.dumps(figures, indent=2), json_path)
        return
    figures = run_orders_bench(
        database_url or settings.database_url,
        clients=clients,
        seconds=seconds,
        workers=workers,
        servers=servers,
        cards_per_request=cards_per_request,
        rate=rate,
        warmup=warmup,
    )
    print_and_save(json.dumps(figures, indent=2), json_path)


@bench_app.command("chaos")
def bench_chaos(
    seconds: float = typer.Option(120.0, min=5, max=7200, help="how long the sellers work"),
    clients: int = typer.Option(8, min=1, max=64, help="concurrent clients"),
    sellers: int = typer.Option(250, min=2, max=1000, help="sellers the clients act for"),
    kill_every_min: float = typer.Option(3.0, min=0.5, max=600, help="least pause between kills"),
    kill_every_max: float = typer.Option(6.0, min=0.5, max=600, help="most pause between kills"),
    pg_restarts: int = typer.Option(1, min=0, max=20, help="PostgreSQL restarts during the run"),
    kill_sandbox: bool = typer.Option(
        False, "--kill-sandbox", help="the sandboxes (carriers and rails) are killed too"
    ),
    quiesce_seconds: float = typer.Option(
        300.0, min=10, max=3600, help="how long to wait for everything to end after the run"
    ),
    seed: int | None = typer.Option(None, help="random seed (a run is still timing-dependent)"),
    database_url: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/huafei_chaos",
        help="a PostgreSQL database named huafei_chaos*, dropped and created afresh",
    ),
    log_dir: Path = typer.Option(Path("var/chaos"), help="the processes' logs and state"),
    json_path: JsonPath = None,
) -> None:
    """Servers, workers and sandboxes killed at random and PostgreSQL restarted while sellers
    sell cards and withdraw; then every invariant is checked. Exit 1 if one fails."""
    from huafei.bench.chaos import render, run_chaos
    from huafei.bench.chaos_state import Options

    _quiet()
    if kill_every_max < kill_every_min:
        raise typer.BadParameter("--kill-every-max is below --kill-every-min")
    figures = run_chaos(
        Options(
            database_url=database_url,
            seconds=seconds,
            clients=clients,
            sellers=sellers,
            kill_every=(kill_every_min, kill_every_max),
            pg_restarts=pg_restarts,
            kill_sandbox=kill_sandbox,
            quiesce_seconds=quiesce_seconds,
            log_dir=log_dir,
            seed=seed,
        )
    )
    print_and_save(render(figures), json_path)
    for name, check in figures["checks"].items():
        typer.echo(f"{'ok  ' if check['ok'] else 'FAIL'} {name}")
    raise typer.Exit(0 if figures["ok"] else 1)


@bench_app.command("ledger")
def bench_ledger(
    clients: int = typer.Option(8, min=1, max=4096, help="concurrent clients"),
    seconds: float = typer.Option(10.0, min=0.1, max=86_400, help="how long to post"),
    database_url: DatabaseUrl = None,
    pgbench: bool = typer.Option(
        True, "--pgbench/--no-pgbench", help="also run pgbench on PostgreSQL"
    ),
    json_path: JsonPath = None,
) -> None:
    """Post transfers that all touch one hot account; print transfers/s and latency."""
    from huafei.bench.ledger import run_ledger_bench

    settings = _quiet()
    figures = run_ledger_bench(
        database_url or settings.database_url,
        clients=clients,
        seconds=seconds,
        with_pgbench=pgbench,
    )
    print_and_save(json.dumps(figures, indent=2), json_path)
