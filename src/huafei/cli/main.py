"""The `huafei` command line for operators: every command, by group.

Bad input — an unknown option or rail, a date that is not one, an unreadable file, an amount
that is not one, a setting that does not parse — is answered with one line on stderr and exit
status 2, never a traceback (``base.HuafeiCli``). A database that does not answer is one line
and exit 1. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import typer

from huafei.cli import bench, money, operations, sandbox, server
from huafei.cli.base import HuafeiCli

app = typer.Typer(
    cls=HuafeiCli,
    help="Huafei: the phone-credit recycling platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(server.migrate)
app.command("demo-data")(server.demo_data)
app.command()(server.serve)
app.command()(server.worker)
app.command()(server.run)
app.command()(money.reconcile)
app.command("sweep-revenue")(money.sweep_revenue)
app.add_typer(operations.calendar_app, name="calendar")
app.add_typer(sandbox.sandbox_app, name="sandbox")
app.add_typer(operations.orders_app, name="orders")
app.add_typer(money.ledger_app, name="ledger")
app.add_typer(bench.bench_app, name="bench")
app.add_typer(operations.staff_app, name="staff")
app.add_typer(operations.keys_app, name="keys")
app.add_typer(server.config_app, name="config")


if __name__ == "__main__":  # pragma: no cover
    app()
