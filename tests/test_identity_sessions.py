"""Sessions: HttpOnly SameSite cookies with CSRF, bearer tokens, timeouts, lists, sign-out."""

from __future__ import annotations

from factories import (
    bearer,
    make_client,
    make_partner_key,
    make_seller,
    make_staff,
    new_phone,
    open_seller_session,
    open_staff_session,
    sign_in_seller,
)

ME = "/api/v1/me"
#: production refuses development keys; any real-looking 32-byte keys will do here
PRODUCTION_KEYS = {"secret_keys": "k1:" + "a" * 43 + "=", "lookup_key": "b" * 43 + "="}


class TestCookieSessions:
    def test_cookies_are_http_only_and_same_site(self, db, clock) -> None:
        client = make_client(db, clock)
        signed_in = sign_in_seller(client, new_phone(), session="cookie")
        assert signed_in["token"] is None
        cookies = client.cookies
        assert cookies.get("huafei_session", "").startswith("hfs_")
        assert cookies.get("huafei_csrf") == signed_in["csrf_token"]
        assert client.get(ME).status_code == 200

    def test_set_cookie_attributes(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        client.post("/api/v1/auth/sms-codes", json={"phone": phone})
        code = client.get("/sandbox/sms", params={"phone": phone}).json()[0]["text"]
        code = "".join(c for c in code if c.isdigit())[:6]
        response = client.post(
            "/api/v1/auth/sign-in/sms", json={"phone": phone, "code": code, "session": "cookie"}
        )
        set_cookies = response.headers.get_list("set-cookie")
        session_cookie = next(c for c in set_cookies if c.startswith("huafei_session="))
        csrf_cookie = next(c for c in set_cookies if c.startswith("huafei_csrf="))
        assert "HttpOnly" in session_cookie
        assert "SameSite=lax" in session_cookie
        assert "HttpOnly" not in csrf_cookie
        assert "SameSite=strict" in csrf_cookie
        assert "Max-Age=43200" in session_cookie  # the absolute timeout, 12 h
        assert "Secure" not in session_cookie  # development; production adds Secure

    def test_production_cookies_are_secure(self, db, clock) -> None:
        client = make_client(db, clock, env="production", **PRODUCTION_KEYS)
        phone = new_phone()
        client.post("/api/v1/auth/sms-codes", json={"phone": phone})
        code = "".join(c for c in client.get("/sandbox/sms").json()[0]["text"] if c.isdigit())
        response = client.post(
            "/api/v1/auth/sign-in/sms",
            json={"phone": phone, "code": code[:6], "session": "cookie"},
        )
        assert all("Secure" in c for c in response.headers.get_list("set-cookie"))

    def test_unsafe_methods_need_the_csrf_header(self, db, clock) -> None:
        client = make_client(db, clock)
        csrf = sign_in_seller(client, new_phone(), session="cookie")["csrf_token"]
        refused = client.post("/api/v1/auth/sign-out")
        assert refused.status_code == 403
        assert refused.json()["code"] == "csrf_failed"
        forged = client.post("/api/v1/auth/sign-out", headers={"X-CSRF-Token": "0" * 64})
        assert forged.json()["code"] == "csrf_failed"
        assert client.get(ME).status_code == 200
        signed_out = client.post("/api/v1/auth/sign-out", headers={"X-CSRF-Token": csrf})
        assert signed_out.status_code == 204
        assert client.get(ME).status_code == 401

    def test_a_cookie_token_is_not_a_bearer_token(self, db, clock) -> None:
        client = make_client(db, clock)
        sign_in_seller(client, new_phone(), session="cookie")
        token = client.cookies["huafei_session"]
        client.cookies.clear()
        response = client.get(ME, headers=bearer(token))
        assert response.status_code == 401


class TestTimeouts:
    def test_cookie_sessions_end_after_thirty_idle_minutes(self, db, clock) -> None:
        client = make_client(db, clock)
        sign_in_seller(client, new_phone(), session="cookie")
        for _ in range(3):
            clock.advance(minutes=29)
            assert client.get(ME).status_code == 200
        clock.advance(minutes=30)
        expired = client.get(ME)
        assert expired.status_code == 401
        assert expired.json()["code"] == "session_expired"

    def test_cookie_sessions_end_twelve_hours_after_sign_in(self, db, clock) -> None:
        client = make_client(db, clock)
        sign_in_seller(client, new_phone(), session="cookie")
        for _ in range(35):  # 11 h 40 min of activity
            clock.advance(minutes=20)
            assert client.get(ME).status_code == 200
        clock.advance(minutes=19)
        assert client.get(ME).status_code == 200
        clock.advance(minutes=1)
        assert client.get(ME).json()["code"] == "session_expired"

    def test_bearer_tokens_idle_a_week_and_last_thirty_days(self, db, clock) -> None:
        client = make_client(db, clock)
        seller = make_seller(db, clock)
        idle = open_seller_session(db, clock, seller.id)
        busy = open_seller_session(db, clock, seller.id)
        for _ in range(4):
            clock.advance(days=6)
            assert client.get(ME, headers=bearer(busy)).status_code == 200
        assert client.get(ME, headers=bearer(idle)).json()["code"] == "session_expired"
        clock.advance(days=5, hours=23)
        assert client.get(ME, headers=bearer(busy)).status_code == 200
        clock.advance(hours=1)
        assert client.get(ME, headers=bearer(busy)).json()["code"] == "session_expired"


class TestSessionList:
    def test_list_revoke_one_and_sign_out_everywhere(self, db, clock) -> None:
        client = make_client(db, clock)
        phone = new_phone()
        first = sign_in_seller(client, phone)["token"]
        clock.advance(seconds=61)
        second = sign_in_seller(client, phone)
        listed = client.get("/api/v1/auth/sessions", headers=bearer(first)).json()
        assert [s["id"] for s in listed] == [second["session"]["id"], listed[1]["id"]]
        assert [s["current"] for s in listed] == [False, True]
        assert listed[0]["kind"] == "bearer"

        revoked = client.delete(
            f"/api/v1/auth/sessions/{second['session']['id']}", headers=bearer(first)
        )
        assert revoked.status_code == 204
        assert client.get(ME, headers=bearer(second["token"])).status_code == 401
        assert len(client.get("/api/v1/auth/sessions", headers=bearer(first)).json()) == 1

        clock.advance(seconds=61)
        third = sign_in_seller(client, phone)["token"]
        everywhere = client.post("/api/v1/auth/sign-out-everywhere", headers=bearer(third))
        assert everywhere.status_code == 204
        assert client.get(ME, headers=bearer(first)).status_code == 401
        assert client.get(ME, headers=bearer(third)).status_code == 401

    def test_sessions_of_others_are_not_found(self, db, clock) -> None:
        client = make_client(db, clock)
        mine = open_seller_session(db, clock, make_seller(db, clock).id)
        open_seller_session(db, clock, make_seller(db, clock).id)
        theirs = client.delete("/api/v1/auth/sessions/2", headers=bearer(mine))
        assert theirs.status_code == 404
        assert theirs.json()["code"] == "session_not_found"
        assert client.delete("/api/v1/auth/sessions/999", headers=bearer(mine)).status_code == 404


class TestWhoIsAsking:
    def test_no_credentials_is_401(self, db, clock) -> None:
        client = make_client(db, clock)
        response = client.get(ME)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert client.get(ME, headers=bearer("hfs_made_up")).status_code == 401

    def test_the_wrong_kind_of_account_is_403(self, db, clock) -> None:
        client = make_client(db, clock)
        staff = make_staff(db, clock, role="admin")
        staff_token = open_staff_session(db, clock, staff.id)
        seller_token = open_seller_session(db, clock, make_seller(db, clock).id)
        key = make_partner_key(db, clock)
        assert client.get(ME, headers=bearer(staff_token)).json()["code"] == "forbidden"
        assert client.get(ME, headers={"X-API-Key": key.key}).status_code == 403
        staff_me = client.get("/api/v1/staff/me", headers=bearer(seller_token))
        assert staff_me.status_code == 403
        partner_me = client.get("/api/v1/partner/me", headers=bearer(seller_token))
        assert partner_me.status_code == 403
        assert client.get("/api/v1/partner/me").status_code == 401
