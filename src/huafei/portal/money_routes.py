"""The wallet pages: balances, the statement and its exports, payout accounts, withdrawals.

A withdrawal takes two steps, as the API's: the quote (fee, total, what arrives, whether finance
must approve) is shown first, and only the confirmation moves money. The confirmation carries an
idempotency key made with the quote, so a double click or a resent form withdraws once.
"""

from __future__ import annotations

import collections
import secrets
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from huafei.core.errors import HuafeiError
from huafei.core.idempotency import IdempotentResponse
from huafei.core.money import Money
from huafei.core.types import Id
from huafei.identity.deps import CallContext
from huafei.payouts.config import Payouts
from huafei.payouts.deps import PayoutsDep
from huafei.payouts.models import MethodKind, WithdrawalStatus
from huafei.payouts.service import methods, withdrawals
from huafei.portal.i18n import negotiate, statement_locale
from huafei.portal.messages import describe_problem
from huafei.portal.pages import (
    Form,
    Me,
    PageCtx,
    PageRoute,
    SellerPage,
    chosen_number,
    flash,
    redirect,
    render,
)
from huafei.portal.ui import gettext_for
from huafei.sms.deps import Sms
from huafei.vouchers import service as vouchers
from huafei.vouchers.schemas import Subject
from huafei.wallets.service import all_statement_rows, get_balances
from huafei.web.idempotency import Idempotency, json_fingerprint

router = APIRouter(route_class=PageRoute, include_in_schema=False, tags=["portal"])

STATEMENT_LINES = 10
#: the text that carries the code confirming a new payout account (the API sends the same)
CANCELLABLE = frozenset({WithdrawalStatus.AWAITING_APPROVAL.value, WithdrawalStatus.QUEUED.value})


def _verified_name(ctx: CallContext, me: SellerPage) -> str | None:
    """The real name payout accounts must be in (L2 and above), as the API's
    ``SellerContext.verified_real_name``."""
    if me.seller.tier < 2:
        return None
    return me.seller.real_name(ctx.keyring)


def _wallet_page(
    ctx: CallContext,
    me: SellerPage,
    *,
    refused: HuafeiError | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
    notice: str | None = None,
    code_sent: bool = False,
) -> Response:
    request = ctx.request
    locale = statement_locale(negotiate(request))

    def read(session: Session) -> dict[str, Any]:
        rows = collections.deque(
            all_statement_rows(session, me.owner_ref, locale=locale), maxlen=STATEMENT_LINES
        )
        recent = withdrawals.list_withdrawals(session, owner_ref=me.owner_ref, limit=10)
        return {
            "balances": get_balances(session, me.owner_ref),
            "methods": [methods.view(m) for m in methods.list_methods(session, me.owner_ref)],
            "withdrawals": recent,
            "destinations": methods.views_by_id(
                session, me.owner_ref, [w.method_id for w in recent if w.method_id is not None]
            ),
            "with_vouchers": vouchers.with_vouchers(
                session, Subject.WITHDRAWAL, [w.id for w in recent], owner_ref=me.owner_ref
            ),
            "statement": list(reversed(rows)),
        }

    data = ctx.run(read)
    return render(
        request,
        "wallet.html",
        status=status,
        refused=refused,
        me=me,
        section="wallet",
        error=error,
        typed=form or {},
        statement_locale=locale,
        cancellable=CANCELLABLE,
        flash=notice or flash(request),
        code_sent=code_sent,
        adding=(form or {}).get("kind") or MethodKind.BANK_CARD.value,
        addable=ADDABLE,
        **data,
    )


@router.get("/wallet")
def wallet_page(ctx: PageCtx, me: Me) -> Response:
    return _wallet_page(ctx, me)


# -- payout accounts ----------------------------------------------------------------------------
#: the kinds a seller adds by typing the account (the carrier wallet is added by the platform)
ADDABLE = (MethodKind.BANK_CARD, MethodKind.ALIPAY, MethodKind.WECHAT, MethodKind.ECNY)


def _kind_of(form: dict[str, str]) -> MethodKind:
    """The kind of account a form adds (a form without one is the bank card's)."""
    typed = form.get("kind", "")[:32] or MethodKind.BANK_CARD.value
    for kind in ADDABLE:
        if kind.value == typed:
            return kind
    raise _UnknownKind(kind=typed)


def _method_form(form: dict[str, str]) -> dict[str, str]:
    """What the seller typed into an add-an-account form (the account number is their own input
    and is kept so a typo can be fixed; the code is not)."""
    return {
        "kind": form.get("kind", "")[:32],
        "account_no": form.get("account_no", ""),
        "holder_name": form.get("holder_name", ""),
    }


@router.post("/wallet/methods/code")
def send_method_code(ctx: PageCtx, me: Me, form: Form, sms: Sms) -> Response:
    """Text the code that confirms a new payout account, as the API's
    ``POST /api/v1/payout-methods/sms-code`` does."""
    gettext = gettext_for(ctx.request)
    now = ctx.now
    _kind_of(form)  # an unknown kind costs no text
    try:
        issued = ctx.settle(
            lambda s: methods.issue_method_code(s, phone=me.seller.phone, **ctx.attempt)
        )
    except HuafeiError as exc:
        return _wallet_page(ctx, me, refused=exc, form=_method_form(form))
    sms.send(issued.phone, methods.method_code_text(issued, now))
    notice = gettext("We texted a 6-digit code to %(phone)s. It works for 5 minutes.") % {
        "phone": me.view.phone_masked
    }
    return _wallet_page(ctx, me, form=_method_form(form), notice=notice, code_sent=True)


@router.post("/wallet/methods")
def add_method(ctx: PageCtx, me: Me, form: Form, payouts: PayoutsDep) -> Response:
    """As the API: the account, the name and the code are checked in the unit of work that
    stores the method (a typo costs no code try, a wrong code counts, a refused account leaves
    the code live)."""
    real_name = _verified_name(ctx, me)
    account_no = form.get("account_no", "")[:128]
    holder_name = form.get("holder_name", "")[:64]
    kind = _kind_of(form)
    try:
        _require(form, "account_no", "holder_name", "sms_code")
        ctx.settle(
            lambda s: methods.add_method(
                s,
                owner_ref=me.owner_ref,
                phone=me.seller.phone,
                kind=kind,
                account_no=account_no,
                holder_name=holder_name,
                verified_real_name=real_name,
                sms_code=form.get("sms_code", "")[:12],
                keyring=payouts.keyring,
                now=ctx.now,
            )
        )
    except HuafeiError as exc:
        return _wallet_page(ctx, me, refused=exc, form=_method_form(form), code_sent=True)
    return redirect("/wallet?done=method_added#methods")


@router.post("/wallet/methods/{method_id}/remove")
def remove_method(method_id: Id, ctx: PageCtx, me: Me) -> Response:
    ctx.run(
        lambda s: methods.remove_method(s, owner_ref=me.owner_ref, method_id=method_id, now=ctx.now)
    )
    return redirect("/wallet?done=method_removed#methods")


# -- withdrawals --------------------------------------------------------------------------------
@router.post("/wallet/withdraw")
def quote_withdrawal(ctx: PageCtx, me: Me, form: Form, payouts: PayoutsDep) -> Response:
    """Step one: the fee and the total, shown before anything moves."""
    kept = {"method_id": form.get("method_id", ""), "amount": form.get("amount", "")}
    try:
        method_id = chosen_number(form.get("method_id", ""))
        amount = _amount_asked(ctx, me, payouts, form, method_id)
        quote = ctx.run(
            lambda s: withdrawals.quote_withdrawal(
                s,
                payouts=payouts,
                owner_ref=me.owner_ref,
                method_id=method_id,
                amount_fen=amount,
                now=ctx.now,
            )
        )
        if quote.refused is not None:  # say so now, not after "confirm"
            raise quote.refused
        method = ctx.run(lambda s: methods.view(methods.get_method(s, me.owner_ref, method_id)))
    except HuafeiError as exc:
        return _wallet_page(ctx, me, refused=exc, form=kept)
    return render(
        ctx.request,
        "withdraw_confirm.html",
        me=me,
        section="wallet",
        quote=quote,
        method=method,
        amount_text=Money(amount).plain(),
        idempotency_key=secrets.token_urlsafe(18),
    )


def _amount_asked(
    ctx: CallContext, me: SellerPage, payouts: Payouts, form: dict[str, str], method_id: int
) -> int:
    """The amount typed, or with "withdraw everything" the whole available balance less the
    method's fee."""
    if form.get("everything"):
        return ctx.run(
            lambda s: withdrawals.largest_amount(
                s, payouts=payouts, owner_ref=me.owner_ref, method_id=method_id
            )
        )
    return Money.parse(form.get("amount", "")).fen


def _withdraw_once(
    ctx: CallContext, me: SellerPage, payouts: Payouts, form: dict[str, str]
) -> IdempotentResponse:
    """Withdraw once per key, with the same request body as the API's, so a key means the same
    withdrawal either way."""
    method_id = chosen_number(form.get("method_id", ""))
    amount = Money.parse(form.get("amount", "")).fen
    fee_fen = chosen_number(form.get("fee_fen", ""))
    key = form.get("idempotency_key", "")
    scope = f"{me.owner_ref}:withdrawals"
    body = {"method_id": method_id, "amount": form.get("amount", ""), "fee_fen": fee_fen}

    def work(session: Session) -> tuple[int, Any]:
        withdrawal, _created = withdrawals.request_withdrawal(
            session,
            payouts=payouts,
            owner_ref=me.owner_ref,
            method_id=method_id,
            amount_fen=amount,
            idempotency_key=key,
            now=ctx.clock.now(),
            expected_fee_fen=fee_fen,
        )
        return 201, {"id": withdrawal.id, "status": withdrawal.status}

    idem = Idempotency(ctx.platform, key)
    return idem.outcome(principal=scope, path=scope, body=json_fingerprint(body), work=work)


@router.post("/wallet/withdraw/confirm")
def confirm_withdrawal(ctx: PageCtx, me: Me, form: Form, payouts: PayoutsDep) -> Response:
    """Step two: withdraw exactly what was quoted (a changed fee is refused and re-quoted)."""
    kept = {"method_id": form.get("method_id", ""), "amount": form.get("amount", "")}
    try:
        outcome = _withdraw_once(ctx, me, payouts, form)
    except HuafeiError as exc:
        return _wallet_page(ctx, me, refused=exc, form=kept)
    if outcome.status_code >= 400:
        error = describe_problem(outcome.body, outcome.status_code, gettext_for(ctx.request))
        return _wallet_page(ctx, me, error=error, form=kept, status=outcome.status_code)
    waits = outcome.body.get("status") == WithdrawalStatus.AWAITING_APPROVAL.value
    return redirect(
        "/wallet?done=" + ("withdrawal_waits" if waits else "withdrawal_requested") + "#withdrawals"
    )


@router.post("/wallet/withdrawals/{withdrawal_id}/cancel")
def cancel_withdrawal(withdrawal_id: Id, ctx: PageCtx, me: Me, payouts: PayoutsDep) -> Response:
    ctx.run(
        lambda s: withdrawals.cancel_withdrawal(
            s,
            payouts=payouts,
            owner_ref=me.owner_ref,
            withdrawal_id=withdrawal_id,
            now=ctx.now,
        )
    )
    return redirect("/wallet?done=withdrawal_cancelled#withdrawals")


def _require(form: dict[str, str], *names: str) -> None:
    missing = [name for name in names if not form.get(name)]
    if missing:
        raise _MissingFields(missing=missing)


class _UnknownKind(HuafeiError):
    code = "unknown_method_kind"
    status = 422
    title = "Choose a bank card, Alipay, WeChat Pay or an e-CNY wallet"


class _MissingFields(HuafeiError):
    code = "fields_missing"
    status = 422
    title = "Fill in every field"
