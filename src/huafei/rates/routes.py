"""Public rate endpoints: profiles, the live rate table, rate history, quote preview, agreement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
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
from huafei.web.context import AnyContext

router = APIRouter(prefix="/api/v1", tags=["rates"])
ProfileCode = Annotated[Text, Query(max_length=32, description="channel profile code")]
AgreementVersion = Annotated[Text, Path(max_length=32)]


@router.get("/profiles", summary="The channel profiles and how each settles")
def profiles(ctx: AnyContext) -> list[ProfileOut]:
    return ctx.run(lambda s: [ProfileOut.model_validate(p) for p in service.list_profiles(s)])


@router.get("/rates", summary="The rates in effect now, per profile, carrier, face value, lane")
def rates(ctx: AnyContext) -> list[RateOut]:
    now = ctx.now
    return ctx.run(
        lambda s: [
            RateOut.priced(row) for row in service.rate_table(s, at=now, faces=dict(DEFAULT_FACES))
        ]
    )


@router.get("/rates/history", summary="Every version of a profile's rate card, newest first")
def rate_history(ctx: AnyContext, profile: ProfileCode) -> list[RateVersionOut]:
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

    return ctx.run(read)


@router.get("/quotes/preview", summary="What cards would pay now (nothing is locked)")
def quote_preview(
    ctx: AnyContext,
    profile: ProfileCode,
    carrier: Carrier,
    face_value_fen: PositiveFen,
    count: Annotated[int, Query(ge=1, le=1000)] = 1,
    lane: Lane = Lane.NORMAL,
) -> QuoteOut:
    now = ctx.now
    view = ctx.run(
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
    return QuoteOut.of(view)


def _agreement_out(agreement: object) -> AgreementOut:
    return AgreementOut.model_validate(agreement, from_attributes=True)


@router.get("/agreement", summary="The recycling agreement in effect now")
def agreement(ctx: AnyContext) -> AgreementOut:
    now = ctx.now
    return ctx.run(lambda s: _agreement_out(service.current_agreement(s, now)))


@router.get("/agreement/{version}", summary="One version of the agreement")
def agreement_version(ctx: AnyContext, version: AgreementVersion) -> AgreementOut:
    return ctx.run(lambda s: _agreement_out(service.get_agreement(s, version)))


@router.get(
    "/agreement/{version}/text",
    summary="The agreement's exact bytes (their SHA-256 is the version's hash)",
    response_class=PlainTextResponse,
)
def agreement_text(ctx: AnyContext, version: AgreementVersion) -> PlainTextResponse:
    body = ctx.run(lambda s: service.get_agreement(s, version).body)
    return PlainTextResponse(body, media_type="text/plain; charset=utf-8")
