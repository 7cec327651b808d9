"""Payout methods: add (real name + SMS code), list (masked), remove."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.core.crypto import Keyring
from huafei.core.ratelimit import RateLimiter
from huafei.identity.errors import Refused
from huafei.identity.service import sign_in
from huafei.identity.service.oplog import Origin
from huafei.identity.service.sign_in import CodeIssued
from huafei.identity.validation import parse_mobile
from huafei.payouts import errors
from huafei.payouts.accounts import CheckedAccount, check_account, mask_name, normalise_name
from huafei.payouts.models import MethodKind, MethodStatus, PayoutMethod
from huafei.payouts.seams import ADD_METHOD_PURPOSE
from huafei.payouts.service.common import add_unique

ACCOUNT_CONTEXT = "payout-account"
NAME_CONTEXT = "payout-holder-name"


@dataclass(frozen=True, slots=True)
class MethodView:
    """A payout method as it may be shown: numbers masked, never the plain account."""

    id: int
    kind: MethodKind
    account_masked: str
    holder_name_masked: str
    bank_code: str | None
    bank_name: str | None
    created_at: datetime


def view(method: PayoutMethod) -> MethodView:
    """A payout method as its owner sees it (masked)."""
    return MethodView(
        id=method.id,
        kind=method.method_kind,
        account_masked=method.account_masked,
        holder_name_masked=method.holder_name_masked,
        bank_code=method.bank_code,
        bank_name=method.bank_name,
        created_at=method.created_at,
    )


def check_new_method(
    *, kind: MethodKind, account_no: str, holder_name: str, verified_real_name: str | None
) -> CheckedAccount:
    """The checks that need no code: verified real name, a valid account, the holder is the
    owner. Run before the SMS code is checked, so a wrong account costs no code try (and
    ``add_method`` runs them again in its unit of work)."""
    if not verified_real_name:
        raise errors.RealNameRequired("real name verification required (L2)")
    checked = check_account(kind, account_no)
    if normalise_name(holder_name) != normalise_name(verified_real_name):
        raise errors.HolderNameMismatch(
            "the account holder must be you: the name must equal your verified real name"
        )
    return checked


def add_method(
    session: Session,
    *,
    owner_ref: str,
    phone: str,
    kind: MethodKind,
    account_no: str,
    holder_name: str,
    verified_real_name: str | None,
    sms_code: str,
    keyring: Keyring,
    now: datetime,
) -> PayoutMethod | Refused:
    """Add a payout method for the owner, confirmed by the SMS code sent to ``phone`` for
    ``payout_method.add``.

    Everything that needs no code is checked first (real name, account, holder, not on file
    already) and raised, so a refused request leaves the code live. A wrong code is returned as
    a ``Refused`` — the caller commits the counted try before raising it. The code is spent
    only in the unit of work that stores the method.
    """
    checked, lookup = _checked_new(
        session, owner_ref, kind, account_no, holder_name, verified_real_name, keyring
    )
    refusal = sign_in.confirm_action_code(
        session,
        phone=phone,
        purpose=ADD_METHOD_PURPOSE,
        code=sms_code,
        keyring=keyring,
        now=now,
    )
    if refusal is not None:
        return refusal
    return insert_method(session, owner_ref, kind, checked, lookup, holder_name, keyring, now)


def store_method(
    session: Session,
    *,
    owner_ref: str,
    kind: MethodKind,
    account_no: str,
    holder_name: str,
    verified_real_name: str | None,
    keyring: Keyring,
    now: datetime,
) -> PayoutMethod:
    """``add_method`` without the SMS code, for an owner confirmed another way (operator tools,
    tests). Same checks; the account number is stored encrypted, with a keyed hash for duplicate
    detection, and shown masked."""
    checked, lookup = _checked_new(
        session, owner_ref, kind, account_no, holder_name, verified_real_name, keyring
    )
    return insert_method(session, owner_ref, kind, checked, lookup, holder_name, keyring, now)


def _checked_new(
    session: Session,
    owner_ref: str,
    kind: MethodKind,
    account_no: str,
    holder_name: str,
    verified_real_name: str | None,
    keyring: Keyring,
) -> tuple[CheckedAccount, str]:
    """The new method's checked fields and account lookup hash; refused when it is on file."""
    checked = check_new_method(
        kind=kind,
        account_no=account_no,
        holder_name=holder_name,
        verified_real_name=verified_real_name,
    )
    return checked, _refuse_duplicate(session, owner_ref, kind, checked, keyring)


def _refuse_duplicate(
    session: Session, owner_ref: str, kind: MethodKind, checked: CheckedAccount, keyring: Keyring
) -> str:
    """The account's lookup hash; raises ``PayoutMethodExists`` when the owner has it already."""
    lookup = account_lookup(keyring, kind, checked.number)
    duplicate = active_method_by_lookup(session, owner_ref, lookup)
    if duplicate is not None:
        raise errors.PayoutMethodExists("this account is already on file", method_id=duplicate.id)
    return lookup


def account_lookup(keyring: Keyring, kind: MethodKind, number: str) -> str:
    """The keyed hash that finds an account without decrypting any (duplicates, reuse)."""
    return keyring.lookup_hash("payout-account", kind.value, number)


def active_method_by_lookup(session: Session, owner_ref: str, lookup: str) -> PayoutMethod | None:
    """The owner's active method for the account of ``lookup`` (``account_lookup``), if any."""
    return session.scalars(
        select(PayoutMethod).where(
            PayoutMethod.owner_ref == owner_ref,
            PayoutMethod.account_lookup == lookup,
            PayoutMethod.status == MethodStatus.ACTIVE.value,
        )
    ).first()


def insert_method(
    session: Session,
    owner_ref: str,
    kind: MethodKind,
    checked: CheckedAccount,
    lookup: str,
    holder_name: str,
    keyring: Keyring,
    now: datetime,
) -> PayoutMethod:
    """Store a checked method: the account encrypted, with its lookup hash, shown masked; the
    holder name (the verified real name, checked before) encrypted and masked."""
    name = normalise_name(holder_name)
    method = PayoutMethod(
        owner_ref=owner_ref,
        kind=kind.value,
        account_cipher=keyring.encrypt(checked.number, context=ACCOUNT_CONTEXT),
        account_lookup=lookup,
        account_masked=checked.masked,
        holder_name_cipher=keyring.encrypt(name, context=NAME_CONTEXT),
        holder_name_masked=mask_name(name),
        bank_code=checked.bank.code if checked.bank else None,
        bank_name=checked.bank.name_zh if checked.bank else None,
        status=MethodStatus.ACTIVE.value,
        created_at=now,
    )
    # Two requests raced on the same account: the partial unique index decides. Raised, so the
    # unit of work rolls back and the code stays unspent.
    add_unique(session, method, errors.PayoutMethodExists("this account is already on file"))
    return method


def list_methods(session: Session, owner_ref: str) -> list[PayoutMethod]:
    """The owner's active payout methods."""
    return list(
        session.scalars(
            select(PayoutMethod)
            .where(
                PayoutMethod.owner_ref == owner_ref,
                PayoutMethod.status == MethodStatus.ACTIVE.value,
            )
            .order_by(PayoutMethod.id)
        )
    )


def views_by_id(session: Session, owner_ref: str, method_ids: list[int]) -> dict[int, MethodView]:
    """The owner's methods of ``method_ids`` as they may be shown, removed ones included (a
    withdrawal names where it went after the account is removed)."""
    if not method_ids:
        return {}
    found = session.scalars(
        select(PayoutMethod).where(
            PayoutMethod.owner_ref == owner_ref, PayoutMethod.id.in_(set(method_ids))
        )
    )
    return {method.id: view(method) for method in found}


def get_method(session: Session, owner_ref: str, method_id: int) -> PayoutMethod:
    """One of the owner's payout methods; ``PayoutMethodNotFound`` for another's."""
    method = session.get(PayoutMethod, method_id)
    if method is None or method.owner_ref != owner_ref:
        raise errors.PayoutMethodNotFound(f"payout method {method_id} not found")
    return method


def remove_method(session: Session, *, owner_ref: str, method_id: int, now: datetime) -> None:
    """Remove a method from use. Withdrawals already requested to it still complete."""
    method = get_method(session, owner_ref, method_id)
    if method.status == MethodStatus.REMOVED.value:
        return
    method.status = MethodStatus.REMOVED.value
    method.removed_at = now
    session.flush()


@dataclass(frozen=True, slots=True)
class PlainAccount:
    """An account number and holder name in clear, for the rail only."""

    number: str
    holder_name: str


def reveal(method: PayoutMethod, keyring: Keyring) -> PlainAccount:
    """The plain account for the rail, decrypted only when a payout is sent (never logged)."""
    return PlainAccount(
        number=keyring.decrypt(method.account_cipher, context=ACCOUNT_CONTEXT),
        holder_name=keyring.decrypt(method.holder_name_cipher, context=NAME_CONTEXT),
    )


METHOD_CODE_SMS = (
    "【话费回收】您正在添加提现账户，验证码 {code}，{minutes} 分钟内有效。"
    "如非本人操作，请勿告知他人。"
)


def issue_method_code(
    session: Session,
    *,
    phone: str,
    keyring: Keyring,
    limiter: RateLimiter,
    origin: Origin,
    now: datetime,
) -> CodeIssued | Refused:
    """A one-time code confirming a new payout method (identity's purpose-scoped SMS codes:
    5 minutes, single use, resend after 60 s, hourly caps)."""
    return sign_in.issue_sign_in_code(
        session,
        number=parse_mobile(phone),
        keyring=keyring,
        limiter=limiter,
        origin=origin,
        now=now,
        purpose=ADD_METHOD_PURPOSE,
    )


def method_code_text(issued: CodeIssued, now: datetime) -> str:
    """The SMS text confirming a new payout method."""
    minutes = int((issued.expires_at - now).total_seconds() // 60)
    return METHOD_CODE_SMS.format(code=issued.code, minutes=minutes)
