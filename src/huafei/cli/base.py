"""What every `huafei` command shares: the error handling, the container, the operator.

Bad input — an unknown option or rail, a date that is not one, an unreadable file, an amount
that is not one, a setting that does not parse — is answered with one line on stderr and exit
status 2, never a traceback (``HuafeiCli.main``). A database that does not answer is one line
and exit 1. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic
import typer
from alembic.util.exc import CommandError
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from typer.core import TyperGroup

from huafei.composition.container import Container, build_container
from huafei.core.errors import HuafeiError
from huafei.core.logging import configure_logging
from huafei.core.settings import Settings

if TYPE_CHECKING:
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


class SettingsInvalid(HuafeiError):
    code = "settings_invalid"
    status = 422
    title = "A setting is not valid"


def cli_container(settings: Settings | None = None) -> Container:
    settings = settings or Settings()
    refuse_unsafe(settings)
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        return build_container(settings)
    except pydantic.ValidationError:
        raise
    except ValueError as exc:  # building from settings: a key, a URL, a secret that won't do
        raise SettingsInvalid(str(exc)) from exc


def refuse_unsafe(settings: Settings) -> None:
    """Exit (status 78) with one line per problem when the configuration may not run."""
    from huafei.config_check import EXIT_UNSAFE, check_configuration

    problems = check_configuration(settings)
    if problems:
        typer.echo(f"refusing to start (HUAFEI_ENV={settings.env}):", err=True)
        for problem in problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(EXIT_UNSAFE)


def settle_memory() -> None:
    """For a long-running process, once everything is loaded: the objects alive now (modules,
    mappers, compiled statements) are kept out of the cyclic collector's scans, and the youngest
    generation is collected less often (a unit of work makes and drops many small objects)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def cli_actor() -> Actor:
    import getpass
    import socket

    from huafei.identity.service.oplog import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name in some containers
        user = "unknown"
    return Actor.system(f"cli:{user}@{socket.gethostname()}"[:80])


def print_and_save(text: str, json_path: Path | None) -> None:
    """Print a command's figures, and write them to ``json_path`` when given."""
    typer.echo(text)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text + "\n")
