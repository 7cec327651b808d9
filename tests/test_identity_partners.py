"""Partners and API keys: shown once, stored hashed, scoped, rotatable, revocable."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select

from factories import bearer, make_client, make_partner_key, make_staff, open_staff_session
from huafei.identity.deps import PartnerContext, current_partner, partner_with
from huafei.identity.models import OperationLogEntry, Partner, PartnerApiKey

PARTNER_ME = "/api/v1/partner/me"


def _admin(db, clock):
    client = make_client(db, clock)
    headers = bearer(open_staff_session(db, clock, make_staff(db, clock).id))
    partner = client.post("/api/v1/staff/partners", headers=headers, json={"name": "快充 Ltd"})
    assert partner.status_code == 201
    return client, headers, partner.json()["id"]


def _issue(client, headers, partner_id, scopes=("orders:read",)):
    response = client.post(
        f"/api/v1/staff/partners/{partner_id}/keys", headers=headers, json={"scopes": scopes}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_key_is_shown_once_and_stored_hashed(db, clock) -> None:
    client, headers, partner_id = _admin(db, clock)
    issued = _issue(client, headers, partner_id, ["orders:read", "cards:submit"])
    key = issued["key"]
    assert key.startswith(f"hfk_{issued['api_key']['key_id']}_")
    me = client.get(PARTNER_ME, headers={"X-API-Key": key})
    assert me.status_code == 200
    assert me.json() == {
        "id": partner_id,
        "name": "快充 Ltd",
        "key_id": issued["api_key"]["key_id"],
        "scopes": ["cards:submit", "orders:read"],
    }
    listing = client.get("/api/v1/staff/partners", headers=headers)
    secret = key.split("_", 2)[2]
    assert secret not in listing.text
    assert listing.json()[0]["keys"][0]["key_id"] == issued["api_key"]["key_id"]
    with db.session() as session:
        stored = session.scalars(select(PartnerApiKey)).one()
    assert secret not in stored.secret_hash
    assert stored.last_used_at is not None


def test_rotation_keeps_the_old_key_for_a_day(db, clock) -> None:
    client, headers, partner_id = _admin(db, clock)
    old = _issue(client, headers, partner_id)
    rotated = client.post(
        f"/api/v1/staff/partners/{partner_id}/keys/{old['api_key']['key_id']}/rotate",
        headers=headers,
    )
    assert rotated.status_code == 201
    new = rotated.json()
    assert new["api_key"]["scopes"] == ["orders:read"]
    assert client.get(PARTNER_ME, headers={"X-API-Key": old["key"]}).status_code == 200
    assert client.get(PARTNER_ME, headers={"X-API-Key": new["key"]}).status_code == 200
    clock.advance(hours=24)
    expired = client.get(PARTNER_ME, headers={"X-API-Key": old["key"]})
    assert expired.status_code == 401
    assert expired.json()["code"] == "invalid_api_key"
    assert client.get(PARTNER_ME, headers={"X-API-Key": new["key"]}).status_code == 200


def test_revocation_is_immediate(db, clock) -> None:
    client, headers, partner_id = _admin(db, clock)
    issued = _issue(client, headers, partner_id)
    key_id = issued["api_key"]["key_id"]
    revoked = client.delete(f"/api/v1/staff/partners/{partner_id}/keys/{key_id}", headers=headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert client.get(PARTNER_ME, headers={"X-API-Key": issued["key"]}).status_code == 401
    again = client.delete(f"/api/v1/staff/partners/{partner_id}/keys/{key_id}", headers=headers)
    assert again.json()["code"] == "api_key_inactive"
    missing = client.delete(f"/api/v1/staff/partners/{partner_id}/keys/nope", headers=headers)
    assert missing.json()["code"] == "api_key_not_found"


def test_bad_keys_and_scopes(db, clock) -> None:
    client, headers, partner_id = _admin(db, clock)
    unknown = client.post(
        f"/api/v1/staff/partners/{partner_id}/keys", headers=headers, json={"scopes": ["root"]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_scope"
    no_partner = client.post(
        "/api/v1/staff/partners/999/keys", headers=headers, json={"scopes": ["orders:read"]}
    )
    assert no_partner.json()["code"] == "partner_not_found"
    issued = _issue(client, headers, partner_id)
    tampered = issued["key"][:-2] + ("AA" if not issued["key"].endswith("AA") else "BB")
    for key in ("hfk_nothing_here", "garbage", tampered):
        response = client.get(PARTNER_ME, headers={"X-API-Key": key})
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_api_key"
    with db.session() as session:
        rejected = session.scalars(
            select(OperationLogEntry).where(OperationLogEntry.action == "auth.api_key.rejected")
        ).all()
    assert len(rejected) == 3
    assert issued["key"] not in " ".join(r.detail for r in rejected)
    duplicate = client.post("/api/v1/staff/partners", headers=headers, json={"name": "快充 Ltd"})
    assert duplicate.json()["code"] == "partner_name_taken"


def test_a_route_that_needs_a_scope_refuses_a_key_without_it(db, clock) -> None:
    """``partner_with`` guards the open API's routes: a valid key of the partner without the
    scope is a 403 problem; with it, the route sees the partner and the key."""
    client = make_client(db, clock)
    app: FastAPI = client.app  # type: ignore[assignment]

    @app.get("/probe/partner-orders")
    def partner_orders(
        ctx: Annotated[PartnerContext, Depends(partner_with("orders:read"))],
    ) -> dict[str, object]:
        return {"partner": ctx.caller.partner.id, "key": ctx.caller.key.key_id}

    @app.get("/probe/partner")
    def partner(found: Annotated[Partner, Depends(current_partner)]) -> dict[str, object]:
        return {"partner": found.id}

    reader = make_partner_key(db, clock, scopes=("orders:read",))
    submitter = make_partner_key(db, clock, scopes=("cards:submit",), partner_id=reader.partner_id)
    allowed = client.get("/probe/partner-orders", headers={"X-API-Key": reader.key})
    assert allowed.status_code == 200, allowed.text
    assert allowed.json() == {"partner": reader.partner_id, "key": reader.key_id}
    refused = client.get("/probe/partner-orders", headers={"X-API-Key": submitter.key})
    assert refused.status_code == 403
    assert refused.json()["code"] == "api_key_scope_missing"
    assert refused.json()["scope"] == "orders:read"
    assert client.get("/probe/partner-orders").status_code == 401
    seen = client.get("/probe/partner", headers={"X-API-Key": submitter.key})
    assert seen.json() == {"partner": reader.partner_id}


def test_a_scope_that_does_not_exist_cannot_be_required() -> None:
    with pytest.raises(ValueError, match="orders:delete"):
        partner_with("orders:delete")
