"""Public rate endpoints: profiles, the live rate table, rate history, quote preview, agreement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from huafei.carriers.gateway import Carrier
from huafei.core.types import PositiveFen, Text
from huafei.rates import service
from huafei.rates.defaults import DEFAULT_FACES
from huafei.rates.models import Lane
from huafei.rates.schemas import (
    AgreementOut,
    ProfileOut,
    QuoteOut,
    RateEntryOut,
    RateOut,
    RateVersionOut,
)
from huafei.web.deps import get_container

router = APIRouter(prefix="/api/v1", tags=["rates"])
ProfileCode = Annotated[Text, Query(max_length=32, description="channel profile code")]
AgreementVersion = Annotated[Text, Path(max_length=32)]


def quote_out(view: service.QuoteView) -> QuoteOut:
    p = view.priced
    return QuoteOut(
        profile=p.profile_code,
        carrier=p.carrier,
        face_value_fen=p.face_value_fen,
        lane=p.lane.value,
        count=view.count,
        rate_card_version=p.version.version,
        rate=str(p.rate),
        rate_zhe=p.rate.as_zhe(),
        payout_fen=p.payout.fen,
        fee_fen=p.fee.fen,
        total_face_value_fen=view.total_face.fen,
        total_payout_fen=view.total_payout.fen,
        total_fee_fen=view.total_fee.fen,
        total_payout_yuan=view.total_payout.plain(),
        quote_id=view.quote_id,
        expires_at=view.expires_at,
    )


@router.get("/profiles", summary="The channel profiles and how each settles")
def profiles(request: Request) -> list[ProfileOut]:
    def read(session: Session) -> list[ProfileOut]:
        return [
            ProfileOut(
                code=p.code,
                name_zh=p.name_zh,
                name_en=p.name_en,
                settlement=p.settlement,
                settlement_days=p.settlement_days,
                default_fee_rate=str(p.default_fee_rate),
                single_order_limit_fen=p.single_order_limit_fen,
                destination=p.destination,
                rate_model=p.rate_model,
                description_zh=p.description_zh,
                description_en=p.description_en,
            )
            for p in service.list_profiles(session)
        ]

    return get_container(request).db.run(read)


@router.get("/rates", summary="The rates in effect now, per profile, carrier, face value, lane")
def rates(request: Request) -> list[RateOut]:
    container = get_container(request)
    now = container.clock.now()

    def read(session: Session) -> list[RateOut]:
        return [
            RateOut(
                profile=row.profile_code,
                carrier=row.carrier,
                face_value_fen=row.face_value_fen,
                lane=row.lane,
                rate=str(row.rate),
                rate_zhe=row.rate.as_zhe(),
                payout_fen=row.payout.fen,
            )
            for row in service.rate_table(session, at=now, faces=dict(DEFAULT_FACES))
        ]

    return container.db.run(read)


@router.get("/rates/history", summary="Every version of a profile's rate card, newest first")
def rate_history(request: Request, profile: ProfileCode) -> list[RateVersionOut]:
    def read(session: Session) -> list[RateVersionOut]:
        return [
            RateVersionOut(
                profile=version.profile_code,
                version=version.version,
                effective_at=version.effective_at,
                note=version.note,
                entries=[
                    RateEntryOut(
                        carrier=e.carrier,
                        face_value_fen=e.face_value_fen,
                        lane=e.lane,
                        rate=str(e.rate.normalize()),
                    )
                    for e in entries
                ],
            )
            for version, entries in service.rate_history(session, profile)
        ]

    return get_container(request).db.run(read)


@router.get("/quotes/preview", summary="What cards would pay now (nothing is locked)")
def quote_preview(
    request: Request,
    profile: ProfileCode,
    carrier: Carrier,
    face_value_fen: PositiveFen,
    count: Annotated[int, Query(ge=1, le=1000)] = 1,
    lane: Lane = Lane.NORMAL,
) -> QuoteOut:
    container = get_container(request)
    now = container.clock.now()
    view = container.db.run(
        lambda session: service.preview(
            session,
            profile_code=profile,
            carrier=carrier.value,
            face_value_fen=face_value_fen,
            count=count,
            lane=lane,
            at=now,
        )
    )
    return quote_out(view)


def _agreement_out(agreement: object) -> AgreementOut:
    return AgreementOut.model_validate(agreement, from_attributes=True)


@router.get("/agreement", summary="The recycling agreement in effect now")
def agreement(request: Request) -> AgreementOut:
    container = get_container(request)
    now = container.clock.now()
    return container.db.run(lambda s: _agreement_out(service.current_agreement(s, now)))


@router.get("/agreement/{version}", summary="One version of the agreement")
def agreement_version(request: Request, version: AgreementVersion) -> AgreementOut:
    return get_container(request).db.run(
        lambda s: _agreement_out(service.get_agreement(s, version))
    )


@router.get(
    "/agreement/{version}/text",
    summary="The agreement's exact bytes (their SHA-256 is the version's hash)",
    response_class=PlainTextResponse,
)
def agreement_text(request: Request, version: AgreementVersion) -> PlainTextResponse:
    body = get_container(request).db.run(lambda s: service.get_agreement(s, version).body)
    return PlainTextResponse(body, media_type="text/plain; charset=utf-8")
