"""Quotes, rate cards and the agreement.

A rate is the fraction of face value paid to the seller; the fee is what the platform keeps
(face value − payout). Payout = face value × rate, rounded down to the fen (`Rate.apply`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.core.money import Money, Rate
from huafei.rates import errors
from huafei.rates.models import (
    AgreementAcceptance,
    AgreementVersion,
    BalanceRate,
    ChannelProfile,
    Lane,
    Quote,
    RateCardVersion,
    RateEntry,
    VolumeTier,
)

ANY_FACE = 0  # a rate entry for every face value of the carrier (fixed-ratio profiles)


# -- profiles -----------------------------------------------------------------------------------
def get_profile(session: Session, code: str) -> ChannelProfile:
    """An active channel profile; ``ProfileNotFound`` otherwise."""
    profile = session.get(ChannelProfile, code)
    if profile is None or not profile.active:
        raise errors.ProfileNotFound(f"channel profile {code!r} does not exist", profile=code)
    return profile


def list_profiles(session: Session) -> list[ChannelProfile]:
    """The active channel profiles, by code."""
    return list(
        session.scalars(
            select(ChannelProfile).where(ChannelProfile.active).order_by(ChannelProfile.code)
        )
    )


# -- rate cards ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RateLine:
    """One rate of a rate card: carrier, face value and lane."""

    carrier: str
    face_value_fen: int
    lane: Lane
    rate: Decimal


@dataclass(frozen=True, slots=True)
class BalanceRateLine:
    """A rate card's rate for one carrier's balance (话费余额), whatever the amount."""

    carrier: str
    rate: Decimal


@dataclass(frozen=True, slots=True)
class TierLine:
    """A tiered profile's bonus from a month's volume."""

    min_volume_fen: int
    rate_bonus: Decimal


def current_version(session: Session, profile_code: str, at: datetime) -> RateCardVersion:
    """The profile's rate card version in force at ``at``."""
    version = session.scalars(
        select(RateCardVersion)
        .where(RateCardVersion.profile_code == profile_code, RateCardVersion.effective_at <= at)
        .order_by(RateCardVersion.effective_at.desc(), RateCardVersion.version.desc())
        .limit(1)
    ).first()
    if version is None:
        raise errors.NoRateCard(f"no rate card in effect for {profile_code}", profile=profile_code)
    return version


def publish_rate_card(
    session: Session,
    *,
    profile_code: str,
    lines: Sequence[RateLine],
    tiers: Sequence[TierLine] = (),
    balance: Sequence[BalanceRateLine] = (),
    effective_at: datetime,
    now: datetime,
    note: str = "",
    by: str = "system",
) -> RateCardVersion:
    """Add a new version; the old ones stay as the public history. ``balance`` are its rates
    for carrier balance (a version without them buys no balance)."""
    get_profile(session, profile_code)
    keyed: list[tuple[tuple[object, ...], Decimal]] = [
        ((line.carrier, line.face_value_fen, line.lane.value), line.rate) for line in lines
    ]
    keyed += [((line.carrier, "balance"), line.rate) for line in balance]
    seen: set[tuple[object, ...]] = set()
    for key, rate in keyed:
        if key in seen:
            raise errors.InvalidRateCard(f"{key} is listed twice")
        seen.add(key)
        if not (Decimal(0) < rate <= Decimal(1)):
            raise errors.InvalidRateCard(f"rate {rate} for {key} is outside (0, 1]")
    last = session.scalars(
        select(RateCardVersion.version)
        .where(RateCardVersion.profile_code == profile_code)
        .order_by(RateCardVersion.version.desc())
        .limit(1)
    ).first()
    version = RateCardVersion(
        profile_code=profile_code,
        version=(last or 0) + 1,
        effective_at=effective_at,
        note=note,
        created_at=now,
        created_by=by,
    )
    session.add(version)
    session.flush()
    session.add_all(
        RateEntry(
            version_id=version.id,
            carrier=line.carrier,
            face_value_fen=line.face_value_fen,
            lane=line.lane.value,
            rate=line.rate,
        )
        for line in lines
    )
    session.add_all(
        VolumeTier(version_id=version.id, min_volume_fen=t.min_volume_fen, rate_bonus=t.rate_bonus)
        for t in tiers
    )
    session.add_all(
        BalanceRate(version_id=version.id, carrier=line.carrier, rate=line.rate) for line in balance
    )
    session.flush()
    return version


def _entry(
    session: Session, version_id: int, carrier: str, face_value_fen: int, lane: Lane
) -> RateEntry | None:
    rows = session.scalars(
        select(RateEntry).where(
            RateEntry.version_id == version_id,
            RateEntry.carrier == carrier,
            RateEntry.lane == lane.value,
            RateEntry.face_value_fen.in_([face_value_fen, ANY_FACE]),
        )
    ).all()
    exact = [r for r in rows if r.face_value_fen == face_value_fen]
    candidates = exact or list(rows)
    return candidates[0] if candidates else None


def _tier_bonus(session: Session, version_id: int, monthly_volume_fen: int) -> Decimal:
    bonus = session.scalars(
        select(VolumeTier.rate_bonus)
        .where(VolumeTier.version_id == version_id, VolumeTier.min_volume_fen <= monthly_volume_fen)
        .order_by(VolumeTier.min_volume_fen.desc())
        .limit(1)
    ).first()
    return bonus or Decimal(0)


@dataclass(frozen=True, slots=True)
class Priced:
    """The price of one card — or of an amount of balance, whose lane is ``balance``
    (``rates.balance``): what the seller is paid and what the platform keeps."""

    profile_code: str
    carrier: str
    face_value_fen: int
    lane: str
    """A ``Lane`` for a card."""
    version: RateCardVersion
    rate: Rate
    payout: Money
    fee: Money

    @property
    def face_value(self) -> Money:
        """The face value as ``Money``."""
        return Money(self.face_value_fen)


def price(
    session: Session,
    *,
    profile_code: str,
    carrier: str,
    face_value_fen: int,
    lane: Lane = Lane.NORMAL,
    at: datetime,
    monthly_volume_fen: int = 0,
) -> Priced:
    """The rate in effect at ``at`` for one card, with the payout and fee in fen."""
    get_profile(session, profile_code)
    version = current_version(session, profile_code, at)
    return price_in_version(
        session,
        version=version,
        carrier=carrier,
        face_value_fen=face_value_fen,
        lane=lane,
        monthly_volume_fen=monthly_volume_fen,
    )


def price_in_version(
    session: Session,
    *,
    version: RateCardVersion,
    carrier: str,
    face_value_fen: int,
    lane: Lane = Lane.NORMAL,
    monthly_volume_fen: int = 0,
) -> Priced:
    """The price of one card under a given rate card version (a locked quote's version)."""
    profile = get_profile(session, version.profile_code)
    entry = _entry(session, version.id, carrier, face_value_fen, lane)
    if entry is None:
        raise errors.CardTypeNotOffered(
            f"{carrier} {Money(face_value_fen).format()} ({lane} lane) is not bought on "
            f"{profile.code}",
            carrier=carrier,
            face_value_fen=face_value_fen,
            lane=lane.value,
        )
    value = Decimal(entry.rate)
    if profile.rate_model == "tiered":
        value = min(Decimal(1), value + _tier_bonus(session, version.id, monthly_volume_fen))
    rate = Rate(value)
    face = Money(face_value_fen)
    payout = rate.apply(face)
    return Priced(profile.code, carrier, face_value_fen, lane, version, rate, payout, face - payout)


@dataclass(frozen=True, slots=True)
class QuoteView:
    """A price shown to a seller: per card, the totals of ``count`` cards, the locked quote."""

    priced: Priced
    count: int
    total_face: Money
    total_payout: Money
    total_fee: Money
    quote_id: str | None = None
    expires_at: datetime | None = None


def preview(
    session: Session,
    *,
    profile_code: str,
    carrier: str,
    face_value_fen: int,
    count: int = 1,
    lane: Lane = Lane.NORMAL,
    at: datetime,
    monthly_volume_fen: int = 0,
) -> QuoteView:
    """What ``count`` cards would pay now, without locking anything."""
    priced = price(
        session,
        profile_code=profile_code,
        carrier=carrier,
        face_value_fen=face_value_fen,
        lane=lane,
        at=at,
        monthly_volume_fen=monthly_volume_fen,
    )
    return QuoteView(
        priced, count, priced.face_value * count, priced.payout * count, priced.fee * count
    )


def check_single_order_limit(profile: ChannelProfile, face_value_fen: int) -> None:
    """Raise ``OverSingleOrderLimit`` for a face value above the profile's single-order limit."""
    if face_value_fen > profile.single_order_limit_fen:
        raise errors.OverSingleOrderLimit(
            f"one order on {profile.code} may be at most "
            f"{Money(profile.single_order_limit_fen).format()}",
            limit_fen=profile.single_order_limit_fen,
        )


def lock_quote(
    session: Session,
    *,
    owner_ref: str,
    priced: Priced,
    now: datetime,
    ttl: timedelta,
) -> Quote:
    """Store the price so the submission is paid at it even if the rate card changes."""
    quote = Quote(
        id=f"q_{uuid.uuid4().hex}",
        owner_ref=owner_ref,
        profile_code=priced.profile_code,
        carrier=priced.carrier,
        face_value_fen=priced.face_value_fen,
        lane=str(priced.lane),
        rate_version_id=priced.version.id,
        rate=priced.rate.value,
        payout_fen=priced.payout.fen,
        fee_fen=priced.fee.fen,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(quote)
    session.flush()
    return quote


def valid_quote(session: Session, quote_id: str, *, owner_ref: str, now: datetime) -> Quote:
    """The owner's quote while it is locked; ``QuoteNotFound`` or ``QuoteExpired`` otherwise."""
    quote = session.get(Quote, quote_id)
    if quote is None or quote.owner_ref != owner_ref:
        raise errors.QuoteNotFound(f"quote {quote_id} does not exist")
    if quote.expires_at <= now:
        raise errors.QuoteExpired(f"quote {quote_id} expired at {quote.expires_at.isoformat()}")
    return quote


@dataclass(frozen=True, slots=True)
class RateTableRow:
    """One line of the published rate table."""

    profile_code: str
    carrier: str
    face_value_fen: int
    lane: str
    rate: Rate
    payout: Money


def rate_table(
    session: Session, *, at: datetime, faces: dict[str, Iterable[int]]
) -> list[RateTableRow]:
    """The live rates of every profile for the given carriers' face values (for the home page)."""
    rows: list[RateTableRow] = []
    for profile in list_profiles(session):
        try:
            version = current_version(session, profile.code, at)
        except errors.NoRateCard:
            continue
        for carrier, values in faces.items():
            for face in values:
                for lane in Lane:
                    try:
                        priced = price(
                            session,
                            profile_code=profile.code,
                            carrier=carrier,
                            face_value_fen=face,
                            lane=lane,
                            at=at,
                        )
                    except errors.CardTypeNotOffered:
                        continue
                    if priced.version.id != version.id:  # pragma: no cover - same instant
                        continue
                    rows.append(
                        RateTableRow(
                            profile.code, carrier, face, lane.value, priced.rate, priced.payout
                        )
                    )
    return rows


def rate_history(
    session: Session, profile_code: str
) -> list[tuple[RateCardVersion, list[RateEntry]]]:
    """Every rate card version of the profile, newest first, with its rates."""
    get_profile(session, profile_code)
    versions = session.scalars(
        select(RateCardVersion)
        .where(RateCardVersion.profile_code == profile_code)
        .order_by(RateCardVersion.version.desc())
    ).all()
    return [
        (
            version,
            list(
                session.scalars(
                    select(RateEntry)
                    .where(RateEntry.version_id == version.id)
                    .order_by(RateEntry.carrier, RateEntry.face_value_fen, RateEntry.lane)
                )
            ),
        )
        for version in versions
    ]


# -- agreement ----------------------------------------------------------------------------------
def agreement_hash(body: str) -> str:
    """The SHA-256 a seller's acceptance names the agreement text by."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def publish_agreement(
    session: Session, *, version: str, title: str, body: str, effective_at: datetime
) -> AgreementVersion:
    """A new agreement version, in force from ``effective_at``."""
    agreement = AgreementVersion(
        version=version,
        title=title,
        body=body,
        sha256=agreement_hash(body),
        effective_at=effective_at,
    )
    session.add(agreement)
    session.flush()
    return agreement


def current_agreement(session: Session, at: datetime) -> AgreementVersion:
    """The agreement in force at ``at``."""
    agreement = session.scalars(
        select(AgreementVersion)
        .where(AgreementVersion.effective_at <= at)
        .order_by(AgreementVersion.effective_at.desc())
        .limit(1)
    ).first()
    if agreement is None:
        raise errors.AgreementNotFound("no agreement is in effect")
    return agreement


def get_agreement(session: Session, version: str) -> AgreementVersion:
    """An agreement version; ``AgreementNotFound`` otherwise."""
    agreement = session.get(AgreementVersion, version)
    if agreement is None:
        raise errors.AgreementNotFound(f"agreement {version!r} does not exist")
    return agreement


def accept_agreement(
    session: Session,
    *,
    owner_ref: str,
    version: str,
    sha256: str,
    lawful_source_confirmed: bool,
    now: datetime,
    ip: str = "",
    device: str = "",
) -> AgreementAcceptance:
    """Record that the seller accepted exactly this text and confirmed the cards' lawful source."""
    current = current_agreement(session, now)
    agreement = current if current.version == version else get_agreement(session, version)
    if agreement.sha256 != sha256:
        raise errors.AgreementHashMismatch(
            f"agreement {version} has hash {agreement.sha256}, not {sha256}",
            expected_sha256=agreement.sha256,
        )
    if agreement is not current:
        raise errors.AgreementHashMismatch(f"agreement {version} is no longer the current one")
    if not lawful_source_confirmed:
        raise errors.LawfulSourceNotConfirmed
    acceptance = AgreementAcceptance(
        owner_ref=owner_ref,
        version=version,
        sha256=sha256,
        lawful_source_confirmed=True,
        accepted_at=now,
        ip=ip[:64],
        device=device[:255],
    )
    session.add(acceptance)
    session.flush()
    return acceptance
