"""`huafei` commands that run the platform: migrate, demo data, serve, worker, run; and the
configuration check."""

from __future__ import annotations

import sys

import typer

from huafei.cli.base import (
    cli_container,
    refuse_unsafe,
    settle_memory,
)
from huafei.composition.container import Container
from huafei.core.logging import configure_logging
from huafei.core.settings import Settings

config_app = typer.Typer(help="The configuration (HUAFEI_* settings).", no_args_is_help=True)


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


def migrate() -> None:
    """Bring the database to the newest schema."""
    from huafei.migrations import upgrade

    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    upgrade(settings.database_url)
    typer.echo(f"database migrated: {_safe_url(settings.database_url)}")


def demo_data() -> None:
    """Load the demo data once (a second run does nothing)."""
    from huafei.composition.demo import load_demo_data

    loaded = load_demo_data(cli_container())
    typer.echo("demo data loaded" if loaded else "demo data already present")


def serve(
    host: str | None = typer.Option(None, help="bind address (default: HUAFEI_HOST)"),
    port: int | None = typer.Option(None, min=1, max=65535, help="port (default: HUAFEI_PORT)"),
) -> None:
    """Run the web server (API, portal and, when enabled, the sandboxes)."""
    import uvicorn

    from huafei.composition.app import create_app

    settings = Settings()
    # The bind address decides the callback and in-process sandbox URLs when they are not set.
    if host or port:
        settings = settings.model_copy(
            update={"host": host or settings.host, "port": port or settings.port}
        )
    container = cli_container(settings)
    bind_host = settings.host
    bind_port = settings.port
    application = create_app(container)
    _start_metrics_listener(container)
    worker = None
    if settings.worker_in_process:
        from huafei.composition.runtime import build_worker

        worker = build_worker(container)
        worker.start_thread()
    settle_memory()
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


def worker() -> None:
    """Run a background worker (several may run at once against PostgreSQL)."""
    from huafei.composition.runtime import build_worker

    container = cli_container()
    runner = build_worker(container)
    settle_memory()
    typer.echo(f"worker {runner.name} started")
    sys.stdout.flush()
    runner.serve()


def run() -> None:
    """Migrate, load demo data once and serve: what `make run` does."""
    refuse_unsafe(Settings())
    migrate()
    settings = Settings()
    if settings.demo_data:
        demo_data()
    serve(host=None, port=None)


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
