"""Helpers for portal tests through HTTP: read form tokens from pages, sign in with forms,
put money in a wallet as a settled card would."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient

from factories import latest_sms_code
from huafei.core.db import Database
from huafei.ledger import NewTransfer, transfer
from huafei.ledger.chart import Code, ensure_platform_accounts, ensure_wallet

HTML = {"accept": "text/html"}


def field(page: str, name: str) -> str:
    """The value of the form field ``name`` in an HTML page."""
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert match, f"no field {name!r} in the page"
    return match.group(1)


def sign_in_with_forms(client: TestClient, phone: str, *, next_url: str = "/wallet") -> str:
    """Sign in through the sign-in page's two forms; returns the CSRF token of the session."""
    page = client.get("/sign-in", params={"next": next_url}).text
    token = field(page, "form_token")
    sent = client.post(
        "/sign-in/code", data={"phone": phone, "form_token": token, "next": next_url}
    )
    assert sent.status_code == 200, sent.text
    code = latest_sms_code(client, phone)
    signed_in = client.post(
        "/sign-in",
        data={"phone": phone, "code": code, "form_token": token, "next": next_url},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    return str(client.cookies["huafei_csrf"])


def fund_wallet(db: Database, owner_ref: str, fen: int, now: object) -> None:
    """Money owed to ``owner_ref``'s available balance, held in escrow (a settled card)."""

    def work(session: object) -> None:
        platform = ensure_platform_accounts(session, now=now)  # type: ignore[arg-type]
        wallet = ensure_wallet(session, owner_ref, now=now)  # type: ignore[arg-type]
        transfer(
            session,  # type: ignore[arg-type]
            NewTransfer(
                id=f"test-funding:{uuid.uuid4().hex}",
                debit_account_id=platform[Code.ESCROW].id,
                credit_account_id=wallet[Code.WALLET_AVAILABLE].id,
                amount=fen,
                ref="card-order:test",
                memo="card settled",
            ),
            now=now,  # type: ignore[arg-type]
        )

    db.run(work)
