"""The sellers of a chaos run: made with a session and a bank card each, then driven over HTTP.

Clients submit cards (good, used, expired, wrong face, wrong PIN), submit cards again (their own
and other sellers'), replay requests with their keys and withdraw (alone and two at once). A
request that got no answer or a 5xx is sent again with the same key, on another server.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.bench.chaos_state import (
    ACTUAL_FACE_FEN,
    CARRIER,
    FACE_FEN,
    RETRY_FOR_SECONDS,
    SELLER_NAME,
    Options,
    SellerState,
    Tally,
)
from huafei.bench.common import make_sellers
from huafei.carriers.sandbox_cards import SandboxCard, SandboxCardKind, issue_cards
from huafei.core.clock import SystemClock
from huafei.core.db import Database
from huafei.core.settings import Settings
from huafei.identity.models import Seller
from huafei.payouts.models import MethodKind
from huafei.payouts.service.methods import store_method

WITHDRAWALS = "/api/v1/withdrawals"


def make_chaos_sellers(db: Database, count: int, run_id: str) -> list[SellerState]:
    """Verified (L3) sellers with a session and a bank card each (the card added directly: the
    SMS confirmation is not what this run is about)."""
    tokens = make_sellers(db, count, run_id)
    settings = Settings()
    keyring = settings.keyring()
    now = SystemClock().now()

    def work(session: Session) -> list[SellerState]:
        ids = list(session.scalars(select(Seller.id).order_by(Seller.id.desc()).limit(count)))
        states = []
        for index, (seller_id, token) in enumerate(zip(sorted(ids), tokens, strict=True)):
            method = store_method(
                session,
                owner_ref=f"seller:{seller_id}",
                kind=MethodKind.BANK_CARD,
                account_no=_bank_card(index),
                holder_name=SELLER_NAME,
                verified_real_name=SELLER_NAME,
                keyring=keyring,
                now=now,
            )
            states.append(SellerState(token, seller_id, method.id, f"chaos-{index}"))
        return states

    return db.run(work)


def _bank_card(index: int) -> str:
    """An ICBC debit card number (BIN 622202) with a right check digit."""
    body = f"622202{index:012d}"
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
        total += digit
    return body + str((10 - total % 10) % 10)


def _replay_key(status: int, document: Any) -> Any:
    """What a replay must repeat: a success's whole body; a refusal's status, code and detail
    (its stored record keeps the problem's scalar members, not its per-line lists)."""
    if status < 400 or not isinstance(document, dict):
        return status, document
    return status, document.get("code"), document.get("detail")


@dataclass
class Request:
    """One request of a seller, sent until answered with its idempotency key."""

    kind: str
    path: str
    body: dict[str, Any]
    key: str
    seller: SellerState


@dataclass(eq=False)
class SellerClients:
    """``options.clients`` clients acting for the sellers until ``options.seconds`` have passed;
    what they do and see goes to ``tally``."""

    options: Options
    rng: random.Random
    _: KW_ONLY
    bases: list[str]
    sellers: list[SellerState]
    #: the agreement's version and SHA-256 every order confirms
    agreement: tuple[str, str]
    run_id: str
    tally: Tally
    secret: str = field(init=False)
    answered: list[tuple[Request, int, Any]] = field(init=False, default_factory=list)
    offset: int = field(init=False)
    deadline: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.secret = Settings().sandbox_card_secret.get_secret_value()
        self.offset = (int(self.run_id, 16) % 1000) * 100_000_000

    async def drive(self) -> None:
        """Run the clients until the run's time is up."""
        self.deadline = time.monotonic() + self.options.seconds
        limits = httpx.Limits(max_connections=self.options.clients * 2)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await asyncio.gather(*(self._client(i, http) for i in range(self.options.clients)))

    async def _client(self, index: int, http: httpx.AsyncClient) -> None:
        number = 0
        while time.monotonic() < self.deadline:
            number += 1
            await self._one(http, number, index)

    async def _one(self, http: httpx.AsyncClient, number: int, client: int) -> None:
        """One operation, drawn at random."""
        seller = self.sellers[self.rng.randrange(len(self.sellers))]
        key = f"{self.run_id}:{client}:{number}"
        roll = self.rng.random()
        if roll < 0.45:
            request: Request | None = self._submission(seller, key, number, client)
        elif roll < 0.55:
            request = self._resubmission(seller, key)
        elif roll < 0.65:
            await self._replay(http)
            return
        elif roll < 0.9:
            body = {
                "method_id": seller.method_id,
                "amount": f"{self.rng.randint(5, 60)}.{self.rng.randint(0, 99):02d}",
            }
            request = Request("withdraw", WITHDRAWALS, body, key, seller)
        else:
            await self._withdrawal_race(http, seller, key)
            return
        if request is None:
            return
        self.tally.operations[request.kind] += 1
        await self._send_and_keep(http, request)

    def _submission(self, seller: SellerState, key: str, number: int, client: int) -> Request:
        """A few cards of every kind, a wrong PIN among them now and then."""
        rng = self.rng
        count = rng.choice([1, 1, 2, 3, 5])
        cards, pins = [], []
        for index in range(count):
            start = self.offset + client * 10_000_000 + number * 10 + index
            kind = rng.choices(
                ["good", "used", "expired", "wrong_face", "wrong_pin"], [75, 8, 5, 7, 5]
            )[0]
            card = _card(self.secret, kind, start)
            cards.append(card)
            pins.append(_wrong(card.pin) if kind == "wrong_pin" else card.pin)
        body = self._order_body(cards, pins)
        seller.cards.extend(c for c, p in zip(cards, pins, strict=True) if p == c.pin)
        return Request("submit", _order_path(body), body, key, seller)

    def _resubmission(self, seller: SellerState, key: str) -> Request | None:
        """A card submitted before: half the time one's own card again, else another seller's."""
        rng = self.rng
        owner = seller if rng.random() < 0.5 else self.sellers[rng.randrange(len(self.sellers))]
        if not owner.cards:
            return None
        card = rng.choice(owner.cards)
        body = self._order_body([card])
        kind = "duplicate_own" if owner is seller else "duplicate_other"
        return Request(kind, _order_path(body), body, key, seller)

    async def _replay(self, http: httpx.AsyncClient) -> None:
        """A request answered before, sent again with its key: the same answer must come."""
        if not self.answered:
            return
        first, status, document = self.rng.choice(self.answered)
        self.tally.replays += 1
        self.tally.operations["replay"] += 1
        again = await self._send(http, first)
        if again is not None and _replay_key(*again) != _replay_key(status, document):
            self.tally.replay_mismatches.append(
                f"{first.kind} {first.key}: {status} then {again[0]}"
            )

    async def _withdrawal_race(
        self, http: httpx.AsyncClient, seller: SellerState, key: str
    ) -> None:
        """Two withdrawals of one seller at once: both may not fit in the balance."""
        amount = f"{self.rng.randint(20, 80)}"
        requests = [
            Request(
                "withdraw_race",
                WITHDRAWALS,
                {"method_id": seller.method_id, "amount": amount},
                f"{key}:{side}",
                seller,
            )
            for side in "ab"
        ]
        self.tally.operations["withdraw_race"] += 2
        await asyncio.gather(*(self._send_and_keep(http, r) for r in requests))

    def _order_body(
        self, cards: list[SandboxCard], pins: list[str] | None = None
    ) -> dict[str, Any]:
        pins = pins or [card.pin for card in cards]
        body: dict[str, Any] = {
            "profile": "third_party",
            "carrier": CARRIER.value,
            "face_value_fen": FACE_FEN,
            "agreement_version": self.agreement[0],
            "agreement_sha256": self.agreement[1],
            "lawful_source_confirmed": True,
        }
        if len(cards) == 1 and self.rng.random() < 0.5:
            return body | {"serial": cards[0].serial, "pin": pins[0]}
        return body | {
            "cards": "\n".join(f"{c.serial} {p}" for c, p in zip(cards, pins, strict=True))
        }

    async def _send_and_keep(self, http: httpx.AsyncClient, request: Request) -> None:
        """Send it; an answered request is kept for replays."""
        result = await self._send(http, request)
        if result is not None:
            self.answered.append((request, *result))

    async def _send(self, http: httpx.AsyncClient, request: Request) -> tuple[int, Any] | None:
        """POST until answered (not a transport error, not a 5xx), the same key each time."""
        tally = self.tally
        give_up = time.monotonic() + RETRY_FOR_SECONDS
        attempt = 0
        while time.monotonic() < give_up:
            base = self.bases[(hash(request.key) + attempt) % len(self.bases)]
            if attempt:
                tally.retries += 1
                await asyncio.sleep(min(2.0, 0.1 * 2**attempt) * self.rng.uniform(0.5, 1.0))
            attempt += 1
            tally.requests += 1
            try:
                response = await http.post(
                    base + request.path,
                    json=request.body,
                    headers={
                        "Authorization": f"Bearer {request.seller.token}",
                        "Idempotency-Key": request.key,
                        "X-Device-Id": request.seller.device,
                    },
                )
            except httpx.HTTPError as exc:
                tally.transport_errors[type(exc).__name__] += 1
                continue
            tally.statuses[str(response.status_code)] += 1
            if response.status_code >= 500:
                tally.server_errors.append(
                    (time.monotonic(), response.status_code, response.text[:300])
                )
                continue
            document = response.json()
            if response.status_code >= 400:
                tally.refusals[f"{request.kind}: {document.get('code')}"] += 1
            return response.status_code, document
        tally.unanswered += 1
        return None


def _order_path(body: dict[str, Any]) -> str:
    return "/api/v1/orders/batch" if "cards" in body else "/api/v1/orders"


def _card(secret: str, kind: str, start: int) -> SandboxCard:
    if kind == "used":
        return issue_cards(secret, CARRIER, FACE_FEN, 1, kind=SandboxCardKind.USED, start=start)[0]
    if kind == "expired":
        return issue_cards(secret, CARRIER, FACE_FEN, 1, kind=SandboxCardKind.EXPIRED, start=start)[
            0
        ]
    if kind == "wrong_face":
        return issue_cards(
            secret,
            CARRIER,
            FACE_FEN,
            1,
            kind=SandboxCardKind.WRONG_FACE,
            actual_face_value_fen=ACTUAL_FACE_FEN,
            start=start,
        )[0]
    return issue_cards(secret, CARRIER, FACE_FEN, 1, start=start)[0]


def _wrong(pin: str) -> str:
    return pin[:-1] + str((int(pin[-1]) + 1) % 10)
