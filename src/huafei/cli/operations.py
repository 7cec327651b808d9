"""`huafei` commands of the operators: the holiday calendar, staff accounts, orders in conflict,
encryption keys."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from huafei.cli.base import (
    cli_actor,
    cli_container,
)
from huafei.core.money import Money

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


calendar_app = typer.Typer(help="Chinese working days for settlement.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts of the operations console.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys of secrets at rest.", no_args_is_help=True)
orders_app = typer.Typer(
    help="Orders held for an operator (the channel's answers conflict).", no_args_is_help=True
)


@calendar_app.command("load")
def calendar_load(
    path: Path = typer.Argument(
        ..., help="CSV: date,type,name", exists=True, dir_okay=False, readable=True
    ),
) -> None:
    """Load a State Council holiday arrangement (replaces the years the file covers).

    Orders and balance sales still settling whose time was computed from a fallback calendar get
    their time again.
    """

    from huafei.balance.service.settlement import (
        reschedule_fallback_settlements as reschedule_balance_sales,
    )
    from huafei.orders.settlement import reschedule_fallback_settlements
    from huafei.workdays.service import ArrangementInvalid, load_arrangement, parse_arrangement

    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ArrangementInvalid(f"{path.name} is not UTF-8 text (save the CSV as UTF-8)") from None
    days = parse_arrangement(text)
    container = cli_container()
    now = container.clock.now()

    def work(session: Session) -> tuple[list[int], int, int]:
        years = load_arrangement(session, days, source=path.name, now=now)
        orders = reschedule_fallback_settlements(session, now=now)
        return years, orders, reschedule_balance_sales(session, now=now)

    years, moved, sales = container.db.run(work)
    typer.echo(f"loaded {len(days)} days for {', '.join(map(str, years))}")
    typer.echo(f"{moved} settling order(s) got a new settlement time")
    typer.echo(f"{sales} settling balance sale(s) got a new settlement time")


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

    container = cli_container()
    actor = cli_actor()
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

    container = cli_container()
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

    container = cli_container()
    actor = cli_actor()
    now = container.clock.now()

    def work(session: Session) -> str:
        order = resolve_conflict(
            session,
            order_id,
            consumed=consumed,
            actual_face_value_fen=Money.from_yuan(actual_face).fen if actual_face else None,
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

    container = cli_container()
    counts = rotate_all(container.db, container.keyring)
    now = container.clock.now()
    container.db.run(
        lambda s: oplog.record(
            s,
            cli_actor(),
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
