"""What can go wrong sending a text message."""

from __future__ import annotations

from huafei.core.errors import HuafeiError


class SmsUnavailable(HuafeiError):
    """The provider did not take the message (down, timed out, or refused our credentials).

    Nothing was sent; the caller may ask again (a sign-in code is replaced by the next one)."""

    code = "sms_unavailable"
    status = 503
    title = "The text message could not be sent; try again shortly"
