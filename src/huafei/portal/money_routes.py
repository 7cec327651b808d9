"""The wallet pages: balances, the statement and its exports, payout accounts, withdrawals.

A withdrawal takes two steps, as the API's: the quote (fee, total, what arrives, whether finance
must approve) is shown first, and only the confirmation moves money. The confirmation carries an
idempotency key made with the quote, so a double click or a resent form withdraws once.
"""

from __future__ import annotations

import collections
import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from huafei.core.errors import HuafeiError
from huafei.core.idempotency import run_idempotent
from huafei.core.money import Money
from huafei.core.types import Id
from huafei.identity.deps import get_container, origin_of, raise_refused
from huafei.payouts.models import MethodKind, WithdrawalStatus
from huafei.payouts.service import methods, withdrawals
from huafei.portal.i18n import negotiate, statement_locale
from huafei.portal.messages import describe, describe_error
from huafei.portal.pages import PageRoute, SellerPage, form_fields, redirect, render, seller_page
from huafei.portal.routes import flash
from huafei.portal.ui import gettext_for
from huafei.wallets.service import all_statement_rows, get_balances

router = APIRouter(route_class=PageRoute, include_in_schema=False, tags=["portal"])

Me = Annotated[SellerPage, Depends(seller_page)]
Form = Annotated[dict[str, str], Depends(form_fields)]

STATEMENT_LINES = 10
#: the text that carries the code confirming a new payout account (the API sends the same)
CANCELLABLE = frozenset({WithdrawalStatus.AWAITING_APPROVAL.value, WithdrawalStatus.QUEUED.value})


def _verified_name(request: Request, me: SellerPage) -> str | None:
    """The real name payout accounts must be in (L2 and above), as the API's ``current_owner``."""
    if me.seller.tier < 2:
        return None
    return me.seller.real_name(get_container(request).keyring)


def _wallet_page(
    request: Request,
    me: SellerPage,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
    notice: str | None = None,
    code_sent: bool = False,
) -> Response:
    container = get_container(request)
    locale = statement_locale(negotiate(request))

    def read(session: Session) -> dict[str, Any]:
        rows = collections.deque(
            all_statement_rows(session, me.owner_ref, locale=locale), maxlen=STATEMENT_LINES
        )
        return {
            "balances": get_balances(session, me.owner_ref),
            "methods": [methods.view(m) for m in methods.list_methods(session, me.owner_ref)],
            "withdrawals": withdrawals.list_withdrawals(session, owner_ref=me.owner_ref, limit=10),
            "statement": list(reversed(rows)),
        }

    data = container.db.run(read)
    return render(
        request,
        "wallet.html",
        status=status,
        me=me,
        section="wallet",
        error=error,
        typed=form or {},
        statement_locale=locale,
        cancellable=CANCELLABLE,
        flash=notice or flash(request),
        code_sent=code_sent,
        **data,
    )


@router.get("/wallet")
def wallet_page(request: Request, me: Me) -> Response:
    return _wallet_page(request, me)


# -- payout accounts ----------------------------------------------------------------------------
def _method_form(form: dict[str, str]) -> dict[str, str]:
    """What the seller typed into the add-a-card form (the card number is their own input and
    is kept so a typo can be fixed; the code is not)."""
    return {"account_no": form.get("account_no", ""), "holder_name": form.get("holder_name", "")}


@router.post("/wallet/methods/code")
def send_method_code(request: Request, me: Me, form: Form) -> Response:
    """Text the code that confirms a new payout account, as the API's
    ``POST /api/v1/payout-methods/sms-code`` does."""
    container = get_container(request)
    gettext = gettext_for(request)
    now = container.clock.now()
    try:
        issued = raise_refused(
            container.db.run(
                lambda s: methods.issue_method_code(
                    s,
                    phone=me.seller.phone,
                    keyring=container.keyring,
                    limiter=container.rate_limiter,
                    origin=origin_of(request),
                    now=now,
                )
            )
        )
    except HuafeiError as exc:
        error = describe_error(exc, gettext)
        return _wallet_page(request, me, error=error, form=_method_form(form), status=exc.status)
    container.sms.send(issued.phone, methods.method_code_text(issued, now))
    notice = gettext("We texted a 6-digit code to %(phone)s. It works for 5 minutes.") % {
        "phone": me.view.phone_masked
    }
    return _wallet_page(request, me, form=_method_form(form), notice=notice, code_sent=True)


@router.post("/wallet/methods")
def add_method(request: Request, me: Me, form: Form) -> Response:
    """As the API: the account, the name and the code are checked in the unit of work that
    stores the method (a typo costs no code try, a wrong code counts, a refused account leaves
    the code live)."""
    container = get_container(request)
    payouts = container.payouts
    real_name = _verified_name(request, me)
    account_no = form.get("account_no", "")[:128]
    holder_name = form.get("holder_name", "")[:64]
    try:
        _require(form, "account_no", "holder_name", "sms_code")
        raise_refused(
            container.db.run(
                lambda s: methods.add_method(
                    s,
                    owner_ref=me.owner_ref,
                    phone=me.seller.phone,
                    kind=MethodKind.BANK_CARD,
                    account_no=account_no,
                    holder_name=holder_name,
                    verified_real_name=real_name,
                    sms_code=form.get("sms_code", "")[:12],
                    keyring=payouts.keyring,
                    now=container.clock.now(),
                )
            )
        )
    except HuafeiError as exc:
        error = describe_error(exc, gettext_for(request))
        return _wallet_page(
            request, me, error=error, form=_method_form(form), status=exc.status, code_sent=True
        )
    return redirect("/wallet?done=method_added#methods")


@router.post("/wallet/methods/{method_id}/remove")
def remove_method(method_id: Id, request: Request, me: Me) -> Response:
    container = get_container(request)
    container.db.run(
        lambda s: methods.remove_method(
            s, owner_ref=me.owner_ref, method_id=method_id, now=container.clock.now()
        )
    )
    return redirect("/wallet?done=method_removed#methods")


# -- withdrawals --------------------------------------------------------------------------------
@router.post("/wallet/withdraw")
def quote_withdrawal(request: Request, me: Me, form: Form) -> Response:
    """Step one: the fee and the total, shown before anything moves."""
    container = get_container(request)
    kept = {"method_id": form.get("method_id", ""), "amount": form.get("amount", "")}
    try:
        method_id = _int(form.get("method_id", ""))
        amount = Money.parse(form.get("amount", "")).fen
        quote = container.db.run(
            lambda s: withdrawals.quote_withdrawal(
                s,
                payouts=container.payouts,
                owner_ref=me.owner_ref,
                method_id=method_id,
                amount_fen=amount,
                now=container.clock.now(),
            )
        )
        if quote.refused is not None:  # say so now, not after "confirm"
            raise quote.refused
        method = container.db.run(
            lambda s: methods.view(methods.get_method(s, me.owner_ref, method_id))
        )
    except HuafeiError as exc:
        error = describe_error(exc, gettext_for(request))
        return _wallet_page(request, me, error=error, form=kept, status=exc.status)
    return render(
        request,
        "withdraw_confirm.html",
        me=me,
        section="wallet",
        quote=quote,
        method=method,
        amount_text=form.get("amount", ""),
        idempotency_key=secrets.token_urlsafe(18),
    )


@router.post("/wallet/withdraw/confirm")
def confirm_withdrawal(request: Request, me: Me, form: Form) -> Response:
    """Step two: withdraw exactly what was quoted (a changed fee is refused and re-quoted)."""
    container = get_container(request)
    gettext = gettext_for(request)
    kept = {"method_id": form.get("method_id", ""), "amount": form.get("amount", "")}
    try:
        method_id = _int(form.get("method_id", ""))
        amount = Money.parse(form.get("amount", "")).fen
        fee_fen = _int(form.get("fee_fen", ""))
    except HuafeiError as exc:
        return _wallet_page(
            request, me, error=describe_error(exc, gettext), form=kept, status=exc.status
        )
    key = form.get("idempotency_key", "")
    scope = f"{me.owner_ref}:withdrawals"
    # The same request body as the API's, so a key means the same withdrawal either way.
    body = {"method_id": method_id, "amount": form.get("amount", ""), "fee_fen": fee_fen}

    def work(session: Session) -> tuple[int, Any]:
        withdrawal, _created = withdrawals.request_withdrawal(
            session,
            payouts=container.payouts,
            owner_ref=me.owner_ref,
            method_id=method_id,
            amount_fen=amount,
            idempotency_key=key,
            now=container.clock.now(),
            expected_fee_fen=fee_fen,
        )
        return 201, {"id": withdrawal.id, "status": withdrawal.status}

    try:
        outcome = run_idempotent(
            container.db,
            container.clock,
            principal=scope,
            key=key,
            method="POST",
            path=scope,
            body=json.dumps(body, sort_keys=True, default=str).encode(),
            handler=work,
        )
    except HuafeiError as exc:
        return _wallet_page(
            request, me, error=describe_error(exc, gettext), form=kept, status=exc.status
        )
    if outcome.status_code >= 400:
        problem = dict(outcome.body)
        error = describe(
            str(problem.get("code", "")), gettext, status=outcome.status_code, fields=problem
        )
        return _wallet_page(request, me, error=error, form=kept, status=outcome.status_code)
    waits = outcome.body.get("status") == WithdrawalStatus.AWAITING_APPROVAL.value
    return redirect(
        "/wallet?done=" + ("withdrawal_waits" if waits else "withdrawal_requested") + "#withdrawals"
    )


@router.post("/wallet/withdrawals/{withdrawal_id}/cancel")
def cancel_withdrawal(withdrawal_id: Id, request: Request, me: Me) -> Response:
    container = get_container(request)
    container.db.run(
        lambda s: withdrawals.cancel_withdrawal(
            s,
            payouts=container.payouts,
            owner_ref=me.owner_ref,
            withdrawal_id=withdrawal_id,
            now=container.clock.now(),
        )
    )
    return redirect("/wallet?done=withdrawal_cancelled#withdrawals")


def _require(form: dict[str, str], *names: str) -> None:
    missing = [name for name in names if not form.get(name)]
    if missing:
        raise _MissingFields(missing=missing)


class _MissingFields(HuafeiError):
    code = "fields_missing"
    status = 422
    title = "Fill in every field"


def _int(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise _InvalidChoice
    return int(text)


class _InvalidChoice(HuafeiError):
    code = "validation_failed"
    status = 422
    title = "Not a valid choice"
