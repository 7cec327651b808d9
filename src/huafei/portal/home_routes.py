"""The seller portal's public pages: home (the live rates, their history, the agreement) and the
choice of language. Account pages are in ``account_routes``, notices in ``notice_routes``, money
pages in ``money_routes``, selling in ``sell_routes``.

Every handler calls the domains' services inside ``ctx.run`` — the same calls the JSON API
makes — and renders a page; a refused form is shown again with what was typed (never a secret:
ID numbers, service passwords and codes are not echoed back) and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from huafei.portal.i18n import LANG_COOKIE, LOCALES
from huafei.portal.pages import (
    Form,
    MaybeMe,
    PageCtx,
    PageRoute,
    flash,
    redirect,
    render,
    safe_next,
)
from huafei.rates import errors as rate_errors
from huafei.rates import service as rates
from huafei.rates.defaults import DEFAULT_FACES
from huafei.rates.models import AgreementVersion, ChannelProfile, RateCardVersion, RateEntry

router = APIRouter(route_class=PageRoute, include_in_schema=False, tags=["portal"])

LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


# -- home ---------------------------------------------------------------------------------------
@dataclass
class RateGrid:
    """One profile's live rates: a row per face value, a column per carrier."""

    profile: ChannelProfile
    carriers: list[str]
    faces: list[int]
    cells: dict[tuple[str, int], dict[str, rates.RateTableRow]] = field(default_factory=dict)


@dataclass
class ProfileHistory:
    profile: ChannelProfile
    versions: list[tuple[RateCardVersion, list[RateEntry]]]


@dataclass
class HomeData:
    grids: list[RateGrid]
    history: list[ProfileHistory]
    agreement: AgreementVersion | None


def _home_data(session: Session, now: Any) -> HomeData:
    # The third-party (real-time) profile is what the sell page offers first; show it first.
    profiles = sorted(rates.list_profiles(session), key=lambda p: (p.code != "third_party", p.code))
    table = rates.rate_table(session, at=now, faces=dict(DEFAULT_FACES))
    grids = []
    for profile in profiles:
        rows = [r for r in table if r.profile_code == profile.code]
        grid = RateGrid(
            profile=profile,
            carriers=[c for c in DEFAULT_FACES if any(r.carrier == c for r in rows)],
            faces=sorted({r.face_value_fen for r in rows}),
        )
        for row in rows:
            grid.cells.setdefault((row.carrier, row.face_value_fen), {})[row.lane] = row
        grids.append(grid)
    history = [ProfileHistory(p, rates.rate_history(session, p.code)) for p in profiles]
    try:
        agreement: AgreementVersion | None = rates.current_agreement(session, now)
    except rate_errors.AgreementNotFound:
        agreement = None
    return HomeData(grids, history, agreement)


@router.get("/")
def home(ctx: PageCtx, me: MaybeMe) -> Response:
    now = ctx.now
    data = ctx.run(lambda s: _home_data(s, now))
    request = ctx.request
    return render(request, "home.html", me=me, section="home", data=data, flash=flash(request))


# -- language -----------------------------------------------------------------------------------
@router.post("/language")
def choose_language(form: Form) -> Response:
    """Remember the chosen language (a preference, not a credential) and go back."""
    response = redirect(safe_next(form.get("next"), "/"))
    lang = form.get("lang", "")
    if lang in LOCALES:
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE, samesite="lax")
    return response
