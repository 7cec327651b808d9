"""The credentials' names on the wire, the session cookies the API and the portal set, and
the OpenAPI document's description of them."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Response

from huafei.core.crypto import Keyring
from huafei.core.settings import Settings
from huafei.identity.service import sessions
from huafei.web.openapi import Security

SELLER_COOKIE = "huafei_session"
SELLER_CSRF_COOKIE = "huafei_csrf"
STAFF_COOKIE = "huafei_staff_session"
STAFF_CSRF_COOKIE = "huafei_staff_csrf"
CSRF_HEADER = "X-CSRF-Token"
API_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True, slots=True)
class CookiePair:
    """The HttpOnly session cookie and the script-readable CSRF cookie of one kind of account."""

    session: str
    csrf: str

    def set(
        self, response: Response, keyring: Keyring, *, token: str, max_age: int, secure: bool
    ) -> str:
        """Set both cookies; returns the CSRF token."""
        csrf = sessions.csrf_token_for(keyring, token)
        response.set_cookie(
            self.session, token, max_age=max_age, httponly=True, samesite="lax", secure=secure
        )
        response.set_cookie(
            self.csrf, csrf, max_age=max_age, httponly=False, samesite="strict", secure=secure
        )
        return csrf

    def open(
        self,
        response: Response,
        opened: sessions.OpenedSession,
        *,
        keyring: Keyring,
        settings: Settings,
    ) -> str:
        """Set both cookies for a session just opened, for as long as it lives; returns the
        CSRF token. Secure cookies in production (HTTPS behind the proxy)."""
        record = opened.record
        return self.set(
            response,
            keyring,
            token=opened.token,
            max_age=int((record.expires_at - record.created_at).total_seconds()),
            secure=settings.env == "production",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(self.session)
        response.delete_cookie(self.csrf)


SELLER_COOKIES = CookiePair(SELLER_COOKIE, SELLER_CSRF_COOKIE)
STAFF_COOKIES = CookiePair(STAFF_COOKIE, STAFF_CSRF_COOKIE)


# -- the OpenAPI document's security schemes -----------------------------------------------------
OPENAPI_SECURITY = Security(
    schemes={
        "bearerSession": {
            "type": "http",
            "scheme": "bearer",
            "description": "A session token from seller sign-in (`session: bearer`) or staff "
            "sign-in, as `Authorization: Bearer …`. No CSRF token needed.",
        },
        "sellerCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": SELLER_COOKIE,
            "description": f"A seller's browser session (`session: cookie`); unsafe methods also "
            f"send the `{CSRF_HEADER}` header with the sign-in answer's `csrf_token`.",
        },
        "staffCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": STAFF_COOKIE,
            "description": f"A staff member's browser session; unsafe methods also send the "
            f"`{CSRF_HEADER}` header.",
        },
        "partnerKey": {
            "type": "apiKey",
            "in": "header",
            "name": API_KEY_HEADER,
            "description": "A partner API key issued by operations; its scopes decide the routes.",
        },
    },
    requirements={
        "seller": [{"bearerSession": []}, {"sellerCookie": []}],
        "staff": [{"bearerSession": []}, {"staffCookie": []}],
        "partner": [{"partnerKey": []}],
    },
)
