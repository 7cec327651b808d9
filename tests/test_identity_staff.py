"""Staff: the first admin from the CLI, password + TOTP sign-in, roles, the operation log."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from factories import (
    STAFF_PASSWORD,
    bearer,
    make_client,
    make_seller,
    make_staff,
    open_staff_session,
    sign_in_staff,
    staff_totp,
)
from huafei.cli.main import app as cli
from huafei.identity.models import OperationLogEntry, Staff

SIGN_IN = "/api/v1/staff/auth/sign-in"


def _sign_in(client, username, password, code, session="bearer"):
    return client.post(
        SIGN_IN,
        json={"username": username, "password": password, "totp_code": code, "session": session},
    )


def _log(db) -> list[OperationLogEntry]:
    with db.session() as session:
        return list(session.scalars(select(OperationLogEntry).order_by(OperationLogEntry.id)))


class TestCli:
    def test_the_first_admin_from_the_command_line(self, db, clock, monkeypatch) -> None:
        monkeypatch.setenv("HUAFEI_DATABASE_URL", db.url)
        monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
        result = CliRunner().invoke(
            cli,
            ["staff", "create", "--username", "Root", "--role", "admin"],
            input="a long admin password\na long admin password\n",
        )
        assert result.exit_code == 0, result.output
        assert "staff account 1 created: root (admin)" in result.output
        assert "a long admin password" not in result.output
        secret = re.search(r"secret: ([A-Z2-7]+)", result.output).group(1)
        assert "otpauth://totp/Huafei:root?secret=" in result.output

        client = make_client(db, clock)
        signed_in = _sign_in(
            client, "root", "a long admin password", pyotp.TOTP(secret).at(clock.now())
        )
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["staff"]["role"] == "admin"
        assert "staff:manage" in signed_in.json()["staff"]["permissions"]
        created = [e for e in _log(db) if e.action == "staff.account.created"]
        assert created[0].actor_kind == "system"
        assert created[0].actor_label.startswith("cli:")

    def test_refusals_exit_non_zero(self, db, monkeypatch) -> None:
        monkeypatch.setenv("HUAFEI_DATABASE_URL", db.url)
        monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
        runner = CliRunner()
        weak = runner.invoke(
            cli, ["staff", "create", "--username", "x1x", "--role", "admin"], input="short\nshort\n"
        )
        assert weak.exit_code == 2
        assert "weak_password" in weak.output
        role = runner.invoke(
            cli,
            ["staff", "create", "--username", "x1x", "--role", "king", "--password", "x" * 20],
        )
        assert role.exit_code == 2
        assert "unknown_role" in role.output


class TestSignIn:
    def test_password_and_totp(self, db, clock) -> None:
        client = make_client(db, clock)
        creds = make_staff(db, clock, role="support")
        signed_in = sign_in_staff(client, creds, clock)
        me = client.get("/api/v1/staff/me", headers=bearer(signed_in["token"]))
        assert me.json()["username"] == creds.username
        assert me.json()["permissions"] == ["disputes:answer", "orders:read", "sellers:read"]

    def test_every_wrong_part_answers_the_same(self, db, clock) -> None:
        client = make_client(db, clock)
        creds = make_staff(db, clock)
        code = staff_totp(creds, clock)
        wrong_code = f"{(int(code) + 1) % 1_000_000:06d}"
        answers = [
            _sign_in(client, creds.username, "not the password", code),
            _sign_in(client, creds.username, creds.password, wrong_code),
            _sign_in(client, "nobody-here", creds.password, code),
        ]
        bodies = {(a.status_code, a.json()["code"], a.json()["detail"]) for a in answers}
        assert bodies == {(401, "invalid_credentials", "The sign-in details are not right")}
        reasons = [
            e.detail for e in _log(db) if e.action == "auth.sign_in.failed"
        ]  # the log knows which part was wrong
        assert ['"bad_password"' in r for r in reasons] == [True, False, True]

    def test_a_totp_code_works_once(self, db, clock) -> None:
        client = make_client(db, clock)
        creds = make_staff(db, clock)
        code = staff_totp(creds, clock)
        assert _sign_in(client, creds.username, creds.password, code).status_code == 200
        replay = _sign_in(client, creds.username, creds.password, code)
        assert replay.json()["code"] == "invalid_credentials"

    def test_lockout_after_five_failures(self, db, clock) -> None:
        client = make_client(db, clock)
        creds = make_staff(db, clock)
        for _ in range(4):
            _sign_in(client, creds.username, "wrong", "000000")
        locked = _sign_in(client, creds.username, "wrong", "000000")
        assert locked.status_code == 429
        assert locked.json()["code"] == "locked_out"
        assert locked.json()["action"] == "staff_sign_in"
        assert locked.json()["retry_after_seconds"] == 30 * 60
        clock.advance(minutes=29)
        right = _sign_in(client, creds.username, creds.password, staff_totp(creds, clock))
        assert right.json()["code"] == "locked_out"
        clock.advance(minutes=1)
        right = _sign_in(client, creds.username, creds.password, staff_totp(creds, clock))
        assert right.status_code == 200

    def test_cookie_sessions_need_csrf(self, db, clock) -> None:
        client = make_client(db, clock)
        creds = make_staff(db, clock)
        signed_in = sign_in_staff(client, creds, clock, session="cookie")
        assert client.cookies.get("huafei_staff_session")
        assert client.get("/api/v1/staff/accounts").status_code == 200
        refused = client.post("/api/v1/staff/partners", json={"name": "Acme"})
        assert refused.json()["code"] == "csrf_failed"
        created = client.post(
            "/api/v1/staff/partners",
            json={"name": "Acme"},
            headers={"X-CSRF-Token": signed_in["csrf_token"]},
        )
        assert created.status_code == 201

    def test_staff_sessions_idle_out_after_fifteen_minutes(self, db, clock) -> None:
        client = make_client(db, clock)
        token = sign_in_staff(client, make_staff(db, clock), clock)["token"]
        clock.advance(minutes=15)
        assert client.get("/api/v1/staff/me", headers=bearer(token)).status_code == 401

    def test_sign_out(self, db, clock) -> None:
        client = make_client(db, clock)
        token = sign_in_staff(client, make_staff(db, clock), clock)["token"]
        assert client.post("/api/v1/staff/auth/sign-out", headers=bearer(token)).status_code == 204
        assert client.get("/api/v1/staff/me", headers=bearer(token)).status_code == 401

    def test_session_list_and_sign_out_everywhere(self, db, clock) -> None:
        client = make_client(db, clock)
        creds = make_staff(db, clock)
        first = sign_in_staff(client, creds, clock)["token"]
        second = sign_in_staff(client, creds, clock)["token"]
        listed = client.get("/api/v1/staff/auth/sessions", headers=bearer(second)).json()
        assert [s["current"] for s in listed] == [True, False]
        everywhere = client.post("/api/v1/staff/auth/sign-out-everywhere", headers=bearer(second))
        assert everywhere.status_code == 204
        for token in (first, second):
            assert client.get("/api/v1/staff/me", headers=bearer(token)).status_code == 401

    def test_changing_the_password(self, db, clock) -> None:
        client = make_client(db, clock)
        creds = make_staff(db, clock)
        token = sign_in_staff(client, creds, clock)["token"]
        other = open_staff_session(db, clock, creds.id)
        url = "/api/v1/staff/me/password"
        wrong = client.put(
            url,
            headers=bearer(token),
            json={"current_password": "nope", "new_password": "a brand new password"},
        )
        assert wrong.json()["code"] == "current_password_wrong"
        changed = client.put(
            url,
            headers=bearer(token),
            json={"current_password": STAFF_PASSWORD, "new_password": "a brand new password"},
        )
        assert changed.status_code == 200
        assert client.get("/api/v1/staff/me", headers=bearer(other)).status_code == 401
        clock.advance(seconds=30)
        again = _sign_in(client, creds.username, "a brand new password", staff_totp(creds, clock))
        assert again.status_code == 200


class TestAccountsAndRoles:
    def test_admin_creates_staff_who_can_then_sign_in(self, db, clock) -> None:
        client = make_client(db, clock)
        admin = bearer(open_staff_session(db, clock, make_staff(db, clock).id))
        created = client.post(
            "/api/v1/staff/accounts", headers=admin, json={"username": "kefu01", "role": "support"}
        )
        assert created.status_code == 201
        body = created.json()
        code = pyotp.TOTP(body["totp_secret"]).at(clock.now())
        assert _sign_in(client, "kefu01", body["initial_password"], code).status_code == 200
        with db.session() as session:
            stored = session.scalars(select(Staff).where(Staff.username == "kefu01")).one()
        assert body["totp_secret"] not in stored.totp_secret_enc
        assert body["initial_password"] not in stored.password_hash
        listing = client.get("/api/v1/staff/accounts", headers=admin)
        assert body["totp_secret"] not in listing.text
        taken = client.post(
            "/api/v1/staff/accounts", headers=admin, json={"username": "kefu01", "role": "risk"}
        )
        assert taken.json()["code"] == "username_taken"

    def test_disabling_ends_sessions_and_self_changes_are_refused(self, db, clock) -> None:
        client = make_client(db, clock)
        admin = make_staff(db, clock)
        admin_headers = bearer(open_staff_session(db, clock, admin.id))
        support = make_staff(db, clock, role="support")
        support_headers = bearer(open_staff_session(db, clock, support.id))
        response = client.patch(
            f"/api/v1/staff/accounts/{support.id}", headers=admin_headers, json={"active": False}
        )
        assert response.json()["active"] is False
        assert client.get("/api/v1/staff/me", headers=support_headers).status_code == 401
        promoted = client.patch(
            f"/api/v1/staff/accounts/{support.id}", headers=admin_headers, json={"role": "risk"}
        )
        assert promoted.json()["role"] == "risk"
        own = client.patch(
            f"/api/v1/staff/accounts/{admin.id}", headers=admin_headers, json={"active": False}
        )
        assert own.json()["code"] == "cannot_change_own_account"
        bad_role = client.patch(
            f"/api/v1/staff/accounts/{support.id}", headers=admin_headers, json={"role": "god"}
        )
        assert bad_role.json()["code"] == "unknown_role"

    def test_roles_without_the_permission_are_refused_and_logged(self, db, clock) -> None:
        client = make_client(db, clock)
        support = make_staff(db, clock, role="support")
        response = client.get(
            "/api/v1/staff/accounts", headers=bearer(open_staff_session(db, clock, support.id))
        )
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert response.json()["permission"] == "staff:manage"
        denied = [e for e in _log(db) if e.action == "staff.permission_denied"]
        assert denied[0].actor_id == support.id
        assert denied[0].outcome == "refused"


class TestOperationLog:
    def test_every_staff_action_says_who_what_when_where(self, db, clock) -> None:
        client = make_client(db, clock)
        seller = make_seller(db, clock, tier=2, real_name="赵钱孙")
        support = make_staff(db, clock, role="support")
        headers = bearer(open_staff_session(db, clock, support.id)) | {
            "User-Agent": "console/1.0",
            "X-Request-ID": "req-seller-view",
        }
        view = client.get(f"/api/v1/staff/sellers/{seller.id}", headers=headers)
        assert view.status_code == 200
        assert view.json()["real_name_masked"] == "赵**"
        assert re.fullmatch(r"\d{4}\*{10}[\dX]{4}", view.json()["id_number_masked"])
        assert seller.phone not in view.text

        compliance = make_staff(db, clock, role="compliance")
        log = client.get(
            "/api/v1/staff/operation-log",
            params={"action": "staff.request", "actor_id": support.id},
            headers=bearer(open_staff_session(db, clock, compliance.id)),
        )
        assert log.status_code == 200
        (entry,) = log.json()
        assert entry["actor_kind"] == "staff"
        assert entry["actor_label"] == support.username
        assert entry["detail"]["route"] == "/api/v1/staff/sellers/{seller_id}"
        assert entry["detail"]["params"] == {"seller_id": str(seller.id)}
        assert entry["ip"] == "testclient"
        assert entry["user_agent"] == "console/1.0"
        assert entry["request_id"] == "req-seller-view"
        assert entry["occurred_at"].startswith(clock.now().isoformat()[:19])

    def test_the_log_is_append_only(self, db, clock) -> None:
        make_staff(db, clock)
        for statement in (
            "UPDATE operation_log SET outcome = 'ok'",
            "DELETE FROM operation_log",
        ):
            with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
                session.execute(text(statement))
        assert len(_log(db)) == 1
