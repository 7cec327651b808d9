"""`huafei` commands on money: the ledger's check and expiry, reconciliation, the revenue sweep."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer

from huafei.cli.base import (
    cli_container,
)
from huafei.payouts.models import RailName

ledger_app = typer.Typer(help="Inspect and maintain the ledger.", no_args_is_help=True)


@ledger_app.command("check")
def ledger_check() -> None:
    """Verify every ledger invariant; exit 1 with a report of each violation."""
    from huafei.invariants import check_everything

    container = cli_container()
    with container.db.session() as session:
        report = check_everything(session)
    typer.echo(report.render())
    raise typer.Exit(0 if report.ok else 1)


@ledger_app.command("expire")
def ledger_expire() -> None:
    """Expire pending transfers whose timeout has passed (safe to run twice)."""
    from huafei.ledger import expire_pending_transfers

    container = cli_container()
    now = container.clock.now()
    count = container.db.run(lambda s: expire_pending_transfers(s, now=now))
    typer.echo(f"expired {count} pending transfer(s)")


def reconcile(
    rail: RailName = typer.Option(..., help="bank, alipay, wechat, ecny or carrier_wallet"),
    day: datetime = typer.Option(
        ..., "--date", formats=["%Y-%m-%d"], help="statement day (Beijing time), YYYY-MM-DD"
    ),
    file: Path | None = typer.Option(
        None,
        "--file",
        exists=True,
        dir_okay=False,
        readable=True,
        help="the rail's statement file (default: fetch it from the rail)",
    ),
) -> None:
    """Reconcile a rail's daily statement with our payouts and the ledger.

    Prints the summary; exit 1 when real differences were found (cases for finance).
    """
    from huafei.payouts.service.reconcile import reconcile_statement

    rail_name = rail
    statement_day: date = day.date()
    container = cli_container()
    payouts = container.payouts
    if file is not None:
        data, source = file.read_bytes(), file.name
    else:
        data, source = payouts.rail(rail_name).fetch_statement(statement_day), "rail"
    report = container.db.run(
        lambda s: reconcile_statement(
            s,
            payouts=payouts,
            rail=rail_name,
            day=statement_day,
            data=data,
            source=source,
            now=container.clock.now(),
        )
    )
    typer.echo(report.render())
    for line in report.lines:
        if line["category"] != "matched":
            typer.echo(f"  - {line['category']}: {line['payout_id']} {line['note']}")
    open_cases = sum(
        count
        for name, count in report.counts.items()
        if name not in ("matched", "timing_difference")
    )
    raise typer.Exit(1 if open_cases else 0)


def sweep_revenue(
    operator: int = typer.Option(
        ..., min=1, max=2**63 - 1, help="staff id of the operator (logged with the sweep)"
    ),
    amount: str | None = typer.Option(None, help="yuan to sweep (default: the whole margin)"),
    note: str = typer.Option("", help="why"),
) -> None:
    """Move platform revenue from escrow to own funds: an explicit, logged transfer."""
    from huafei.core.money import Money
    from huafei.payouts.escrow import sweep_revenue as sweep

    fen = Money.parse(amount).fen if amount else None
    container = cli_container()
    done = container.db.run(
        lambda s: sweep(
            s, operator_id=operator, now=container.clock.now(), amount_fen=fen, note=note
        )
    )
    typer.echo(
        f"swept {Money(done.amount_fen)} from escrow to own funds "
        f"(transfer {done.transfer_id}, operator {operator})"
    )
