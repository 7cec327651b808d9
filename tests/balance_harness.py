"""A seller selling their number's balance through the HTTP API, against the carrier sandboxes
(``live_app``), and the platform fixture the balance tests share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from factories import bearer, make_seller, open_seller_session
from huafei.balance.service.rules import install_receiving_numbers
from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_numbers import RECEIVING_NUMBERS, TEST_NUMBERS
from huafei.composition.runtime import build_worker
from huafei.core.clock import FrozenClock
from huafei.core.db import Database
from huafei.jobs.worker import Worker
from huafei.rates.defaults import install_defaults
from live import LiveApp, serve_live


@contextmanager
def balance_platform(db: Database, clock: FrozenClock) -> Iterator[LiveApp]:
    """The platform with its rate cards, the sandboxes' receiving numbers, over real HTTP."""

    def install(session: Any) -> None:
        install_defaults(session, now=clock.now())
        install_receiving_numbers(
            session, {c.value: phones for c, phones in RECEIVING_NUMBERS.items()}, now=clock.now()
        )

    db.run(install)
    with serve_live(db, clock) as live:
        yield live


class BalanceSeller:
    """A seller whose verified number is ``phone``, calling the balance API."""

    def __init__(
        self, live: LiveApp, db: Database, clock: FrozenClock, phone: str, *, tier: int = 3
    ) -> None:
        self.live, self.db, self.clock = live, db, clock
        self.phone = phone
        self.record = make_seller(db, clock, tier=tier, phone=phone)
        self.owner_ref = f"seller:{self.record.id}"
        self.http = httpx.Client(base_url=live.url, timeout=20)
        self.sign_in_again()
        self.agreement = self.http.get("/api/v1/agreement").json()

    @property
    def carrier(self) -> Carrier:
        return TEST_NUMBERS[self.phone].carrier

    @property
    def password(self) -> str:
        return TEST_NUMBERS[self.phone].service_password

    def sign_in_again(self) -> None:
        self.http.headers.update(bearer(open_seller_session(self.db, self.clock, self.record.id)))

    # -- the steps, one request each ----------------------------------------------------------
    def authorise(
        self, *, password: str | None = None, phone: str | None = None, carrier: str | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "phone": phone or self.phone,
            "service_password": self.password if password is None else password,
        }
        if carrier is not None:
            body["carrier"] = carrier
        return self.http.post("/api/v1/balance/authorisations", json=body)

    def texted_code(self, carrier: Carrier | None = None) -> str:
        """The newest code the carrier texted to the number (the sandbox's outbox)."""
        url = self.live.sandbox_url(carrier or self.carrier) + "/control/codes"
        codes = httpx.get(url, params={"phone": self.phone}).json()
        assert codes, f"no code texted to {self.phone}"
        return str(codes[0]["code"])

    def confirm(self, authorisation_id: int, code: str) -> httpx.Response:
        return self.http.post(
            f"/api/v1/balance/authorisations/{authorisation_id}/code", json={"code": code}
        )

    def balance(self, authorisation_id: int, profile: str = "third_party") -> httpx.Response:
        return self.http.get(
            f"/api/v1/balance/authorisations/{authorisation_id}/balance",
            params={"profile": profile},
        )

    def quote(
        self, authorisation_id: int, amount_fen: int, profile: str = "third_party"
    ) -> httpx.Response:
        return self.http.post(
            "/api/v1/balance/quotes",
            json={
                "authorisation_id": authorisation_id,
                "profile": profile,
                "amount_fen": amount_fen,
            },
        )

    def sell(
        self, authorisation_id: int, quote_id: str, *, key: str | None = None, **extra: Any
    ) -> httpx.Response:
        body = {
            "authorisation_id": authorisation_id,
            "quote_id": quote_id,
            "agreement_version": self.agreement["version"],
            "agreement_sha256": self.agreement["sha256"],
            "lawful_source_confirmed": True,
            **extra,
        }
        return self.http.post(
            "/api/v1/balance/sales",
            json=body,
            headers={"Idempotency-Key": key or uuid.uuid4().hex},
        )

    def sale(self, sale_id: int) -> dict[str, Any]:
        response = self.http.get(f"/api/v1/balance/sales/{sale_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wallet(self) -> dict[str, Any]:
        return dict(self.http.get("/api/v1/wallet").json())

    # -- the steps together --------------------------------------------------------------------
    def verified(self, *, carrier: str | None = None) -> int:
        """Steps 1: an authorisation confirmed with the carrier's code; its id."""
        started = self.authorise(carrier=carrier)
        assert started.status_code == 201, started.text
        authorisation = started.json()
        confirmed = self.confirm(
            authorisation["id"], self.texted_code(Carrier(authorisation["carrier"]))
        )
        assert confirmed.status_code == 200, confirmed.text
        return int(authorisation["id"])

    def quoted(
        self, amount_fen: int, *, profile: str = "third_party"
    ) -> tuple[int, dict[str, Any]]:
        """Steps 1 to 3: a verified number, its balance asked, a locked quote."""
        authorisation_id = self.verified()
        balance = self.balance(authorisation_id, profile)
        assert balance.status_code == 200, balance.text
        quote = self.quote(authorisation_id, amount_fen, profile)
        assert quote.status_code == 201, quote.text
        return authorisation_id, dict(quote.json())

    def sold(self, amount_fen: int, *, profile: str = "third_party") -> dict[str, Any]:
        """Steps 1 to 4: the sale made (its payout frozen, its transfer queued)."""
        authorisation_id, quote = self.quoted(amount_fen, profile=profile)
        sale = self.sell(authorisation_id, quote["quote_id"])
        assert sale.status_code == 201, sale.text
        return dict(sale.json())


def worker_for(live: LiveApp) -> Worker:
    return build_worker(live.container, name="test")


def sandbox_balance(live: LiveApp, carrier: Carrier, phone: str) -> int:
    balances = httpx.get(live.sandbox_url(carrier) + "/control/balances").json()
    return int(balances.get(phone, 0))
