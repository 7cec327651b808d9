"""Production is safe by construction: the server refuses to start on an unsafe setting, and a
safe production configuration mounts no sandbox and wires no sandbox adapter.

The refusals are checked on the real command (`huafei serve` as a subprocess, in an empty
directory so no `.env` file counts); the safe configuration's app is built in process and its
routes and adapters are listed.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from huafei.carriers.http import HttpCarrierGateway
from huafei.composition.app import create_app
from huafei.composition.container import Container, build_container
from huafei.config_check import EXIT_UNSAFE, check_configuration
from huafei.core.clock import SystemClock
from huafei.core.crypto import DevelopmentKeyRefused
from huafei.core.settings import Settings
from huafei.identity.adapters import CarrierServicePasswordChecker, HttpIdentityVerifier
from huafei.payouts.rails.client import HttpRail
from huafei.sms.http import HttpSmsSender

HUAFEI = str(Path(sys.executable).parent / "huafei")


def _b64(seed: str, size: int = 32) -> str:
    return base64.b64encode((seed * size).encode()[:size]).decode()


#: Every setting production looks at, each safe. The addresses are never called here.
SAFE_PRODUCTION: dict[str, str] = {
    "HUAFEI_ENV": "production",
    "HUAFEI_SANDBOXES": "false",
    "HUAFEI_DEMO_DATA": "false",
    "HUAFEI_SECRET_KEYS": f"2026a:{_b64('k')}",
    "HUAFEI_ACTIVE_KEY_ID": "2026a",
    "HUAFEI_LOOKUP_KEY": _b64("l"),
    "HUAFEI_CARRIER_SECRET_CMCC": "cmcc-production-secret-0001",
    "HUAFEI_CARRIER_SECRET_CUCC": "cucc-production-secret-0002",
    "HUAFEI_CARRIER_SECRET_CTCC": "ctcc-production-secret-0003",
    "HUAFEI_PAYOUT_RAIL_SECRETS": ",".join(
        f"{rail}:{_b64(rail[0])}" for rail in ("bank", "alipay", "wechat", "ecny", "carrier_wallet")
    ),
    "HUAFEI_SANDBOX_CARD_SECRET": "cards-production-secret-0004",
    "HUAFEI_SMS_API_KEY": "huafei-prod",
    "HUAFEI_SMS_API_SECRET": "sms-production-secret-0005",
    "HUAFEI_IDENTITY_API_KEY": "huafei-prod",
    "HUAFEI_IDENTITY_API_SECRET": "identity-production-secret-06",
    "HUAFEI_DATABASE_URL": "postgresql://huafei@127.0.0.1:5432/huafei_never_contacted",
    "HUAFEI_REDIS_URL": "redis://127.0.0.1:6379/15",
    "HUAFEI_PUBLIC_BASE_URL": "https://huafei.example",
    "HUAFEI_CARRIER_BASE_URL": "https://channels.example/v1",
    "HUAFEI_PAYOUT_RAIL_URL": "https://rails.example/v1",
    "HUAFEI_SMS_BASE_URL": "https://sms.example/v1",
    "HUAFEI_IDENTITY_BASE_URL": "https://identity.example/v1",
    "HUAFEI_METRICS_TOKEN": "metrics-production-token-07",
    "HUAFEI_WORKER_IN_PROCESS": "false",
}


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        name.removeprefix("HUAFEI_").lower(): value for name, value in SAFE_PRODUCTION.items()
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type,call-arg]


def _run(tmp_path: Path, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """Run `huafei ARGS` with exactly these HUAFEI_* variables (None: left out)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUAFEI_")}
    environ.update({k: v for k, v in env.items() if v is not None})
    return subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [HUAFEI, *args],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("HUAFEI_")]


UNSAFE = [
    pytest.param({"HUAFEI_SANDBOXES": "true"}, "HUAFEI_SANDBOXES", id="sandboxes-on"),
    pytest.param({"HUAFEI_DEMO_DATA": "true"}, "HUAFEI_DEMO_DATA", id="demo-data-on"),
    pytest.param(
        {"HUAFEI_SECRET_KEYS": None, "HUAFEI_ACTIVE_KEY_ID": None},
        "HUAFEI_SECRET_KEYS",
        id="development-encryption-key",
    ),
    pytest.param({"HUAFEI_LOOKUP_KEY": None}, "HUAFEI_LOOKUP_KEY", id="development-lookup-key"),
    pytest.param(
        {"HUAFEI_CARRIER_SECRET_CMCC": "sandbox-cmcc-secret"},
        "HUAFEI_CARRIER_SECRET_CMCC",
        id="default-carrier-secret",
    ),
    pytest.param(
        {"HUAFEI_CARRIER_SECRET_CTCC": None},
        "HUAFEI_CARRIER_SECRET_CTCC",
        id="carrier-secret-left-at-default",
    ),
    pytest.param(
        {"HUAFEI_CARRIER_SECRET_CUCC": "short"},
        "HUAFEI_CARRIER_SECRET_CUCC",
        id="short-carrier-secret",
    ),
    pytest.param(
        {"HUAFEI_PAYOUT_RAIL_SECRETS": f"bank:{_b64('b')}"},
        "HUAFEI_PAYOUT_RAIL_SECRETS",
        id="rails-on-development-secrets",
    ),
    pytest.param(
        {"HUAFEI_SANDBOX_CARD_SECRET": None},
        "HUAFEI_SANDBOX_CARD_SECRET",
        id="default-sandbox-card-secret",
    ),
    pytest.param({"HUAFEI_SMS_API_SECRET": None}, "HUAFEI_SMS_API_SECRET", id="default-sms-secret"),
    pytest.param({"HUAFEI_SMS_API_KEY": None}, "HUAFEI_SMS_API_KEY", id="default-sms-key"),
    pytest.param(
        {"HUAFEI_IDENTITY_API_SECRET": ""},
        "HUAFEI_IDENTITY_API_SECRET",
        id="missing-identity-secret",
    ),
    pytest.param(
        {"HUAFEI_IDENTITY_API_KEY": None}, "HUAFEI_IDENTITY_API_KEY", id="default-identity-key"
    ),
    pytest.param(
        {"HUAFEI_DATABASE_URL": "sqlite:///var/huafei.sqlite3"}, "HUAFEI_DATABASE_URL", id="sqlite"
    ),
    pytest.param({"HUAFEI_REDIS_URL": None}, "HUAFEI_REDIS_URL", id="no-redis"),
    pytest.param({"HUAFEI_SMS_BASE_URL": None}, "HUAFEI_SMS_BASE_URL", id="no-sms-provider"),
    pytest.param(
        {"HUAFEI_IDENTITY_BASE_URL": None}, "HUAFEI_IDENTITY_BASE_URL", id="no-identity-provider"
    ),
    pytest.param(
        {"HUAFEI_CARRIER_BASE_URL": None}, "HUAFEI_CARRIER_BASE_URL", id="no-carrier-channels"
    ),
    pytest.param(
        {"HUAFEI_PUBLIC_BASE_URL": "http://huafei.example"},
        "HUAFEI_PUBLIC_BASE_URL",
        id="public-address-not-https",
    ),
    pytest.param({"HUAFEI_ENV": "prod"}, "HUAFEI_ENV", id="unknown-environment"),
]


class TestRefusalToStart:
    @pytest.mark.parametrize(("change", "setting"), UNSAFE)
    def test_serve_refuses_each_unsafe_setting(
        self, tmp_path: Path, change: dict[str, str | None], setting: str
    ) -> None:
        result = _run(tmp_path, "serve", "--port", "1", **{**SAFE_PRODUCTION, **change})
        assert result.returncode == EXIT_UNSAFE, result.stdout + result.stderr
        lines = _problem_lines(result.stderr)
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"{setting}: ")
        assert "is running" not in result.stdout
        for name in ("SECRET_KEYS", "LOOKUP_KEY", "CARRIER_SECRET_CMCC", "SMS_API_SECRET"):
            assert SAFE_PRODUCTION[f"HUAFEI_{name}"] not in result.stdout + result.stderr

    def test_production_with_nothing_else_set_names_every_problem(self, tmp_path: Path) -> None:
        result = _run(tmp_path, "serve", HUAFEI_ENV="production")
        assert result.returncode == EXIT_UNSAFE
        named = {line.partition(":")[0] for line in _problem_lines(result.stderr)}
        assert named >= {
            "HUAFEI_SANDBOXES",
            "HUAFEI_DEMO_DATA",
            "HUAFEI_SECRET_KEYS",
            "HUAFEI_LOOKUP_KEY",
            "HUAFEI_CARRIER_SECRET_CMCC",
            "HUAFEI_CARRIER_SECRET_CUCC",
            "HUAFEI_CARRIER_SECRET_CTCC",
            "HUAFEI_PAYOUT_RAIL_SECRETS",
            "HUAFEI_SANDBOX_CARD_SECRET",
            "HUAFEI_SMS_API_SECRET",
            "HUAFEI_IDENTITY_API_SECRET",
            "HUAFEI_DATABASE_URL",
            "HUAFEI_REDIS_URL",
            "HUAFEI_PUBLIC_BASE_URL",
        }

    def test_worker_and_run_refuse_too(self, tmp_path: Path) -> None:
        unsafe = {**SAFE_PRODUCTION, "HUAFEI_SANDBOXES": "true"}
        for command in ("worker", "run"):
            result = _run(tmp_path, command, **unsafe)
            assert result.returncode == EXIT_UNSAFE, command
            assert _problem_lines(result.stderr) == [
                "HUAFEI_SANDBOXES: must be false in production (the sandboxes' routes are open)"
            ]
        assert not (tmp_path / "var").exists()  # `run` refused before migrating anything

    def test_sandboxes_off_without_the_real_addresses_is_refused_in_development(
        self, tmp_path: Path
    ) -> None:
        result = _run(tmp_path, "config", "check", HUAFEI_SANDBOXES="false")
        assert result.returncode == EXIT_UNSAFE
        assert [line.partition(":")[0] for line in _problem_lines(result.stdout)] == [
            "HUAFEI_CARRIER_BASE_URL",
            "HUAFEI_PAYOUT_RAIL_URL",
            "HUAFEI_SMS_BASE_URL",
            "HUAFEI_IDENTITY_BASE_URL",
        ]


class TestConfigCheck:
    def test_safe_production_passes(self, tmp_path: Path) -> None:
        result = _run(tmp_path, "config", "check", **SAFE_PRODUCTION)
        assert result.returncode == 0, result.stdout
        assert result.stdout.strip() == "configuration is safe to run (HUAFEI_ENV=production)"

    def test_prints_the_same_verdict_as_serve(self, tmp_path: Path) -> None:
        unsafe = {**SAFE_PRODUCTION, "HUAFEI_DEMO_DATA": "true", "HUAFEI_REDIS_URL": None}
        checked = _run(tmp_path, "config", "check", **unsafe)
        served = _run(tmp_path, "serve", **unsafe)
        assert checked.returncode == served.returncode == EXIT_UNSAFE
        assert _problem_lines(checked.stdout) == _problem_lines(served.stderr)
        assert len(_problem_lines(checked.stdout)) == 2

    def test_development_defaults_pass_in_development_and_fail_as_production(
        self, tmp_path: Path
    ) -> None:
        assert _run(tmp_path, "config", "check").returncode == 0
        judged = _run(tmp_path, "config", "check", "--production")
        assert judged.returncode == EXIT_UNSAFE
        assert "HUAFEI_SANDBOXES: must be false in production" in judged.stdout

    def test_malformed_keys_are_named_without_their_value(self) -> None:
        problems = check_configuration(
            _settings(secret_keys="k1:not-base64!", payout_rail_secrets="paypal:AAAA")
        )
        rendered = [str(p) for p in problems]
        assert "HUAFEI_SECRET_KEYS: key 'k1' is not valid base64" in rendered
        assert "HUAFEI_PAYOUT_RAIL_SECRETS: unknown rail 'paypal'" in rendered
        assert all("not-base64!" not in line for line in rendered)


# -- a safe production configuration ----------------------------------------------------------
@pytest.fixture
def production() -> Container:
    settings = _settings()
    assert check_configuration(settings) == []
    return build_container(settings, clock=SystemClock())


class TestSafeProduction:
    def test_no_sandbox_route_and_no_sandbox_adapter(self, production: Container) -> None:
        app = create_app(production)
        paths = sorted({str(getattr(route, "path", "")) for route in app.routes})
        assert [p for p in paths if p.startswith("/sandbox")] == []
        client = TestClient(app)
        for method, path in (
            ("GET", "/sandbox/sms"),
            ("POST", "/sandbox/liveness"),
            ("POST", "/sandbox/carriers/cmcc/control/cards"),
            ("GET", "/sandbox/carriers/cmcc/control/balances"),
            ("PUT", "/sandbox/rails/bank/control/switches"),
            ("POST", "/sandbox/rails/carrier_wallet/_control/failures"),
            ("GET", "/sandbox/sms-provider/control/messages"),
            ("POST", "/sandbox/identity-provider/liveness"),
        ):
            assert client.request(method, path, json={}).status_code == 404, path
        adapters = {
            "sms": production.sms,
            "identity": production.identity_verifier,
            "service passwords": production.service_passwords,
            **{f"carrier {c.value}": g for c, g in production.carriers.items()},
            **{f"rail {r.value}": rail for r, rail in production.payouts.rails.items()},
        }
        assert {name: type(a).__name__ for name, a in adapters.items()} == {
            "sms": HttpSmsSender.__name__,
            "identity": HttpIdentityVerifier.__name__,
            "service passwords": CarrierServicePasswordChecker.__name__,
            "carrier cmcc": HttpCarrierGateway.__name__,
            "carrier cucc": HttpCarrierGateway.__name__,
            "carrier ctcc": HttpCarrierGateway.__name__,
            "rail bank": HttpRail.__name__,
            "rail alipay": HttpRail.__name__,
            "rail wechat": HttpRail.__name__,
            "rail ecny": HttpRail.__name__,
            "rail carrier_wallet": HttpRail.__name__,
        }
        assert production.payouts.sandboxes == {}
        assert not hasattr(app.state, "carrier_sandboxes")
        assert isinstance(production.sms, HttpSmsSender)
        assert production.sms.base_url == "https://sms.example/v1"
        assert isinstance(production.identity_verifier, HttpIdentityVerifier)
        assert production.identity_verifier.base_url == "https://identity.example/v1"
        assert production.carriers[next(iter(production.carriers))].base_url.startswith(
            "https://channels.example/v1/"
        )
        assert production.keyring.development == ()

    def test_docs_off_metrics_behind_the_token_hsts_on(self, production: Container) -> None:
        client = TestClient(create_app(production))
        for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui-bundle.js"):
            assert client.get(path).status_code == 404, path
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert refused.json()["code"] == "metrics_token_required"
        assert refused.headers["www-authenticate"] == "Bearer"
        wrong = client.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401
        token = SAFE_PRODUCTION["HUAFEI_METRICS_TOKEN"]
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scraped.status_code == 200
        assert "http_requests_total" in scraped.text or "huafei_" in scraped.text
        health = client.get("/healthz")
        assert health.headers["strict-transport-security"].startswith("max-age=")
        assert health.headers["x-content-type-options"] == "nosniff"
        assert health.headers["cache-control"] == "no-store"

    def test_docs_can_be_enabled(self) -> None:
        app = create_app(build_container(_settings(api_docs=True), clock=SystemClock()))
        client = TestClient(app)
        assert client.get("/docs").status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"] == "Huafei API"

    def test_no_metrics_on_the_app_without_a_token(self) -> None:
        app = create_app(build_container(_settings(metrics_token=None), clock=SystemClock()))
        assert TestClient(app).get("/metrics").status_code == 404

    def test_development_keys_are_refused_even_without_the_cli(self) -> None:
        with pytest.raises(DevelopmentKeyRefused):
            _settings(secret_keys="", active_key_id="").keyring()
        with pytest.raises(DevelopmentKeyRefused):
            _settings(lookup_key="").keyring()
