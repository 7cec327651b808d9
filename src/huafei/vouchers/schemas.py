"""The voucher document (its canonical JSON, field by field in docs/vouchers.md), the facts a
subject's domain gives to make one, and the API's shapes.

A domain whose records get vouchers provides a ``FactsBuilder`` for its ``Subject``: given the
ids of records that became final, the facts of each (the composition root registers it with the
voucher tasks). Everything else — number, check code, parties, ledger transfers, hash, PDF — is
the same for every kind.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

#: the version of the document's shape; a new field or meaning is a new version
DOCUMENT_VERSION = 1

ItemValue = str | int | None


class Subject(enum.StrEnum):
    """Where a voucher's subject lives: its id is the one in the API path."""

    ORDER = "order"
    """An order of the ``orders`` table (``/api/v1/orders/{id}/voucher``)."""
    WITHDRAWAL = "withdrawal"
    """A withdrawal (``/api/v1/withdrawals/{id}/voucher``)."""
    BALANCE_SALE = "balance_sale"
    """A balance sale (``/api/v1/balance/sales/{id}/voucher``)."""


@dataclass(frozen=True, slots=True)
class Amounts:
    """The money of the transaction, in fen: the gross value, the fee, what the owner nets."""

    gross_fen: int
    fee_fen: int
    net_fen: int
    currency: str = "CNY"


@dataclass(frozen=True, slots=True)
class QuoteFacts:
    id: str
    profile: str
    rate_card_version: int
    rate: Decimal
    payout_fen: int
    locked_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AgreementFacts:
    version: str
    sha256: str
    accepted_at: datetime


@dataclass(frozen=True, slots=True)
class VoucherKind:
    """What a voucher records, declared once by the domain that records it."""

    #: ``card_order``, ``withdrawal`` …
    code: str
    #: two capital letters starting the voucher number, one per kind (``CO``, ``WD``)
    prefix: str
    #: the document's title, in Chinese (``话费充值卡回收交易凭证``)
    title: str


@dataclass(frozen=True, slots=True)
class VoucherFacts:
    """What a subject's domain knows of one final record (the rest the voucher service adds)."""

    kind: VoucherKind
    owner_ref: str
    #: what was sold or paid out: machine values (fen, codes, masked numbers), docs/vouchers.md
    item: Mapping[str, ItemValue]
    amounts: Amounts
    #: the ledger reference whose transfers the voucher lists
    ledger_ref: str
    #: the record's moments (``submitted_at``, ``settled_at`` …); one that never happened is None
    #: and left out
    times: Mapping[str, datetime | None]
    #: when the record became final: the date in the voucher number
    completed_at: datetime
    quote: QuoteFacts | None = None
    agreement: AgreementFacts | None = None


#: The facts of each id that has them (a record not final, or gone, is left out).
FactsBuilder = Callable[[Session, Sequence[int]], Mapping[int, VoucherFacts]]


# -- the document ----------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubjectRef(_Strict):
    type: str
    id: int


class SellerParty(_Strict):
    name: str | None
    phone: str | None


class OperatorParty(_Strict):
    name: str


class Parties(_Strict):
    seller: SellerParty
    operator: OperatorParty


class AmountsDoc(_Strict):
    currency: str
    gross_fen: int
    fee_fen: int
    net_fen: int


class QuoteDoc(_Strict):
    id: str
    profile: str
    rate_card_version: int
    rate: str
    payout_fen: int
    locked_at: str
    expires_at: str


class AgreementDoc(_Strict):
    version: str
    sha256: str
    accepted_at: str


class LedgerEntryDoc(_Strict):
    id: str
    kind: str
    amount_fen: int
    currency: str
    at: str


class VoucherDocument(_Strict):
    """The canonical JSON of a voucher (docs/vouchers.md): hashed, stored, never changed."""

    version: int
    number: str
    check_code: str
    kind: str
    title: str
    subject: SubjectRef
    issued_at: str
    parties: Parties
    item: dict[str, ItemValue]
    amounts: AmountsDoc
    quote: QuoteDoc | None
    agreement: AgreementDoc | None
    ledger: list[LedgerEntryDoc]
    times: dict[str, str]
    verify_url: str
    #: the evidence log's inclusion proof, added by the evidence domain; null until then
    evidence_proof: dict[str, str | int | list[str]] | None = None


# -- the API ---------------------------------------------------------------------------------
class VerificationOut(BaseModel):
    """A voucher as the public verification page shows it: masked facts and the hash check."""

    number: str
    kind: str
    title: str
    issued_at: str
    #: the SHA-256 stored when the voucher was issued
    sha256: str
    #: the SHA-256 of the document as stored now
    computed_sha256: str
    #: whether the two agree: False means the stored document was changed after issue
    hash_matches: bool
    #: the document's facts (as issued); shown only when ``hash_matches``
    document: VoucherDocument | None
