"""What the voucher routes and the portal's verification page share."""

from __future__ import annotations

from huafei.identity.deps import CallContext
from huafei.vouchers import service


def verify(ctx: CallContext, number: str, code: str) -> service.IssuedVoucher:
    """``service.verify`` for the caller's address, with the platform's limiter and keyring."""
    ip = ctx.origin.ip or ""
    return ctx.run(
        lambda s: service.verify(
            s,
            number=number,
            check_code=code,
            limiter=ctx.rate_limiter,
            keyring=ctx.keyring,
            client_ip=ip,
        )
    )
