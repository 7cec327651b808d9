"""The `huafei` command line for operators.

Bad input — an unknown option or rail, a date that is not one, an unreadable file, an amount
that is not one, a setting that does not parse — is answered with one line on stderr and exit
status 2, never a traceback (``HuafeiCli.main``). A database that does not answer is one line
and exit 1. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic
import typer
from alembic.util.exc import CommandError
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from typer.core import TyperGroup

from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import SandboxCardKind
from huafei.container import Container, build_container
from huafei.core.errors import HuafeiError
from huafei.core.logging import configure_logging
from huafei.core.settings import Settings
from huafei.payouts.models import RailName

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from huafei.identity.service.oplog import Actor

#: bad input: the caller can fix it
USAGE_EXIT = 2
#: the command ran and failed for a reason outside the input (the database did not answer)
FAILED_EXIT = 1


def _one_line(text: str) -> str:
    # typer's coercion prefixes pydantic's "Value error, " to a value's message
    return " ".join(text.split()).replace("Value error, ", "")


def _setting_errors(exc: pydantic.ValidationError) -> str:
    return "; ".join(
        f"HUAFEI_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
        for error in exc.errors()
    )


class HuafeiCli(TyperGroup):
    """The top-level command: every error a user can cause becomes one line on stderr."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            outcome = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = outcome if isinstance(outcome, int) else 0
        except typer.TyperException as exc:  # usage errors: bad option, value, file …
            code = _usage_error(exc)
        except typer.Abort:
            typer.echo("aborted", err=True)
            code = FAILED_EXIT
        except HuafeiError as exc:
            typer.echo(f"error: {_one_line(exc.detail)} ({exc.code})", err=True)
            code = USAGE_EXIT
        except pydantic.ValidationError as exc:
            typer.echo(f"error: invalid setting: {_one_line(_setting_errors(exc))}", err=True)
            code = USAGE_EXIT
        except ArgumentError as exc:
            typer.echo(f"error: invalid setting: {_one_line(str(exc))}", err=True)
            code = USAGE_EXIT
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            typer.echo(
                f"error: database: {reason} (is it running, and migrated: `huafei migrate`?)",
                err=True,
            )
            code = FAILED_EXIT
        except CommandError as exc:
            typer.echo(f"error: migrations: {_one_line(str(exc))}", err=True)
            code = FAILED_EXIT
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            typer.echo(f"error: {exc.strerror or type(exc).__name__}{where}", err=True)
            code = FAILED_EXIT
        if standalone_mode:
            sys.exit(code)
        return code


def _usage_error(exc: typer.TyperException) -> int:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # a group called alone: show its help
        typer.echo(exc.message, err=True)
        return USAGE_EXIT
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else exc.message
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    typer.echo(f"error: {_one_line(str(message))}{hint}", err=True)
    return USAGE_EXIT


app = typer.Typer(
    cls=HuafeiCli,
    help="Huafei: the phone-credit recycling platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
ledger_app = typer.Typer(help="Inspect and maintain the ledger.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks that print and record their figures.", no_args_is_help=True
)
sandbox_app = typer.Typer(
    help="The carrier sandboxes: serve them on their own, issue their test cards.",
    no_args_is_help=True,
)
calendar_app = typer.Typer(help="Chinese working days for settlement.", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
app.add_typer(sandbox_app, name="sandbox")

SANDBOX_PORT = 8100
staff_app = typer.Typer(help="Staff accounts of the operations console.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys of secrets at rest.", no_args_is_help=True)
orders_app = typer.Typer(
    help="Orders held for an operator (the channel's answers conflict).", no_args_is_help=True
)
app.add_typer(orders_app, name="orders")
app.add_typer(ledger_app, name="ledger")
app.add_typer(bench_app, name="bench")
app.add_typer(staff_app, name="staff")
app.add_typer(keys_app, name="keys")
config_app = typer.Typer(help="The configuration (HUAFEI_* settings).", no_args_is_help=True)
app.add_typer(config_app, name="config")


class SettingsInvalid(HuafeiError):
    code = "settings_invalid"
    status = 422
    title = "A setting is not valid"


def _container(settings: Settings | None = None) -> Container:
    settings = settings or Settings()
    _refuse_unsafe(settings)
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        return build_container(settings)
    except pydantic.ValidationError:
        raise
    except ValueError as exc:  # building from settings: a key, a URL, a secret that won't do
        raise SettingsInvalid(str(exc)) from exc


def _refuse_unsafe(settings: Settings) -> None:
    """Exit (status 78) with one line per problem when the configuration may not run."""
    from huafei.config_check import EXIT_UNSAFE, check_configuration

    problems = check_configuration(settings)
    if problems:
        typer.echo(f"refusing to start (HUAFEI_ENV={settings.env}):", err=True)
        for problem in problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(EXIT_UNSAFE)


@config_app.command("check")
def config_check(
    production: bool = typer.Option(
        False, "--production", help="judge as if HUAFEI_ENV were production"
    ),
) -> None:
    """Print whether the configuration may run, one line per problem; exit 0 when it may."""
    from huafei.config_check import EXIT_UNSAFE, check_configuration, render

    settings = Settings()
    if production:
        settings = settings.model_copy(update={"env": "production"})
    problems = check_configuration(settings)
    for line in render(settings, problems):
        typer.echo(line)
    raise typer.Exit(EXIT_UNSAFE if problems else 0)


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    from huafei.migrations import upgrade

    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    upgrade(settings.database_url)
    typer.echo(f"database migrated: {_safe_url(settings.database_url)}")


@app.command("demo-data")
def demo_data() -> None:
    """Load the demo data once (a second run does nothing)."""
    from huafei.demo import load_demo_data

    loaded = load_demo_data(_container())
    typer.echo("demo data loaded" if loaded else "demo data already present")


def _settle_memory() -> None:
    """For a long-running process, once everything is loaded: the objects alive now (modules,
    mappers, compiled statements) are kept out of the cyclic collector's scans, and the youngest
    generation is collected less often (a unit of work makes and drops many small objects)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="bind address (default: HUAFEI_HOST)"),
    port: int | None = typer.Option(None, min=1, max=65535, help="port (default: HUAFEI_PORT)"),
) -> None:
    """Run the web server (API, portal and, when enabled, the sandboxes)."""
    import uvicorn

    from huafei.web.app import create_app

    settings = Settings()
    # The bind address decides the callback and in-process sandbox URLs when they are not set.
    if host or port:
        settings = settings.model_copy(
            update={"host": host or settings.host, "port": port or settings.port}
        )
    container = _container(settings)
    bind_host = settings.host
    bind_port = settings.port
    application = create_app(container)
    _start_metrics_listener(container)
    worker = None
    if settings.worker_in_process:
        from huafei.runtime import build_worker

        worker = build_worker(container)
        worker.start_thread()
    _settle_memory()
    typer.echo(f"Huafei is running at http://{bind_host}:{bind_port}  (Ctrl+C stops it)")
    sys.stdout.flush()
    try:
        uvicorn.run(
            application,
            host=bind_host,
            port=bind_port,
            log_config=None,
            access_log=False,
            # The client address and scheme from X-Forwarded-For/-Proto, from these proxies only.
            proxy_headers=True,
            forwarded_allow_ips=settings.forwarded_allow_ips,
        )
    finally:
        if worker is not None:
            worker.stop()


def _start_metrics_listener(container: Container) -> None:
    from huafei.web.security import start_metrics_listener

    if start_metrics_listener(container.settings, container.metrics.registry):
        typer.echo(f"metrics at http://{container.settings.metrics_address}/metrics")


@app.command()
def worker() -> None:
    """Run a background worker (several may run at once against PostgreSQL)."""
    from huafei.runtime import build_worker

    container = _container()
    runner = build_worker(container)
    _settle_memory()
    typer.echo(f"worker {runner.name} started")
    sys.stdout.flush()
    runner.serve()


@app.command()
def run() -> None:
    """Migrate, load demo data once and serve: what `make run` does."""
    _refuse_unsafe(Settings())
    migrate()
    settings = Settings()
    if settings.demo_data:
        demo_data()
    serve(host=None, port=None)


@calendar_app.command("load")
def calendar_load(
    path: Path = typer.Argument(
        ..., help="CSV: date,type,name", exists=True, dir_okay=False, readable=True
    ),
) -> None:
    """Load a State Council holiday arrangement (replaces the years the file covers).

    Orders still settling whose time was computed from a fallback calendar get their time again.
    """

    from huafei.orders.settlement import reschedule_fallback_settlements
    from huafei.workdays.service import ArrangementInvalid, load_arrangement, parse_arrangement

    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ArrangementInvalid(f"{path.name} is not UTF-8 text (save the CSV as UTF-8)") from None
    days = parse_arrangement(text)
    container = _container()
    now = container.clock.now()

    def work(session: Session) -> tuple[list[int], int]:
        years = load_arrangement(session, days, source=path.name, now=now)
        return years, reschedule_fallback_settlements(session, now=now)

    years, moved = container.db.run(work)
    typer.echo(f"loaded {len(days)} days for {', '.join(map(str, years))}")
    typer.echo(f"{moved} settling order(s) got a new settlement time")


@ledger_app.command("check")
def ledger_check() -> None:
    """Verify every ledger invariant; exit 1 with a report of each violation."""
    from huafei.invariants import check_everything

    container = _container()
    with container.db.session() as session:
        report = check_everything(session)
    typer.echo(report.render())
    raise typer.Exit(0 if report.ok else 1)


@ledger_app.command("expire")
def ledger_expire() -> None:
    """Expire pending transfers whose timeout has passed (safe to run twice)."""
    from huafei.ledger import expire_pending_transfers

    container = _container()
    now = container.clock.now()
    count = container.db.run(lambda s: expire_pending_transfers(s, now=now))
    typer.echo(f"expired {count} pending transfer(s)")


@app.command()
def reconcile(
    rail: RailName = typer.Option(..., help="bank, alipay, wechat or ecny"),
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
    container = _container()
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


@app.command("sweep-revenue")
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
    container = _container()
    done = container.db.run(
        lambda s: sweep(
            s, operator_id=operator, now=container.clock.now(), amount_fen=fen, note=note
        )
    )
    typer.echo(
        f"swept {Money(done.amount_fen)} from escrow to own funds "
        f"(transfer {done.transfer_id}, operator {operator})"
    )


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
    database_url: str | None = typer.Option(None, help="database (default: HUAFEI_DATABASE_URL)"),
    json_path: Path | None = typer.Option(None, "--json", help="write the figures as JSON here"),
) -> None:
    """Sellers submit cards over HTTP, sandboxes call back, workers settle; orders/s and p50/p99."""
    from huafei.bench.orders import run_orders_bench

    settings = Settings()
    configure_logging("WARNING", json=settings.log_json)
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
    typer.echo(json.dumps(figures, indent=2))
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(figures, indent=2) + "\n")


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
    json_path: Path | None = typer.Option(None, "--json", help="write the figures as JSON here"),
) -> None:
    """Servers, workers and sandboxes killed at random and PostgreSQL restarted while sellers
    sell cards and withdraw; then every invariant is checked. Exit 1 if one fails."""
    from huafei.bench.chaos import Options, render, run_chaos

    settings = Settings()
    configure_logging("WARNING", json=settings.log_json)
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
    typer.echo(render(figures))
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(render(figures) + "\n")
    for name, check in figures["checks"].items():
        typer.echo(f"{'ok  ' if check['ok'] else 'FAIL'} {name}")
    raise typer.Exit(0 if figures["ok"] else 1)


@bench_app.command("ledger")
def bench_ledger(
    clients: int = typer.Option(8, min=1, max=4096, help="concurrent clients"),
    seconds: float = typer.Option(10.0, min=0.1, max=86_400, help="how long to post"),
    database_url: str | None = typer.Option(None, help="database (default: HUAFEI_DATABASE_URL)"),
    pgbench: bool = typer.Option(
        True, "--pgbench/--no-pgbench", help="also run pgbench on PostgreSQL"
    ),
    json_path: Path | None = typer.Option(None, "--json", help="write the figures as JSON here"),
) -> None:
    """Post transfers that all touch one hot account; print transfers/s and latency."""
    from huafei.bench.ledger import run_ledger_bench

    settings = Settings()
    configure_logging("WARNING", json=settings.log_json)
    figures = run_ledger_bench(
        database_url or settings.database_url,
        clients=clients,
        seconds=seconds,
        with_pgbench=pgbench,
    )
    typer.echo(json.dumps(figures, indent=2))
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(figures, indent=2) + "\n")


@sandbox_app.command("serve")
def sandbox_serve(
    host: str | None = typer.Option(None, help="bind address (default: HUAFEI_HOST)"),
    port: int = typer.Option(SANDBOX_PORT, min=1, max=65535, help="port"),
    carriers: bool = typer.Option(
        True,
        "--carriers/--no-carriers",
        help="serve the carrier channels', SMS and identity providers' sandboxes",
    ),
    rails: bool = typer.Option(
        False, "--rails", help="also serve the payout rails' sandboxes, at /sandbox/rails/{rail}"
    ),
    rail_state_dir: Path | None = typer.Option(
        None,
        help="where the rails' sandboxes keep their payouts across restarts "
        "(default: HUAFEI_SANDBOX_DIR/rails-state)",
    ),
) -> None:
    """Serve the sandboxes without the platform: the three carriers at /sandbox/carriers/{carrier},
    the SMS and identity providers at /sandbox/sms-provider and /sandbox/identity-provider (and,
    with --rails, the payout rails' sandboxes with durable state)."""
    import uvicorn

    from huafei.carriers.sandbox_app import create_standalone_sandbox_app
    from huafei.core.clock import SystemClock
    from huafei.payouts.rails.sandbox import add_rail_sandboxes, create_standalone_rails_app
    from huafei.web.sandboxes import mount_provider_sandboxes

    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    if not carriers and not rails:
        raise typer.BadParameter("nothing to serve: give --rails or leave out --no-carriers")
    bind_host = host or settings.host
    base = f"http://{bind_host}:{port}"
    state_dir = rail_state_dir or Path(settings.sandbox_dir) / "rails-state"
    if carriers:
        application = create_standalone_sandbox_app(settings)
        mount_provider_sandboxes(application, settings, SystemClock())
        if rails:
            add_rail_sandboxes(application, settings, SystemClock(), state_dir=state_dir)
        typer.echo(
            f"Carrier sandboxes at {base}/sandbox/carriers/{{cmcc,cucc,ctcc}} "
            f"(point HUAFEI_CARRIER_BASE_URL at {base}/sandbox/carriers)"
        )
        _echo_provider_sandboxes(base)
    else:
        application = create_standalone_rails_app(settings, SystemClock(), state_dir=state_dir)
    if rails:
        typer.echo(
            f"Payout rail sandboxes at {base}/sandbox/rails/{{bank,alipay,wechat,ecny}}, "
            f"state in {state_dir} (point HUAFEI_PAYOUT_RAIL_URL at {base}/sandbox/rails)"
        )
    _settle_memory()
    sys.stdout.flush()
    uvicorn.run(application, host=bind_host, port=port, log_config=None, access_log=False)


def _echo_provider_sandboxes(base: str) -> None:
    from huafei.web.sandboxes import IDENTITY_PROVIDER_PREFIX, SMS_PROVIDER_PREFIX

    typer.echo(f"SMS provider sandbox at {base}{SMS_PROVIDER_PREFIX} (HUAFEI_SMS_BASE_URL)")
    typer.echo(
        f"Identity provider sandbox at {base}{IDENTITY_PROVIDER_PREFIX} (HUAFEI_IDENTITY_BASE_URL)"
    )


@sandbox_app.command("issue-cards")
def sandbox_issue_cards(
    carrier: Carrier = typer.Option(..., help="cmcc, cucc or ctcc"),
    face: int = typer.Option(..., min=1, max=100_000, help="face value in yuan"),
    count: int = typer.Option(10, min=1, max=100_000, help="how many cards"),
    kind: SandboxCardKind = typer.Option(SandboxCardKind.GOOD, help="what the card will do"),
    actual_face: int | None = typer.Option(
        None,
        min=1,
        max=100_000,
        help="for wrong-face cards: what the card is really worth, in yuan",
    ),
    start: int = typer.Option(
        1, min=0, max=10**12, help="first sequence number (same numbers, same cards)"
    ),
) -> None:
    """Print `serial PIN` lines of cards every carrier sandbox honours (paste them as a batch)."""
    from huafei.carriers.sandbox_cards import CardIssueError, issue_cards

    settings = Settings()
    try:
        cards = issue_cards(
            settings.sandbox_card_secret.get_secret_value(),
            carrier,
            face * 100,
            count,
            kind=kind,
            actual_face_value_fen=actual_face * 100 if actual_face else None,
            start=start,
        )
    except CardIssueError as exc:
        typer.echo(f"cannot issue: {exc}", err=True)
        raise typer.Exit(2) from None
    for card in cards:
        typer.echo(f"{card.serial} {card.pin}")


def _cli_actor() -> Actor:
    import getpass
    import socket

    from huafei.identity.service.oplog import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name in some containers
        user = "unknown"
    return Actor.system(f"cli:{user}@{socket.gethostname()}"[:80])


@staff_app.command("create")
def staff_create(
    username: str = typer.Option(..., help="3 to 32 lowercase letters, digits, . _ -"),
    role: str = typer.Option(..., help="support, risk, finance, compliance or admin"),
    password: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="at least 12 characters (asked for when not given)",
    ),
) -> None:
    """Create a staff account (the first admin, for one); prints the TOTP secret once."""
    from huafei.identity.service.staff import create_staff

    container = _container()
    actor = _cli_actor()
    now = container.clock.now()
    created = container.db.run(
        lambda s: create_staff(
            s,
            username=username,
            role=role,
            password=password,
            keyring=container.keyring,
            actor=actor,
            now=now,
        )
    )
    staff = created.staff
    typer.echo(f"staff account {staff.id} created: {staff.username} ({staff.role})")
    typer.echo("Add this TOTP secret to an authenticator app now; it is not shown again:")
    typer.echo(f"  secret: {created.totp_secret}")
    typer.echo(f"  URI:    {created.provisioning_uri}")


@orders_app.command("conflicts")
def orders_conflicts() -> None:
    """List the orders held in conflict: the channel answered under another reference than the
    one it accepted the card with."""
    from huafei.cards.secrets import mask_serial
    from huafei.orders.conflicts import list_conflicts

    container = _container()
    orders = container.db.run(list_conflicts)
    for order in orders:
        typer.echo(
            f"{order.id}\t{order.carrier}\t{mask_serial(order.serial)}\t{order.face_value_fen}\t"
            f"{order.consumption_id}\taccepted as {order.channel_ref}\t{order.updated_at:%F %T}"
        )
    typer.echo(f"{len(orders)} order(s) in conflict")


@orders_app.command("resolve")
def orders_resolve(
    order_id: int = typer.Argument(..., min=1, help="the order in conflict"),
    consumed: bool = typer.Option(
        ..., "--consumed/--not-consumed", help="what the channel confirmed for the card"
    ),
    actual_face: int | None = typer.Option(
        None, min=1, max=100_000, help="yuan the card was really worth, if not its face value"
    ),
    reason: str = typer.Option("", max=200, help="why (kept in the order's timeline)"),
) -> None:
    """Record what the channel confirmed for an order in conflict: consumed (credited and
    settled like any consumed card) or not consumed (failed)."""
    from huafei.core.errors import HuafeiError
    from huafei.identity.service import oplog
    from huafei.orders.conflicts import resolve_conflict

    container = _container()
    actor = _cli_actor()
    now = container.clock.now()

    def work(session: Session) -> str:
        order = resolve_conflict(
            session,
            order_id,
            consumed=consumed,
            actual_face_value_fen=actual_face * 100 if actual_face else None,
            reason=reason,
            actor=actor.label[:64],
            now=now,
            notifier=container.notifier,
        )
        oplog.record(
            session,
            actor,
            "orders.conflict_resolved",
            now=now,
            target=f"order:{order_id}",
            detail={"consumed": consumed, "actual_face_value_fen": order.actual_face_value_fen},
        )
        return order.state

    try:
        state = container.db.run(work)
    except HuafeiError as exc:
        typer.echo(f"refused: {exc.detail} ({exc.code})", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"order {order_id} is now {state}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret under the active key (HUAFEI_ACTIVE_KEY_ID)."""
    from huafei.identity.service import oplog
    from huafei.keyrotation import rotate_all

    container = _container()
    counts = rotate_all(container.db, container.keyring)
    now = container.clock.now()
    container.db.run(
        lambda s: oplog.record(
            s,
            _cli_actor(),
            "keys.rotated",
            now=now,
            detail={"active_key_id": container.keyring.active, "rotated": counts},
        )
    )
    for name, count in counts.items():
        typer.echo(f"{name}: {count} re-encrypted")
    typer.echo(f"every secret is now under key {container.keyring.active!r}")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random 256-bit key, base64, for HUAFEI_SECRET_KEYS or HUAFEI_LOOKUP_KEY."""
    from huafei.core.crypto import Keyring

    typer.echo(Keyring.generate_key())


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


if __name__ == "__main__":  # pragma: no cover
    app()
