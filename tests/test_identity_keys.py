"""`huafei keys rotate`: every secret re-encrypted under the active key, readable as before."""

from __future__ import annotations

import base64

import pyotp
from sqlalchemy import select
from typer.testing import CliRunner

from factories import make_client, make_seller, make_staff
from huafei.cli.main import app as cli
from huafei.core.settings import Settings
from huafei.identity.models import (
    ID_NUMBER_CONTEXT,
    SERVICE_PASSWORD_CONTEXT,
    TOTP_SECRET_CONTEXT,
    Seller,
    Staff,
)

OLD = base64.b64encode(b"o" * 32).decode()
NEW = base64.b64encode(b"n" * 32).decode()


def test_rotation_re_encrypts_everything(db, clock, monkeypatch) -> None:
    monkeypatch.setenv("HUAFEI_DATABASE_URL", db.url)
    monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("HUAFEI_SECRET_KEYS", f"k1:{OLD}")
    sellers = [make_seller(db, clock, tier=3) for _ in range(3)] + [make_seller(db, clock)]
    staff = make_staff(db, clock)
    old_keyring = Settings().keyring()
    with db.session() as session:
        before = {
            s.id: (s.real_name(old_keyring), s.id_number(old_keyring))
            for s in session.scalars(select(Seller))
        }

    monkeypatch.setenv("HUAFEI_SECRET_KEYS", f"k1:{OLD},k2:{NEW}")
    monkeypatch.setenv("HUAFEI_ACTIVE_KEY_ID", "k2")
    result = CliRunner().invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "sellers.id_number_enc: 3 re-encrypted" in result.output
    assert "staff.totp_secret_enc: 1 re-encrypted" in result.output

    new_keyring = Settings().keyring()
    with db.session() as session:
        rows = list(session.scalars(select(Seller)))
        for seller in rows:
            for stored in (seller.real_name_enc, seller.id_number_enc, seller.service_password_enc):
                assert stored is None or stored.startswith("k2:")
            assert (seller.real_name(new_keyring), seller.id_number(new_keyring)) == before[
                seller.id
            ]
        assert {
            new_keyring.decrypt(s.service_password_enc, context=SERVICE_PASSWORD_CONTEXT)
            for s in rows
            if s.service_password_enc
        } == {"123456"}
        stored_staff = session.scalars(select(Staff)).one()
        secret = new_keyring.decrypt(stored_staff.totp_secret_enc, context=TOTP_SECRET_CONTEXT)
    assert secret == staff.totp_secret
    # The old key can go now: nothing needs it.
    monkeypatch.setenv("HUAFEI_SECRET_KEYS", f"k2:{NEW}")
    only_new = Settings().keyring()
    with db.session() as session:
        for seller in session.scalars(select(Seller).where(Seller.tier > 1)):
            only_new.decrypt(seller.id_number_enc or "", context=ID_NUMBER_CONTEXT)
    # Staff still sign in: the TOTP secret survived the rotation.
    client = make_client(db, clock, secret_keys=f"k2:{NEW}", active_key_id="k2")
    response = client.post(
        "/api/v1/staff/auth/sign-in",
        json={
            "username": staff.username,
            "password": staff.password,
            "totp_code": pyotp.TOTP(staff.totp_secret).at(clock.now()),
        },
    )
    assert response.status_code == 200, response.text
    again = CliRunner().invoke(cli, ["keys", "rotate"])
    assert "sellers.id_number_enc: 0 re-encrypted" in again.output
    assert len(sellers) == 4


def test_generate_prints_a_usable_key() -> None:
    result = CliRunner().invoke(cli, ["keys", "generate"])
    assert result.exit_code == 0
    assert len(base64.b64decode(result.output.strip())) == 32
