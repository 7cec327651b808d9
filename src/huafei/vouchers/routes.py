"""The vouchers' API: the seller downloads the voucher of an order, a withdrawal or a balance
sale (JSON, the stored bytes; PDF, rendered from them), and anyone checks one by its number and
check code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from huafei.core.types import Id, Text
from huafei.identity.deps import Ctx, SellerContext, SellerCtx
from huafei.vouchers import deps, service
from huafei.vouchers.issuing import beijing
from huafei.vouchers.pdf import render_pdf
from huafei.vouchers.schemas import Subject, VerificationOut, VoucherDocument

router = APIRouter(prefix="/api/v1", tags=["vouchers"])
PDF = "application/pdf"


class PdfResponse(Response):
    media_type = PDF


def voucher_json(owned: service.OwnedVoucher) -> Response:
    """The stored document byte for byte (its SHA-256 is the voucher's), as a download."""
    voucher = owned.voucher
    return Response(
        voucher.body.encode(),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{voucher.number}.json"',
            "X-Voucher-SHA256": voucher.sha256,
        },
    )


def voucher_pdf(owned: service.OwnedVoucher) -> Response:
    """The voucher's PDF, rendered from the stored document."""
    voucher = owned.voucher
    return Response(
        render_pdf(owned.document, voucher.sha256),
        media_type=PDF,
        headers={
            "Content-Disposition": f'attachment; filename="{voucher.number}.pdf"',
            "X-Voucher-SHA256": voucher.sha256,
        },
    )


def _owned(ctx: SellerContext, subject: Subject, subject_id: int) -> service.OwnedVoucher:
    return ctx.run(lambda s: service.owned_voucher(s, subject, subject_id, owner_ref=ctx.owner_ref))


JSON_SUMMARY = "The voucher as JSON (the stored bytes, whose SHA-256 is the voucher's)"
JSON_DOCUMENT = {200: {"model": VoucherDocument, "description": "the canonical document"}}


@router.get(
    "/orders/{order_id}/voucher",
    summary=JSON_SUMMARY,
    response_model=None,
    responses=JSON_DOCUMENT,  # type: ignore[arg-type]
)
def order_voucher(order_id: Id, ctx: SellerCtx) -> Response:
    return voucher_json(_owned(ctx, Subject.ORDER, order_id))


@router.get(
    "/orders/{order_id}/voucher.pdf", summary="The voucher as a PDF", response_class=PdfResponse
)
def order_voucher_pdf(order_id: Id, ctx: SellerCtx) -> Response:
    return voucher_pdf(_owned(ctx, Subject.ORDER, order_id))


@router.get(
    "/withdrawals/{withdrawal_id}/voucher",
    summary=JSON_SUMMARY,
    response_model=None,
    responses=JSON_DOCUMENT,  # type: ignore[arg-type]
)
def withdrawal_voucher(withdrawal_id: Id, ctx: SellerCtx) -> Response:
    return voucher_json(_owned(ctx, Subject.WITHDRAWAL, withdrawal_id))


@router.get(
    "/withdrawals/{withdrawal_id}/voucher.pdf",
    summary="The voucher as a PDF",
    response_class=PdfResponse,
)
def withdrawal_voucher_pdf(withdrawal_id: Id, ctx: SellerCtx) -> Response:
    return voucher_pdf(_owned(ctx, Subject.WITHDRAWAL, withdrawal_id))


@router.get(
    "/balance/sales/{sale_id}/voucher",
    summary=JSON_SUMMARY,
    response_model=None,
    responses=JSON_DOCUMENT,  # type: ignore[arg-type]
)
def balance_sale_voucher(sale_id: Id, ctx: SellerCtx) -> Response:
    return voucher_json(_owned(ctx, Subject.BALANCE_SALE, sale_id))


@router.get(
    "/balance/sales/{sale_id}/voucher.pdf",
    summary="The voucher as a PDF",
    response_class=PdfResponse,
)
def balance_sale_voucher_pdf(sale_id: Id, ctx: SellerCtx) -> Response:
    return voucher_pdf(_owned(ctx, Subject.BALANCE_SALE, sale_id))


Code = Annotated[Text, Query(min_length=1, max_length=32, description="as printed")]


@router.get(
    "/vouchers/verify",
    summary="Check a voucher: its facts, and whether it still matches its hash",
    responses={429: {}},
)
def verify_voucher(number: Code, code: Code, ctx: Ctx) -> VerificationOut:
    return verification_out(deps.verify(ctx, number, code))


def verification_out(issued: service.IssuedVoucher) -> VerificationOut:
    voucher = issued.voucher
    document = issued.document
    return VerificationOut(
        number=voucher.number,
        kind=voucher.kind,
        issued_at=beijing(voucher.issued_at),
        sha256=voucher.sha256,
        computed_sha256=issued.computed_sha256,
        hash_matches=issued.intact,
        document=document,
        title=document.title if document else "",
    )
