"""A running platform for payout tests: the app served over real HTTP by the live harness (so the
rail sandboxes can call back), a worker, and small helpers a user's story needs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from factories import make_id_number
from huafei.composition.container import Container
from huafei.composition.runtime import build_registry
from huafei.core.clock import Clock, FrozenClock
from huafei.core.db import Database
from huafei.identity.models import (
    ID_NUMBER_CONTEXT,
    REAL_NAME_CONTEXT,
    Seller,
)
from huafei.identity.service import sessions as session_service
from huafei.identity.service import staff as staff_service
from huafei.identity.service.kyc import id_number_hash
from huafei.identity.service.oplog import Actor
from huafei.identity.service.sessions import Origin
from huafei.invariants import check_everything
from huafei.jobs.worker import Worker
from huafei.ledger import NewTransfer, transfer
from huafei.ledger.chart import Code, ensure_platform_accounts, ensure_wallet
from live import serve_live
from waiting import wait_for

REAL_NAME = "张三"


def luhn_complete(prefix: str, length: int) -> str:
    """A card number of ``length`` digits starting with ``prefix`` whose check digit is right."""
    body = (prefix + uuid.uuid4().int.__str__())[: length - 1]
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return body + str((10 - total % 10) % 10)


def icbc_card() -> str:
    return luhn_complete("622202", 19)


@dataclass
class Platform:
    container: Container
    base_url: str
    http: httpx.Client
    worker: Worker
    _sellers: dict[int, str] = field(default_factory=dict)
    _staff: dict[int, tuple[int, str]] = field(default_factory=dict)

    def owner_headers(self, owner_ref: str, real_name: str | None = REAL_NAME) -> dict[str, str]:
        """A signed-in seller whose wallet is ``owner_ref`` (``seller:N``), verified (L2) with
        ``real_name``; ``real_name=None`` signs in an unverified (L1) seller instead."""
        kind, _, number = owner_ref.partition(":")
        assert kind == "seller", owner_ref
        assert number.isdigit(), owner_ref
        seller_id = int(number) if real_name else int(number) + 900_000
        if seller_id not in self._sellers:
            self._sellers[seller_id] = self._open_seller(seller_id, real_name)
        return {"Authorization": f"Bearer {self._sellers[seller_id]}"}

    def _open_seller(self, seller_id: int, real_name: str | None) -> str:
        keyring = self.container.keyring
        now = self.container.clock.now()

        def work(session: Any) -> str:
            seller = Seller(
                id=seller_id,
                phone=f"139{seller_id % 10**8:08d}",
                carrier="cmcc",
                tier=2 if real_name else 1,
                created_at=now,
                updated_at=now,
            )
            if real_name:
                id_number = make_id_number()
                seller.real_name_enc = keyring.encrypt(real_name, context=REAL_NAME_CONTEXT)
                seller.id_number_enc = keyring.encrypt(id_number, context=ID_NUMBER_CONTEXT)
                seller.id_number_hash = id_number_hash(keyring, id_number)
                seller.verification_ref = "harness"
                seller.l2_verified_at = now
            session.add(seller)
            session.flush()
            return session_service.open_session(
                session,
                kind=session_service.SessionKind.BEARER,
                origin=Origin(ip="testclient"),
                now=now,
                seller_id=seller_id,
            ).token

        return self.db.run(work)

    def method_code(self, owner_ref: str) -> str:
        """Ask for the SMS code that confirms adding a payout method, and read it from the
        sandbox outbox as the seller would read it on their phone."""
        headers = self.owner_headers(owner_ref)
        response = self.http.post("/api/v1/payout-methods/sms-code", headers=headers)
        clock = self.container.clock
        if response.status_code == 429 and isinstance(clock, FrozenClock):
            clock.advance(seconds=61)  # the resend pause between two codes
            response = self.http.post("/api/v1/payout-methods/sms-code", headers=headers)
        assert response.status_code == 202, response.text
        phone = self.db.run(lambda s: s.get(Seller, int(owner_ref.partition(":")[2])).phone)
        messages = self.http.get("/sandbox/sms", params={"phone": phone}).json()
        match = re.search(r"\d{6}", messages[0]["text"])
        assert match, messages[0]
        return match.group()

    def staff_headers(self, staff_key: int, key: str | None = None) -> dict[str, str]:
        """A signed-in finance staff member; each ``staff_key`` is a different person."""
        if staff_key not in self._staff:
            created = self.db.run(
                lambda s: staff_service.create_staff(
                    s,
                    username=f"finance{staff_key}",
                    role="finance",
                    password="correct horse battery",
                    keyring=self.container.keyring,
                    actor=Actor.system("tests"),
                    now=self.container.clock.now(),
                )
            )
            staff_id = created.staff.id
            token = self.db.run(
                lambda s: (
                    session_service.open_session(
                        s,
                        kind=session_service.SessionKind.BEARER,
                        origin=Origin(ip="testclient"),
                        now=self.container.clock.now(),
                        staff_id=staff_id,
                    ).token
                )
            )
            self._staff[staff_key] = (staff_id, token)
        headers = {"Authorization": f"Bearer {self._staff[staff_key][1]}"}
        if key:
            headers["Idempotency-Key"] = key
        return headers

    def staff_id(self, staff_key: int) -> int:
        self.staff_headers(staff_key)
        return self._staff[staff_key][0]

    @property
    def db(self) -> Database:
        return self.container.db

    def fund(self, owner_ref: str, fen: int, *, ref: str | None = None) -> None:
        """Money arrives for the owner as a settled card would credit it: into escrow, owed to
        the owner's available balance."""
        now = self.container.clock.now()

        def work(session: Any) -> None:
            platform = ensure_platform_accounts(session, now=now)
            wallet = ensure_wallet(session, owner_ref, now=now)
            transfer(
                session,
                NewTransfer(
                    id=f"test-funding:{uuid.uuid4().hex}",
                    debit_account_id=platform[Code.ESCROW].id,
                    credit_account_id=wallet[Code.WALLET_AVAILABLE].id,
                    amount=fen,
                    ref=ref or "card-order:test",
                    memo="card settled",
                ),
                now=now,
            )

        self.db.run(work)

    def add_card(self, owner_ref: str, card: str | None = None) -> dict[str, Any]:
        response = self.http.post(
            "/api/v1/payout-methods",
            json={
                "kind": "bank_card",
                "account_no": card or icbc_card(),
                "holder_name": REAL_NAME,
                "sms_code": self.method_code(owner_ref),
            },
            headers=self.owner_headers(owner_ref),
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def withdraw(
        self, owner_ref: str, method_id: int, amount: str, *, key: str | None = None
    ) -> httpx.Response:
        return self.http.post(
            "/api/v1/withdrawals",
            json={"method_id": method_id, "amount": amount},
            headers={**self.owner_headers(owner_ref), "Idempotency-Key": key or uuid.uuid4().hex},
        )

    def withdrawal(self, owner_ref: str, withdrawal_id: int) -> dict[str, Any]:
        response = self.http.get(
            f"/api/v1/withdrawals/{withdrawal_id}", headers=self.owner_headers(owner_ref)
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_status(self, owner_ref: str, withdrawal_id: int, status: str) -> dict[str, Any]:
        return wait_for(
            lambda: self.withdrawal(owner_ref, withdrawal_id),
            until=lambda withdrawal: withdrawal["status"] == status,
            what=f"withdrawal {withdrawal_id} to be {status}",
        )

    def balances(self, owner_ref: str) -> dict[str, Any]:
        return dict(self.http.get("/api/v1/wallet", headers=self.owner_headers(owner_ref)).json())

    def sandbox(self, rail: str = "bank") -> str:
        return f"/sandbox/rails/{rail}/_control"

    def switch(self, mode: str, *, rail: str = "bank", count: int = 1, delay: float = 3.0) -> None:
        response = self.http.post(
            f"{self.sandbox(rail)}/failures",
            json={"mode": mode, "count": count, "delay_seconds": delay},
        )
        assert response.status_code == 200, response.text

    def rail_payouts(self, rail: str = "bank") -> list[dict[str, Any]]:
        return list(self.http.get(f"{self.sandbox(rail)}/payouts").json())

    def wait_for_callbacks(self, count: int, rail: str = "bank") -> list[dict[str, Any]]:
        return wait_for(
            lambda: self.rail_payouts(rail),
            until=lambda payouts: (
                bool(payouts) and all(p["callbacks_delivered"] >= count for p in payouts)
            ),
            what=f"the {rail} rail to deliver {count} callback(s) of each payout",
        )

    def notices(self, owner_ref: str) -> list[dict[str, Any]]:
        return list(self.http.get("/api/v1/notices", headers=self.owner_headers(owner_ref)).json())

    def assert_ledger_sound(self) -> None:
        with self.db.session() as session:
            report = check_everything(session)
        assert report.ok, report.render()


@contextmanager
def running_platform(
    db: Database, clock: Clock, tmp_path: Path, **settings: Any
) -> Iterator[Platform]:
    """The platform served by ``serve_live`` with payout settings for tests, and a worker."""
    options: dict[str, Any] = {
        "sandbox_dir": str(tmp_path / "sandbox"),
        "sandbox_rail_settle_seconds": 0.05,
        "log_level": "WARNING",
        "env": "test",
        **settings,
    }
    with serve_live(db, clock, **options) as live:
        container = live.container
        registry = build_registry(container)
        # Periodic work (daily reconciliation, escrow watch) runs when a test asks for it.
        registry.periodic.clear()
        worker = Worker(db, clock, registry, name="test-worker")
        with httpx.Client(base_url=live.url, timeout=20) as http:
            platform = Platform(container, live.url, http, worker)
            yield platform
        # Whatever the scenario did, the ledger and the escrow invariant must still hold.
        platform.assert_ledger_sound()
