"""`huafei sandbox`: the sandboxes served on their own, and their test cards."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import SandboxCardKind
from huafei.cli.base import (
    settle_memory,
)
from huafei.core.logging import configure_logging
from huafei.core.money import Money
from huafei.core.settings import Settings

sandbox_app = typer.Typer(
    help="The carrier sandboxes: serve them on their own, issue their test cards.",
    no_args_is_help=True,
)

SANDBOX_PORT = 8100


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
    from huafei.composition.sandboxes import mount_provider_sandboxes
    from huafei.core.clock import SystemClock
    from huafei.payouts.rails.sandbox import add_rail_sandboxes, create_standalone_rails_app

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
            f"Payout rail sandboxes at {base}/sandbox/rails/"
            "{bank,alipay,wechat,ecny,carrier_wallet}, "
            f"state in {state_dir} (point HUAFEI_PAYOUT_RAIL_URL at {base}/sandbox/rails)"
        )
    settle_memory()
    sys.stdout.flush()
    uvicorn.run(application, host=bind_host, port=port, log_config=None, access_log=False)


def _echo_provider_sandboxes(base: str) -> None:
    from huafei.composition.sandboxes import IDENTITY_PROVIDER_PREFIX, SMS_PROVIDER_PREFIX

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
            Money.from_yuan(face).fen,
            count,
            kind=kind,
            actual_face_value_fen=Money.from_yuan(actual_face).fen if actual_face else None,
            start=start,
        )
    except CardIssueError as exc:
        typer.echo(f"cannot issue: {exc}", err=True)
        raise typer.Exit(2) from None
    for card in cards:
        typer.echo(f"{card.serial} {card.pin}")
