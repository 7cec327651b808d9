"""Partners and their API keys: shown once, stored hashed, scoped, rotatable, revocable.

A key reads ``hfk_<key id>_<secret>``. The key id is public (listings, the operation log); the
secret is 32 random bytes of which only a SHA-256 is kept — a key has as much entropy as a
hash input needs, so a slow hash would add nothing but latency on every API call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.core.clock import utc
from huafei.identity import errors
from huafei.identity.models import Partner, PartnerApiKey
from huafei.identity.permissions import Scope
from huafei.identity.policy import API_KEY_ROTATION_GRACE, API_KEY_TOUCH_EVERY
from huafei.identity.service import oplog
from huafei.identity.service.oplog import Actor, ActorKind, Origin

KEY_PREFIX = "hfk"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new partner API key: its stored record and the full key."""

    record: PartnerApiKey
    key: str
    """The full key, shown once."""


def partner_actor(partner: Partner, key: PartnerApiKey, origin: Origin) -> Actor:
    """The partner using one of its keys, as the operation log records it."""
    return Actor(ActorKind.PARTNER, f"{partner.name[:60]} ({key.key_id})", partner.id, origin)


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(scopes: list[str]) -> str:
    """The scopes as stored (sorted, space-separated); ``UnknownScope`` for none or unknown."""
    known = {s.value for s in Scope}
    unknown = sorted(set(scopes) - known)
    if unknown or not scopes:
        raise errors.UnknownScope(
            f"Scopes must be one or more of {', '.join(sorted(known))}.", unknown=unknown
        )
    return " ".join(sorted(set(scopes)))


def get_partner(session: Session, partner_id: int) -> Partner:
    """A partner by id; ``PartnerNotFound`` when there is none."""
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise errors.PartnerNotFound
    return partner


def list_partners(session: Session) -> list[tuple[Partner, list[PartnerApiKey]]]:
    """Every partner with its keys, oldest first."""
    partners = list(session.scalars(select(Partner).order_by(Partner.id)))
    keys = list(session.scalars(select(PartnerApiKey).order_by(PartnerApiKey.id)))
    return [(p, [k for k in keys if k.partner_id == p.id]) for p in partners]


def create_partner(session: Session, *, name: str, actor: Actor, now: datetime) -> Partner:
    """A new active partner with a unique name (2 to 120 characters); logged."""
    clean = " ".join((name or "").split())
    if not 2 <= len(clean) <= 120:
        raise errors.InvalidPartnerName
    if session.scalars(select(Partner.id).where(Partner.name == clean)).first() is not None:
        raise errors.PartnerNameTaken
    partner = Partner(name=clean, active=True, created_at=now)
    session.add(partner)
    session.flush()
    oplog.record(session, actor, "partner.created", now=now, target=f"partner:{partner.id}")
    return partner


def _new_key(partner_id: int, scopes: str, now: datetime) -> IssuedKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    record = PartnerApiKey(
        partner_id=partner_id,
        key_id=key_id,
        secret_hash=_secret_hash(secret),
        scopes=scopes,
        created_at=now,
    )
    return IssuedKey(record=record, key=f"{KEY_PREFIX}_{key_id}_{secret}")


def issue_api_key(
    session: Session, *, partner_id: int, scopes: list[str], actor: Actor, now: datetime
) -> IssuedKey:
    """A new key for the partner with the given scopes; the full key is in the answer only."""
    partner = get_partner(session, partner_id)
    issued = _new_key(partner.id, parse_scopes(scopes), now)
    session.add(issued.record)
    session.flush()
    oplog.record(
        session,
        actor,
        "partner.api_key.issued",
        now=now,
        target=f"partner:{partner.id}",
        detail={"key_id": issued.record.key_id, "scopes": issued.record.scopes},
    )
    return issued


def _key_of(session: Session, partner_id: int, key_id: str) -> PartnerApiKey:
    key = session.scalars(
        select(PartnerApiKey).where(
            PartnerApiKey.partner_id == partner_id, PartnerApiKey.key_id == key_id
        )
    ).one_or_none()
    if key is None:
        raise errors.ApiKeyNotFound
    return key


def rotate_api_key(
    session: Session, *, partner_id: int, key_id: str, actor: Actor, now: datetime
) -> IssuedKey:
    """A new key with the same scopes; the old one keeps working for the grace period."""
    old = _key_of(session, partner_id, key_id)
    if not old.active_at(now):
        raise errors.ApiKeyInactive
    issued = _new_key(partner_id, old.scopes, now)
    session.add(issued.record)
    grace_end = now + API_KEY_ROTATION_GRACE
    if old.expires_at is None or utc(old.expires_at) > grace_end:
        old.expires_at = grace_end
    old.replaced_by = issued.record.key_id
    session.flush()
    oplog.record(
        session,
        actor,
        "partner.api_key.rotated",
        now=now,
        target=f"partner:{partner_id}",
        detail={
            "key_id": old.key_id,
            "new_key_id": issued.record.key_id,
            "old_key_expires_at": utc(old.expires_at).isoformat(),
        },
    )
    return issued


def revoke_api_key(
    session: Session, *, partner_id: int, key_id: str, actor: Actor, now: datetime
) -> PartnerApiKey:
    """Revoke one of the partner's keys (``ApiKeyInactive`` when it was already); logged."""
    key = _key_of(session, partner_id, key_id)
    if key.revoked_at is not None:
        raise errors.ApiKeyInactive
    key.revoked_at = now
    session.flush()
    oplog.record(
        session,
        actor,
        "partner.api_key.revoked",
        now=now,
        target=f"partner:{partner_id}",
        detail={"key_id": key.key_id},
    )
    return key


def split_key(presented: str) -> tuple[str, str] | None:
    """A presented key's id and secret, or None when it is not shaped like one of ours."""
    prefix, _, rest = presented.strip().partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id or not secret or len(key_id) > 24:
        return None
    return key_id, secret


def authenticate_api_key(
    session: Session, *, presented: str, now: datetime
) -> tuple[Partner, PartnerApiKey] | None:
    """The partner and key of a presented key if it is valid now, else ``None``."""
    parts = split_key(presented)
    if parts is None:
        return None
    key_id, secret = parts
    key = session.scalars(select(PartnerApiKey).where(PartnerApiKey.key_id == key_id)).one_or_none()
    if key is None or not hmac.compare_digest(key.secret_hash, _secret_hash(secret)):
        return None
    partner = session.get(Partner, key.partner_id)
    if partner is None or not partner.active or not key.active_at(now):
        return None
    if key.last_used_at is None or now - utc(key.last_used_at) >= API_KEY_TOUCH_EVERY:
        key.last_used_at = now
        session.flush()
    return partner, key
