"""What the order routes and the portal's sell page share."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from huafei.orders import service
from huafei.web.context import Context


def submit(
    ctx: Context, session: Session, submission: service.Submission
) -> service.SubmissionResult:
    """``service.submit`` with the platform's settings: the quote's lifetime and the PIN-guessing
    policy; the time is read from the clock at each attempt of the unit of work."""
    settings = ctx.settings
    return service.submit(
        session,
        submission,
        keyring=ctx.keyring,
        now=ctx.clock.now(),
        quote_ttl=timedelta(seconds=settings.quote_ttl_seconds),
        guessing=service.GuessingPolicy.from_settings(settings),
    )
