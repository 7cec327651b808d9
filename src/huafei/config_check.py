"""Whether a configuration may run: the verdict ``huafei serve``/``worker``/``run`` act on and
``huafei config check`` prints (docs/deployment.md).

Some problems stop any environment (an unknown ``HUAFEI_ENV``; sandboxes off without the real
services' addresses; a malformed key). In production every development convenience is a
problem too: sandboxes, demo data, development or missing secrets, SQLite, process-local rate
limits. Each problem names the setting, so the operator knows what to change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from huafei.core.crypto import Keyring
from huafei.core.settings import (
    DEV_CARRIER_SECRETS,
    DEV_PROVIDER_CREDENTIALS,
    DEV_SANDBOX_CARD_SECRET,
    ENVIRONMENTS,
    Settings,
)
from huafei.payouts.models import RailName
from huafei.payouts.rails.base import configured_rail_secrets
from huafei.web.security import parse_address

#: shared secrets shorter than this are refused in production (guessable)
MIN_SECRET_CHARS = 16
#: reports a problem: the setting's field name, what is wrong
_Report = Callable[[str, str], None]
#: the exit status of a refused start (sysexits' EX_CONFIG)
EXIT_UNSAFE = 78


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    setting: str
    """The environment variable to change, e.g. ``HUAFEI_SANDBOXES``."""
    message: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}"


class UnsafeConfiguration(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


def check_configuration(settings: Settings) -> list[ConfigProblem]:
    """Every problem that stops this configuration from running, in a stable order."""
    problems: list[ConfigProblem] = []

    def problem(name: str, message: str) -> None:
        problems.append(ConfigProblem(f"HUAFEI_{name.upper()}", message))

    if settings.env not in ENVIRONMENTS:
        problem("env", f"unknown environment {settings.env!r}; one of {', '.join(ENVIRONMENTS)}")
    _check_addresses(settings, problem)
    _check_key_formats(settings, problem)
    if settings.is_production:
        _check_production(settings, problem)
    return problems


def _check_addresses(settings: Settings, problem: _Report) -> None:
    if settings.sandboxes:
        return
    # Without sandboxes the defaults point at routes that are not mounted.
    for name, value in (
        ("carrier_base_url", settings.carrier_base_url),
        ("payout_rail_url", settings.payout_rail_url),
        ("sms_base_url", settings.sms_base_url),
        ("identity_base_url", settings.identity_base_url),
    ):
        if not value:
            problem(name, "required when HUAFEI_SANDBOXES is false (the real service's address)")
        elif not value.startswith(("http://", "https://")):
            problem(name, "must be an http:// or https:// URL")


def _check_key_formats(settings: Settings, problem: _Report) -> None:
    try:
        Keyring.from_settings(
            settings.secret_keys.get_secret_value(),
            settings.active_key_id,
            settings.lookup_key.get_secret_value(),
        )
    except ValueError as exc:
        name = "lookup_key" if "lookup key" in str(exc) else "secret_keys"
        if "active key" in str(exc):
            name = "active_key_id"
        problem(name, str(exc))
    try:
        configured_rail_secrets(settings.payout_rail_secrets.get_secret_value())
    except ValueError as exc:
        problem("payout_rail_secrets", str(exc))
    if settings.metrics_address:
        try:
            parse_address(settings.metrics_address)
        except ValueError as exc:
            problem("metrics_address", str(exc))


def _check_production(settings: Settings, problem: _Report) -> None:
    if settings.sandboxes:
        problem("sandboxes", "must be false in production (the sandboxes' routes are open)")
    if settings.demo_data:
        problem("demo_data", "must be false in production")
    if not settings.secret_keys.get_secret_value():
        problem("secret_keys", "missing: secrets at rest would use the development key")
    if not settings.lookup_key.get_secret_value():
        problem("lookup_key", "missing: lookups would use the development key")
    for carrier, default in DEV_CARRIER_SECRETS.items():
        _secret(problem, f"carrier_secret_{carrier}", settings.carrier_secret(carrier), default)
    _check_rail_secrets(settings, problem)
    _secret(
        problem,
        "sandbox_card_secret",
        _plain(settings.sandbox_card_secret),
        DEV_SANDBOX_CARD_SECRET,
    )
    for provider, (dev_key_id, dev_secret) in DEV_PROVIDER_CREDENTIALS.items():
        access = settings.provider(provider)
        _key_id(problem, f"{provider}_api_key", access.key_id, dev_key_id)
        _secret(problem, f"{provider}_api_secret", access.secret, dev_secret)
    if settings.metrics_token is not None:
        _secret(problem, "metrics_token", _plain(settings.metrics_token), "")
    _check_production_services(settings, problem)


def _check_production_services(settings: Settings, problem: _Report) -> None:
    """The services production needs: PostgreSQL, Redis and a public https:// address."""
    if settings.is_sqlite:
        problem("database_url", "SQLite in production: use PostgreSQL (postgresql://…)")
    if not settings.redis_url:
        problem("redis_url", "missing: rate limits must be shared by every process (Redis)")
    if not settings.public_base_url:
        problem("public_base_url", "missing: carriers and rails call back at this address")
    elif not settings.public_base_url.startswith("https://"):
        problem("public_base_url", "must be an https:// address in production")


def _check_rail_secrets(settings: Settings, problem: _Report) -> None:
    try:
        given = configured_rail_secrets(settings.payout_rail_secrets.get_secret_value())
    except ValueError:
        return  # reported with the key formats
    missing = [rail.value for rail in RailName if rail not in given]
    if missing:
        problem(
            "payout_rail_secrets",
            f"missing for {', '.join(missing)}: those rails would use development secrets",
        )
    short = [rail.value for rail, secret in given.items() if len(secret) < MIN_SECRET_CHARS]
    if short:
        problem("payout_rail_secrets", f"shorter than {MIN_SECRET_CHARS} bytes: {', '.join(short)}")


def _plain(secret: SecretStr) -> str:
    return secret.get_secret_value()


def _secret(problem: _Report, name: str, value: str, default: str) -> None:
    if not value:
        problem(name, "missing")
    elif value == default:
        problem(name, "is the development default; set a secret of your own")
    elif len(value) < MIN_SECRET_CHARS:
        problem(name, f"shorter than {MIN_SECRET_CHARS} characters")


def _key_id(problem: _Report, name: str, value: str, default: str) -> None:
    if not value:
        problem(name, "missing")
    elif value == default:
        problem(name, "is the development default; set the key id the provider gave you")


def render(settings: Settings, problems: list[ConfigProblem]) -> list[str]:
    """The lines ``huafei config check`` prints."""
    if problems:
        return [str(p) for p in problems]
    if settings.is_production:
        return ["configuration is safe to run (HUAFEI_ENV=production)"]
    verdict = (
        f"configuration may run as {settings.env} (HUAFEI_ENV={settings.env}); "
        "`huafei config check --production` judges it as production"
    )
    return [verdict]
