"""The platform's starting rate cards and agreement (installed by demo data and tests; an
operator publishes their own with `publish_rate_card` / `publish_agreement`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from importlib.resources import files

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.rates.models import AgreementVersion, Lane, RateCardVersion
from huafei.rates.service import (
    ANY_FACE,
    BalanceRateLine,
    RateLine,
    TierLine,
    publish_agreement,
    publish_rate_card,
)

#: Face values bought by default, per carrier (fen); see SPEC appendix "Card formats".
DEFAULT_FACES: dict[str, tuple[int, ...]] = {
    "cmcc": (1_000, 2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 50_000),
    "cucc": (2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 50_000),
    "ctcc": (2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 50_000),
}
_THIRD_PARTY_BASE = {"cmcc": Decimal("0.880"), "cucc": Decimal("0.870"), "ctcc": Decimal("0.875")}
FAST_LANE_DISCOUNT = Decimal("0.010")
#: Carrier balance (话费余额) per profile and carrier: below the card rates, because balance
#: reaches the platform as credit on its receiving numbers, which it still has to sell on.
DEFAULT_BALANCE_RATES: dict[str, dict[str, Decimal]] = {
    "carrier_official": dict.fromkeys(DEFAULT_FACES, Decimal("0.920")),
    "third_party": {"cmcc": Decimal("0.860"), "cucc": Decimal("0.850"), "ctcc": Decimal("0.855")},
    "social_commerce": dict.fromkeys(DEFAULT_FACES, Decimal("0.880")),
}

AGREEMENT_VERSION = "2026-11-01"
AGREEMENT_TITLE = "话费卡回收服务协议"
AGREEMENT_BODY = (files("huafei.rates") / f"agreement-{AGREEMENT_VERSION}.txt").read_text("utf-8")


def default_rate_lines(profile_code: str) -> tuple[list[RateLine], list[TierLine]]:
    if profile_code == "carrier_official":
        return (
            [RateLine(c, ANY_FACE, Lane.NORMAL, Decimal("0.930")) for c in DEFAULT_FACES],
            [],
        )
    if profile_code == "social_commerce":
        return (
            [RateLine(c, ANY_FACE, Lane.NORMAL, Decimal("0.890")) for c in DEFAULT_FACES],
            [
                TierLine(500_000, Decimal("0.010")),
                TierLine(2_000_000, Decimal("0.020")),
            ],
        )
    lines: list[RateLine] = []
    for carrier, faces in DEFAULT_FACES.items():
        for face in faces:
            rate = _THIRD_PARTY_BASE[carrier]
            if face <= 2_000:
                rate -= Decimal("0.020")
            elif face >= 30_000:
                rate += Decimal("0.005")
            lines.append(RateLine(carrier, face, Lane.NORMAL, rate))
            lines.append(RateLine(carrier, face, Lane.FAST, rate - FAST_LANE_DISCOUNT))
    return lines, []


def install_defaults(session: Session, *, now: datetime) -> None:
    """Publish version 1 of each profile's rate card and the agreement, if absent."""
    for profile_code in ("carrier_official", "third_party", "social_commerce"):
        exists = session.scalars(
            select(RateCardVersion.id).where(RateCardVersion.profile_code == profile_code)
        ).first()
        if exists is None:
            lines, tiers = default_rate_lines(profile_code)
            publish_rate_card(
                session,
                profile_code=profile_code,
                lines=lines,
                tiers=tiers,
                balance=[
                    BalanceRateLine(carrier, rate)
                    for carrier, rate in DEFAULT_BALANCE_RATES[profile_code].items()
                ],
                effective_at=now,
                now=now,
                note="initial rate card",
            )
    if session.get(AgreementVersion, AGREEMENT_VERSION) is None:
        publish_agreement(
            session,
            version=AGREEMENT_VERSION,
            title=AGREEMENT_TITLE,
            body=AGREEMENT_BODY,
            effective_at=now,
        )
