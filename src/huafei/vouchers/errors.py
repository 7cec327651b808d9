"""Typed voucher errors; every code is stable and listed in docs/vouchers.md."""

from __future__ import annotations

from huafei.core.errors import HuafeiError


class VoucherError(HuafeiError):
    code = "voucher_error"
    status = 400
    title = "The voucher request failed"


class VoucherNotFound(VoucherError):
    """No voucher (yet) for this order or withdrawal of the caller's, or no voucher with this
    number and check code: the two are not told apart, so numbers cannot be probed."""

    code = "voucher_not_found"
    status = 404
    title = "No such voucher"


class VoucherTampered(VoucherError):
    """The stored document no longer matches its SHA-256: it is not served as genuine."""

    code = "voucher_integrity_failed"
    status = 409
    title = "The stored voucher does not match its hash"


class TooManyVerifications(VoucherError):
    code = "voucher_verify_rate_limited"
    status = 429
    title = "Too many voucher checks from this address; try again later"
