"""Issuing vouchers: the worker takes due requests, asks each subject's domain for its facts,
writes the canonical document with its SHA-256 and deletes the request.

A request that fails (its record not final, a builder's error) is tried again later with a
growing pause; the others of its batch are not held up. A subject that has its voucher already
is not issued again: the request is simply deleted (``vouchers`` is unique per subject).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from urllib.parse import urlencode

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from huafei.core.crypto import Keyring
from huafei.core.days import BEIJING, local_day
from huafei.core.db import insert_ignoring_conflicts
from huafei.identity.models import Seller
from huafei.identity.validation import mask_phone, mask_real_name
from huafei.ledger import transfers_by_refs
from huafei.vouchers.models import Voucher, VoucherRequest
from huafei.vouchers.schemas import (
    DOCUMENT_VERSION,
    AgreementDoc,
    AmountsDoc,
    FactsBuilder,
    LedgerEntryDoc,
    OperatorParty,
    Parties,
    QuoteDoc,
    SellerParty,
    SubjectRef,
    VoucherDocument,
    VoucherFacts,
)

log = logging.getLogger(__name__)

VOUCHERS: Table = Voucher.__table__  # type: ignore[assignment]
#: no 0/O, 1/I/L: a code read off paper is typed back right
CHECK_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CHECK_CODE_LENGTH = 8
#: the public verification page (the portal serves it; the QR code points at it)
VERIFY_PAGE_PATH = "/vouchers/verify"
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Issuer:
    """What the platform puts on every voucher besides the subject's facts."""

    keyring: Keyring
    #: the operating company's name (``HUAFEI_OPERATOR_NAME``)
    operator_name: str
    #: the public verification page; the QR code opens it with the number and code filled in
    verify_url: str


def beijing(moment: datetime) -> str:
    """A moment as the voucher writes it: ISO 8601 in Beijing time, to the second."""
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def new_check_code() -> str:
    return "".join(secrets.choice(CHECK_CODE_ALPHABET) for _ in range(CHECK_CODE_LENGTH))


def voucher_number(facts: VoucherFacts, subject_id: int) -> str:
    """``CO20261125000042``: kind, Beijing date of completion, the subject's id."""
    return f"{facts.kind.prefix}{local_day(facts.completed_at):%Y%m%d}{subject_id:06d}"


def canonical_json(document: VoucherDocument) -> str:
    """The one serialisation that is hashed and stored: every object's keys sorted, no
    whitespace, non-ASCII text as itself (UTF-8), money as integer fen — what
    ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes, so
    anyone can recompute it from the parsed document."""
    return json.dumps(
        document.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def issue_due(
    session: Session,
    *,
    builders: Mapping[str, FactsBuilder],
    issuer: Issuer,
    now: datetime,
    limit: int,
) -> int:
    """Issue the vouchers of up to ``limit`` due requests (workers share them: ``SKIP
    LOCKED``); answers how many requests were handled, issued or put off."""
    requests = session.scalars(
        select(VoucherRequest)
        .where(VoucherRequest.due_at <= now)
        .order_by(VoucherRequest.subject, VoucherRequest.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for subject, group in groupby(requests, key=lambda r: r.subject):
        _handle(session, subject, list(group), builders.get(subject), issuer, now)
    return len(requests)


def _handle(
    session: Session,
    subject: str,
    requests: list[VoucherRequest],
    builder: FactsBuilder | None,
    issuer: Issuer,
    now: datetime,
) -> None:
    """Issue a subject's batch in one go; when that fails, each request on its own."""
    if builder is None:
        for request in requests:
            _put_off(request, f"no voucher builder for subject {subject!r}", now)
        return
    ids = [request.subject_id for request in requests]
    try:
        with session.begin_nested():
            done = _issue(session, subject, ids, builder, issuer, now)
    except Exception:
        log.exception("voucher batch failed; issuing one by one", extra={"subject": subject})
        done = set()
        errors: dict[int, str] = {}
        for subject_id in ids:
            try:
                with session.begin_nested():
                    done |= _issue(session, subject, [subject_id], builder, issuer, now)
            except Exception as exc:
                errors[subject_id] = f"{type(exc).__name__}: {exc}"
    else:
        errors = {}
    finished = [r.id for r in requests if r.subject_id in done]
    if finished:
        session.execute(delete(VoucherRequest).where(VoucherRequest.id.in_(finished)))
    for request in requests:
        if request.subject_id not in done:
            _put_off(request, errors.get(request.subject_id, "the record is not final"), now)


def _put_off(request: VoucherRequest, reason: str, now: datetime) -> None:
    request.attempts += 1
    pause = min(FIRST_RETRY * 2 ** min(request.attempts - 1, 16), LONGEST_RETRY)
    request.due_at = now + pause
    request.last_error = reason[:255]
    log.warning(
        "voucher put off",
        extra={"subject": request.subject, "subject_id": request.subject_id, "error": reason},
    )


def _issue(
    session: Session,
    subject: str,
    ids: Sequence[int],
    builder: FactsBuilder,
    issuer: Issuer,
    now: datetime,
) -> set[int]:
    """Write the vouchers of ``ids`` that have none yet; answers the ids that have one now."""
    todo = sorted(set(ids) - _issued(session, subject, ids))
    facts = builder(session, todo) if todo else {}
    sellers = _sellers(session, {f.owner_ref for f in facts.values()}, issuer.keyring)
    transfers = transfers_by_refs(session, {f.ledger_ref for f in facts.values()})
    rows = []
    for subject_id, fact in facts.items():
        document = build_document(
            subject,
            subject_id,
            fact,
            seller=sellers.get(fact.owner_ref, SellerParty(name=None, phone=None)),
            ledger=[
                LedgerEntryDoc(
                    id=t.id,
                    kind=t.kind.value,
                    amount_fen=t.amount,
                    currency=t.currency,
                    at=beijing(t.created_at),
                )
                for t in transfers.get(fact.ledger_ref, [])
            ],
            issuer=issuer,
            now=now,
        )
        body = canonical_json(document)
        rows.append(
            {
                "number": document.number,
                "check_code": document.check_code,
                "subject": subject,
                "subject_id": subject_id,
                "kind": fact.kind.code,
                "owner_ref": fact.owner_ref,
                "body": body,
                "sha256": sha256_hex(body),
                "issued_at": now,
            }
        )
    insert_ignoring_conflicts(session, VOUCHERS, rows)
    return _issued(session, subject, ids)


def sha256_hex(body: str) -> str:
    """The SHA-256 of a document's UTF-8 bytes, in hex."""
    return hashlib.sha256(body.encode()).hexdigest()


def _issued(session: Session, subject: str, ids: Sequence[int]) -> set[int]:
    return set(
        session.scalars(
            select(Voucher.subject_id).where(
                Voucher.subject == subject, Voucher.subject_id.in_(list(ids))
            )
        )
    )


def _sellers(session: Session, owner_refs: set[str], keyring: Keyring) -> dict[str, SellerParty]:
    """The masked name and number of each seller among ``owner_refs`` (other owners — an
    enterprise, a partner — have no personal name to show)."""
    ids = {int(ref.partition(":")[2]) for ref in owner_refs if ref.startswith("seller:")}
    if not ids:
        return {}
    parties = {}
    for seller in session.scalars(select(Seller).where(Seller.id.in_(ids))):
        name = seller.real_name(keyring)
        parties[seller.ledger_owner_ref] = SellerParty(
            name=mask_real_name(name) if name else None, phone=mask_phone(seller.phone)
        )
    return parties


def build_document(
    subject: str,
    subject_id: int,
    facts: VoucherFacts,
    *,
    seller: SellerParty,
    ledger: list[LedgerEntryDoc],
    issuer: Issuer,
    now: datetime,
) -> VoucherDocument:
    """The voucher document of one subject (number and check code are made here)."""
    number = voucher_number(facts, subject_id)
    check_code = new_check_code()
    quote, agreement = facts.quote, facts.agreement
    return VoucherDocument(
        version=DOCUMENT_VERSION,
        number=number,
        check_code=check_code,
        kind=facts.kind.code,
        title=facts.kind.title,
        subject=SubjectRef(type=subject, id=subject_id),
        issued_at=beijing(now),
        parties=Parties(seller=seller, operator=OperatorParty(name=issuer.operator_name)),
        item=dict(facts.item),
        amounts=AmountsDoc(
            currency=facts.amounts.currency,
            gross_fen=facts.amounts.gross_fen,
            fee_fen=facts.amounts.fee_fen,
            net_fen=facts.amounts.net_fen,
        ),
        quote=None
        if quote is None
        else QuoteDoc(
            id=quote.id,
            profile=quote.profile,
            rate_card_version=quote.rate_card_version,
            rate=f"{quote.rate.normalize():f}",
            payout_fen=quote.payout_fen,
            locked_at=beijing(quote.locked_at),
            expires_at=beijing(quote.expires_at),
        ),
        agreement=None
        if agreement is None
        else AgreementDoc(
            version=agreement.version,
            sha256=agreement.sha256,
            accepted_at=beijing(agreement.accepted_at),
        ),
        ledger=ledger,
        times={name: beijing(at) for name, at in facts.times.items() if at is not None},
        verify_url=f"{issuer.verify_url}?{urlencode({'number': number, 'code': check_code})}",
        evidence_proof=None,
    )
