"""Small keyword-default factories for tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from huafei.composition.app import create_app
from huafei.composition.container import Container, build_container
from huafei.core.clock import FrozenClock
from huafei.core.db import Database
from huafei.core.settings import Settings
from huafei.identity.models import (
    ID_NUMBER_CONTEXT,
    REAL_NAME_CONTEXT,
    SERVICE_PASSWORD_CONTEXT,
    Seller,
)
from huafei.identity.passwords import totp_code
from huafei.identity.service import partners as partner_service
from huafei.identity.service import sessions as session_service
from huafei.identity.service import staff as staff_service
from huafei.identity.service.kyc import id_number_hash
from huafei.identity.service.oplog import Actor, Origin
from huafei.identity.validation import id_check_char, parse_mobile
from huafei.ledger import create_account
from huafei.ledger.models import Account, AccountType

_counter = iter(range(1, 10**9))


def make_account(
    session: Session,
    *,
    now: datetime,
    type: AccountType = AccountType.ASSET,  # noqa: A002
    code: int = 1001,
    owner_ref: str | None = None,
    currency: str = "CNY",
    no_overdraft: bool = False,
    no_negative: bool = False,
) -> Account:
    return create_account(
        session,
        code=code,
        type=type,
        owner_ref=owner_ref or f"test:{next(_counter)}",
        name="test account",
        now=now,
        currency=currency,
        debits_must_not_exceed_credits=no_overdraft,
        credits_must_not_exceed_debits=no_negative,
    )


def make_accounts(db: Database, now: datetime, **kinds: dict[str, object]) -> dict[str, int]:
    """Create named accounts in one transaction and return their ids."""

    def work(session: Session) -> dict[str, int]:
        return {
            name: make_account(session, now=now, **options).id  # type: ignore[arg-type]
            for name, options in kinds.items()
        }

    return db.run(work)


#: Accounts the ledger tests name, each as the chart would set it up.
LEDGER_TEST_ACCOUNTS: dict[str, dict[str, object]] = {
    "escrow": {"type": AccountType.ASSET},
    "wallet": {"type": AccountType.LIABILITY, "code": 2002, "no_overdraft": True},
    "held": {"type": AccountType.LIABILITY, "code": 2003, "no_overdraft": True},
    "revenue": {"type": AccountType.REVENUE, "code": 4001},
    "bank": {"type": AccountType.ASSET, "code": 1002, "no_negative": True},
    "equity": {"type": AccountType.EQUITY, "code": 3001},
}


def make_ledger_accounts(db: Database, now: datetime, *names: str) -> dict[str, int]:
    """The named accounts of ``LEDGER_TEST_ACCOUNTS``, created in one transaction."""
    return make_accounts(db, now, **{name: LEDGER_TEST_ACCOUNTS[name] for name in names})


# -- identity -------------------------------------------------------------------------------------
_phones = iter(range(1, 10**7))
_id_sequence = iter(range(1, 10**6))
STAFF_PASSWORD = "correct horse battery staple"


def make_container(db: Database, clock: FrozenClock, **settings: object) -> Container:
    return build_container(Settings(database_url=db.url, **settings), db=db, clock=clock)  # type: ignore[arg-type]


def make_client(db: Database, clock: FrozenClock, **settings: object) -> TestClient:
    """A client of the whole app on this database, with the sandboxes and the frozen clock."""
    return TestClient(create_app(make_container(db, clock, **settings)))


def new_phone() -> str:
    """A fresh, valid China Mobile number."""
    return f"1380{next(_phones):07d}"


def make_id_number(born: date = date(1990, 5, 17), region: str = "310101") -> str:
    """A well-formed resident ID number (right check digit), unique within the run."""
    first17 = f"{region}{born:%Y%m%d}{next(_id_sequence) % 1000:03d}"
    return first17 + id_check_char(first17)


def make_seller(
    db: Database,
    clock: FrozenClock,
    *,
    tier: int = 1,
    phone: str | None = None,
    real_name: str | None = None,
    password_hash: str | None = None,
) -> Seller:
    """A seller at ``tier`` as if they had gone through the KYC steps (no HTTP, no adapters)."""
    number = parse_mobile(phone or new_phone())
    keyring = Settings(database_url=db.url).keyring()
    now = clock.now()

    def work(session: Session) -> Seller:
        seller = Seller(
            phone=number.phone,
            carrier=number.carrier.value,
            tier=tier,
            password_hash=password_hash,
            created_at=now,
            updated_at=now,
        )
        if tier >= 2:
            id_number = make_id_number()
            seller.real_name_enc = keyring.encrypt(real_name or "王小明", context=REAL_NAME_CONTEXT)
            seller.id_number_enc = keyring.encrypt(id_number, context=ID_NUMBER_CONTEXT)
            seller.id_number_hash = id_number_hash(keyring, id_number)
            seller.verification_ref = "factory"
            seller.l2_verified_at = now
        if tier >= 3:
            seller.service_password_enc = keyring.encrypt(
                "123456", context=SERVICE_PASSWORD_CONTEXT
            )
            seller.l3_verified_at = now
        session.add(seller)
        session.flush()
        return seller

    return db.run(work)


def open_seller_session(
    db: Database, clock: FrozenClock, seller_id: int, *, kind: str = "bearer"
) -> str:
    """A session token for the seller, opened directly in the database."""
    return db.run(
        lambda s: (
            session_service.open_session(
                s,
                kind=session_service.SessionKind(kind),
                origin=Origin(ip="testclient"),
                now=clock.now(),
                seller_id=seller_id,
            ).token
        )
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def latest_sms_code(client: TestClient, phone: str) -> str:
    """The code of the newest message to ``phone`` in the sandbox outbox."""
    messages = client.get("/sandbox/sms", params={"phone": phone}).json()
    assert messages, f"no SMS to {phone}"
    match = re.search(r"\d{6}", messages[0]["text"])
    assert match
    return match.group()


def sign_in_seller(client: TestClient, phone: str, *, session: str = "bearer") -> dict:
    """Sign in through the API: ask for a code, read it from the sandbox outbox, send it back.

    Returns the sign-in answer; ``["token"]`` for bearer sessions, ``["csrf_token"]`` (and the
    client's cookie jar) for cookie sessions.
    """
    sent = client.post("/api/v1/auth/sms-codes", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    code = latest_sms_code(client, phone)
    signed_in = client.post(
        "/api/v1/auth/sign-in/sms", json={"phone": phone, "code": code, "session": session}
    )
    assert signed_in.status_code == 200, signed_in.text
    return signed_in.json()


def seller_token(client: TestClient, phone: str) -> str:
    """A bearer token of the seller with ``phone``, signed in (or up) through the API."""
    token = sign_in_seller(client, phone)["token"]
    assert isinstance(token, str)
    return token


@dataclass(frozen=True)
class StaffCreds:
    id: int
    username: str
    password: str
    totp_secret: str
    role: str


def make_staff(
    db: Database,
    clock: FrozenClock,
    *,
    role: str = "admin",
    username: str | None = None,
    password: str = STAFF_PASSWORD,
) -> StaffCreds:
    name = username or f"{role}{next(_counter)}"
    keyring = Settings(database_url=db.url).keyring()
    created = db.run(
        lambda s: staff_service.create_staff(
            s,
            username=name,
            role=role,
            password=password,
            keyring=keyring,
            actor=Actor.system("tests"),
            now=clock.now(),
        )
    )
    return StaffCreds(created.staff.id, name, password, created.totp_secret, role)


def staff_totp(creds: StaffCreds, clock: FrozenClock) -> str:
    return totp_code(creds.totp_secret, clock.now())


def sign_in_staff(
    client: TestClient, creds: StaffCreds, clock: FrozenClock, *, session: str = "bearer"
) -> dict:
    """Sign in through the API; moves the clock one TOTP step on so each code is fresh."""
    clock.advance(seconds=30)
    response = client.post(
        "/api/v1/staff/auth/sign-in",
        json={
            "username": creds.username,
            "password": creds.password,
            "totp_code": staff_totp(creds, clock),
            "session": session,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def open_staff_session(db: Database, clock: FrozenClock, staff_id: int) -> str:
    return db.run(
        lambda s: (
            session_service.open_session(
                s,
                kind=session_service.SessionKind.BEARER,
                origin=Origin(ip="testclient"),
                now=clock.now(),
                staff_id=staff_id,
            ).token
        )
    )


@dataclass(frozen=True)
class PartnerKey:
    partner_id: int
    key_id: str
    key: str


def make_partner_key(
    db: Database,
    clock: FrozenClock,
    *,
    scopes: tuple[str, ...] = ("cards:submit", "orders:read"),
    partner_id: int | None = None,
) -> PartnerKey:
    actor = Actor.system("tests")
    now = clock.now()

    def work(session: Session) -> PartnerKey:
        pid = partner_id
        if pid is None:
            pid = partner_service.create_partner(
                session, name=f"Partner {next(_counter)}", actor=actor, now=now
            ).id
        issued = partner_service.issue_api_key(
            session, partner_id=pid, scopes=list(scopes), actor=actor, now=now
        )
        return PartnerKey(pid, issued.record.key_id, issued.key)

    return db.run(work)
