"""A full identity run at DEBUG level: no log line carries personal data or a secret.

Phone numbers, real names, ID numbers, passwords, service passwords, TOTP secrets, session
tokens and API keys must never reach a log line. The one deliberate exception is the sandbox
SMS line in development, which shows the sign-in code (to a masked number) so `make run` can be
used without a phone.
"""

from __future__ import annotations

import json
import logging
import re

import pyotp

from factories import (
    bearer,
    latest_sms_code,
    make_client,
    make_id_number,
    make_staff,
    sign_in_seller,
)
from huafei.carriers.sandbox_numbers import TEST_NUMBERS
from huafei.core.logging import configure_logging

PHONE = "13900139000"
REAL_NAME = "欧阳娜娜"
SELLER_PASSWORD = "my-own-secret-9"


def test_no_personal_data_in_any_log_line(db, clock, capfd) -> None:
    configure_logging("DEBUG", json=True)
    try:
        secrets, codes = _full_run(db, clock)
        lines = capfd.readouterr().err.splitlines()
    finally:
        logging.getLogger().handlers.clear()
        logging.getLogger().setLevel(logging.WARNING)

    records = [json.loads(line) for line in lines if line.startswith("{")]
    # Random request ids (hex) can contain any run of digits; they are not data anyone gave.
    lines = [re.sub(r'"request_id": "[0-9a-f]{32}"', "", line) for line in lines]
    assert len(records) > 30, "the run should have logged its requests"
    assert any(r.get("message") == "request" for r in records)
    offending = []
    for line in lines:
        sms_line = "sandbox SMS to" in line
        for name, value in secrets.items():
            if value in line:
                offending.append(f"{name} in: {line}")
        for code in codes:
            if code in line and not sms_line:
                offending.append(f"SMS code outside the sandbox SMS line: {line}")
        if sms_line:
            assert "139****9000" in line
    assert offending == []
    # Sanity: phone-like digit runs never appear unmasked anywhere.
    assert not [line for line in lines if re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", line)]


def _full_run(db, clock) -> tuple[dict[str, str], list[str]]:
    client = make_client(db, clock)
    id_number = make_id_number()
    service_password = TEST_NUMBERS[PHONE].service_password

    signed_in = sign_in_seller(client, PHONE)
    codes = [latest_sms_code(client, PHONE)]
    token = signed_in["token"]
    seller = bearer(token)
    client.put("/api/v1/me/password", headers=seller, json={"new_password": SELLER_PASSWORD})
    client.post("/api/v1/auth/sign-in/password", json={"phone": PHONE, "password": "wrong-one1"})
    by_password = client.post(
        "/api/v1/auth/sign-in/password", json={"phone": PHONE, "password": SELLER_PASSWORD}
    ).json()["token"]

    selfie = client.post("/sandbox/liveness", json={"outcome": "fail"}).json()["selfie_token"]
    kyc = "/api/v1/me/kyc/real-name"
    body = {"real_name": REAL_NAME, "id_number": id_number, "selfie_token": selfie}
    assert client.post(kyc, headers=seller, json=body).json()["code"] == "liveness_failed"
    wrong_digit = id_number[:17] + ("0" if id_number[17] != "0" else "1")
    assert client.post(kyc, headers=seller, json=body | {"id_number": wrong_digit}).status_code
    body["selfie_token"] = client.post("/sandbox/liveness", json={}).json()["selfie_token"]
    assert client.post(kyc, headers=seller, json=body).status_code == 200
    l3 = "/api/v1/me/kyc/service-password"
    client.post(l3, headers=seller, json={"service_password": "000000"})
    assert client.post(l3, headers=seller, json={"service_password": service_password}).is_success
    client.get("/api/v1/me/limits", headers=seller)
    client.get("/api/v1/auth/sessions", headers=seller)

    admin = make_staff(db, clock)
    clock.advance(seconds=30)
    staff_token = client.post(
        "/api/v1/staff/auth/sign-in",
        json={
            "username": admin.username,
            "password": admin.password,
            "totp_code": pyotp.TOTP(admin.totp_secret).at(clock.now()),
            "session": "bearer",
        },
    ).json()["token"]
    staff = bearer(staff_token)
    client.get(f"/api/v1/staff/sellers/{signed_in['seller']['id']}", headers=staff)
    created = client.post(
        "/api/v1/staff/accounts", headers=staff, json={"username": "risk01", "role": "risk"}
    ).json()
    partner = client.post("/api/v1/staff/partners", headers=staff, json={"name": "Acme"}).json()
    key = client.post(
        f"/api/v1/staff/partners/{partner['id']}/keys",
        headers=staff,
        json={"scopes": ["orders:read"]},
    ).json()["key"]
    client.get("/api/v1/partner/me", headers={"X-API-Key": key})
    client.get("/api/v1/partner/me", headers={"X-API-Key": key[:-3] + "xyz"})
    client.get("/api/v1/staff/operation-log", headers=staff)
    client.post("/api/v1/auth/sign-out-everywhere", headers=seller)
    client.get("/api/v1/me", headers=seller)

    secrets = {
        "phone": PHONE,
        "real name": REAL_NAME,
        "ID number": id_number,
        "ID number with a wrong digit": wrong_digit,
        "service password": service_password,
        "seller password": SELLER_PASSWORD,
        "staff password": admin.password,
        "TOTP secret": admin.totp_secret,
        "new staff TOTP secret": created["totp_secret"],
        "new staff password": created["initial_password"],
        "seller token": token,
        "password-session token": by_password,
        "staff token": staff_token,
        "API key": key,
        "API key secret": key.split("_", 2)[2],
    }
    return secrets, codes
