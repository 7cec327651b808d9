"""The API fuzzed against its own published OpenAPI document (schemathesis).

Every operation is called with generated requests — valid ones and deliberately invalid ones
(wrong types, out-of-range integers, strings with NUL and other control characters, missing
fields) — anonymously and as a signed-in level-2 seller, on each database backend. A request
passes when the answer is no 5xx and matches what the document says of that operation: status
code, content type, body schema and headers.

Bounded for ``make test``: ``HUAFEI_FUZZ_EXAMPLES`` cases per operation and caller (default
10, about 3,000 requests a backend); the generation is derandomised, so a run is repeatable and
a failure names a request that fails again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks

from conftest import BACKENDS, PostgresTemplate
from factories import make_container, make_seller, open_seller_session
from huafei.composition.app import create_app
from huafei.composition.container import build_container
from huafei.core.clock import FrozenClock
from huafei.core.crypto import Keyring
from huafei.core.db import Database
from huafei.core.settings import Settings
from huafei.payouts.models import MethodKind
from huafei.payouts.service import methods
from payouts_harness import REAL_NAME, icbc_card
from portal_helpers import fund_wallet

EXAMPLES = int(os.environ.get("HUAFEI_FUZZ_EXAMPLES", "10"))
CALLERS = ("anonymous", "seller")
CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]
#: What the transport hands over, renamed to the test client's words.
_REQUEST_KEYS = {"method", "url", "headers", "params", "json", "files"}


def _published_document() -> dict[str, Any]:
    """The document ``/openapi.json`` serves (no database is touched to build it)."""
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/schema.sqlite3")
        document = create_app(build_container(Settings(database_url=db.url), db=db)).openapi()
        db.dispose()
    return document


schema = schemathesis.openapi.from_dict(_published_document())


@dataclass
class Target:
    """The app on one backend's database, and a signed-in level-2 seller's token."""

    client: TestClient
    seller_token: str


def _seller_with_money(db: Database, clock: FrozenClock, keyring: Keyring) -> str:
    """A level-2 seller with 1,000 yuan available and a bank card (payout method 1), so the
    fuzzer's withdrawals and quotes reach the payout rules; returns a bearer token."""
    seller = make_seller(db, clock, tier=2, real_name=REAL_NAME)
    fund_wallet(db, seller.ledger_owner_ref, 100_000, clock.now())
    db.run(
        lambda s: methods.store_method(
            s, owner_ref=seller.ledger_owner_ref, kind=MethodKind.BANK_CARD,
            account_no=icbc_card(), holder_name=REAL_NAME, verified_real_name=REAL_NAME,
            keyring=keyring, now=clock.now(),
        )
    )  # fmt: skip
    return open_seller_session(db, clock, seller.id)


@pytest.fixture(scope="session")
def targets(sqlite_template, tmp_path_factory) -> Iterator[dict[str, Target]]:
    """One app per backend for the whole run: rows written by earlier requests stay (the fuzzer
    meets a database that is not empty), and no request waits for a database reset."""
    made: dict[str, Target] = {}
    with ExitStack() as cleanup:
        for backend in BACKENDS:
            if backend == "sqlite":
                path = tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite3"
                shutil.copyfile(sqlite_template, path)
                url = f"sqlite:///{path}"
            else:
                template = PostgresTemplate()
                cleanup.callback(template.drop)
                url = template.url
            db = Database(url, retries=10)
            cleanup.callback(db.dispose)
            clock = FrozenClock()
            container = make_container(db, clock)
            client = cleanup.enter_context(TestClient(create_app(container)))
            made[backend] = Target(client, _seller_with_money(db, clock, container.payouts.keyring))
        yield made


@pytest.fixture(
    params=[(backend, caller) for backend in BACKENDS for caller in CALLERS],
    ids=[f"{backend}-{caller}" for backend in BACKENDS for caller in CALLERS],
)
def target(request: pytest.FixtureRequest, targets) -> tuple[TestClient, dict[str, str]]:
    backend, caller = request.param
    chosen = targets[backend]
    headers = {"Authorization": f"Bearer {chosen.seller_token}"} if caller == "seller" else {}
    return chosen.client, headers


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_published_promises(case, target) -> None:
    client, headers = target
    sent = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    request = {key: value for key, value in sent.items() if key in _REQUEST_KEYS}
    if sent.get("data") is not None:
        request["content"] = sent["data"]
    headers = dict(request.get("headers") or {})
    if sent.get("cookies"):
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in sent["cookies"].items())
    # A header is bytes on the wire: send text that is not ASCII as its UTF-8 bytes.
    request["headers"] = {
        name: value.encode() if isinstance(value, str) and not value.isascii() else value
        for name, value in headers.items()
    }
    response = client.request(**request)
    case.validate_response(response, checks=CHECKS)


def _inputs(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema a request carries: parameters and request bodies, references followed."""
    components = document["components"]["schemas"]

    def walk(where: str, node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            yield from walk(f"{where}→{name}", components[name])
            return
        yield where, node
        for key in ("anyOf", "oneOf", "allOf"):
            for option in node.get(key, []):
                yield from walk(where, option)
        for name, child in node.get("properties", {}).items():
            yield from walk(f"{where}.{name}", child)
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                yield from walk(f"{where}[]", node[key])

    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                yield from walk(f"{method.upper()} {path} {parameter['name']}", parameter["schema"])
            for content in operation.get("requestBody", {}).get("content", {}).values():
                yield from walk(f"{method.upper()} {path} body", content["schema"])


def test_every_input_is_bounded_in_the_published_document() -> None:
    """Integers carry a minimum and a maximum (ids: 1 … 2⁶³−1), strings a maximum length, so
    the fuzzer tries the edges and a client can read the rules."""
    unbounded = []
    for where, node in _inputs(_published_document()):
        kind = node.get("type")
        if kind == "integer" and ("minimum" not in node and "exclusiveMinimum" not in node):
            unbounded.append(f"{where}: integer without a minimum")
        if kind == "integer" and ("maximum" not in node and "exclusiveMaximum" not in node):
            unbounded.append(f"{where}: integer without a maximum")
        dated = node.get("format") in ("date", "date-time")
        if kind == "string" and "maxLength" not in node and "enum" not in node and not dated:
            unbounded.append(f"{where}: string without a maximum length")
    assert unbounded == []
