"""HTTP routes of wallets: balances and the statement (JSON pages, CSV, XLSX)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from huafei.core.money import Money
from huafei.core.types import Moment, Text
from huafei.identity.deps import SellerContext, SellerCtx
from huafei.wallets import export
from huafei.wallets.schemas import Balances
from huafei.wallets.service import (
    WalletStatementPage,
    all_statement_rows,
    get_balances,
    parse_cursor,
    wallet_statement,
)

router = APIRouter(prefix="/api/v1/wallet", tags=["wallets"])
Locale = Literal["zh", "en"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CsvResponse(Response):
    media_type = "text/csv"


class XlsxResponse(Response):
    media_type = XLSX


Since = Annotated[Moment | None, Query(description="from this time on (with its UTC offset)")]
Until = Annotated[Moment | None, Query(description="before this time (with its UTC offset)")]


@router.get("", summary="Pending, available and held balances")
def balances(ctx: SellerCtx) -> Balances:
    b = ctx.run(lambda s: get_balances(s, ctx.owner_ref))
    return Balances(
        owner_ref=b.owner_ref, currency=b.currency, pending_fen=b.pending_fen,
        available_fen=b.available_fen, held_fen=b.held_fen, total_fen=b.total_fen,
        pending=Money(b.pending_fen).plain(), available=Money(b.available_fen).plain(),
        held=Money(b.held_fen).plain(), total=Money(b.total_fen).plain(),
    )  # fmt: skip


@router.get("/statement", summary="Every movement with its reason and order reference")
def statement(
    ctx: SellerCtx,
    cursor: Annotated[
        Text | None, Query(max_length=64, description="`next_cursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    since: Since = None,
    until: Until = None,
    locale: Locale = "zh",
) -> WalletStatementPage:
    if cursor is not None:
        parse_cursor(cursor)  # a cursor that does not parse is a 422, with a wallet or without
    return ctx.run(
        lambda s: wallet_statement(
            s, ctx.owner_ref, cursor=cursor, limit=limit, since=since, until=until, locale=locale
        )
    )


def _download(data: bytes, media_type: str, filename: str) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _rows(ctx: SellerContext, since: Since, until: Until, locale: Locale) -> Callable[..., Any]:
    """The work that reads every statement row of the caller in the window."""
    return lambda s: all_statement_rows(s, ctx.owner_ref, since=since, until=until, locale=locale)


@router.get("/statement.csv", summary="The statement as CSV", response_class=CsvResponse)
def statement_csv(
    ctx: SellerCtx, since: Since = None, until: Until = None, locale: Locale = "zh"
) -> Response:
    rows = _rows(ctx, since, until, locale)
    data = ctx.run(lambda s: export.statement_csv(rows(s), locale=locale))
    return _download(data, "text/csv; charset=utf-8", "statement.csv")


@router.get(
    "/statement.xlsx", summary="The statement as an Excel workbook", response_class=XlsxResponse
)
def statement_xlsx(
    ctx: SellerCtx, since: Since = None, until: Until = None, locale: Locale = "zh"
) -> Response:
    rows = _rows(ctx, since, until, locale)
    data = ctx.run(lambda s: export.statement_xlsx(rows(s), owner_ref=ctx.owner_ref, locale=locale))
    return _download(data, XLSX, "statement.xlsx")
