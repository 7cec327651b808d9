"""Identity tables: sellers, staff, partners and their keys, sessions, codes, limits, the log.

Personal data (real names, ID numbers, carrier service passwords, TOTP secrets) is stored as
``Keyring`` ciphertext, ``<key id>:<base64>``: the key id at the front is what
``huafei keys rotate`` reads to find values still under an old key.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from huafei.core.crypto import Keyring
from huafei.core.db import Base, BigIntPK, UTCDateTime

#: ``Keyring`` contexts (bound as AES-GCM associated data): a ciphertext of one kind cannot be
#: passed off as another.
REAL_NAME_CONTEXT = "real-name"
ID_NUMBER_CONTEXT = "id-number"
SERVICE_PASSWORD_CONTEXT = "service-password"  # noqa: S105 - a label, not a password
TOTP_SECRET_CONTEXT = "totp-secret"  # noqa: S105 - a label, not a secret


class Tier(enum.IntEnum):
    """KYC levels; each carries limits (docs/identity.md)."""

    L1 = 1
    """Phone number proven by an SMS code."""
    L2 = 2
    """Real name and mainland ID number verified, with a liveness check."""
    L3 = 3
    """The carrier service password of the seller's own number proven as well."""


class Seller(Base):
    __tablename__ = "sellers"
    __table_args__ = (
        CheckConstraint("tier BETWEEN 1 AND 3", name="tier_known"),
        CheckConstraint("carrier IN ('cmcc','cucc','ctcc')", name="carrier_known"),
        CheckConstraint(
            "tier = 1 OR (real_name_enc IS NOT NULL AND id_number_enc IS NOT NULL "
            "AND id_number_hash IS NOT NULL)",
            name="verified_identity_present",
        ),
        CheckConstraint("tier < 3 OR service_password_enc IS NOT NULL", name="l3_proven"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    #: 11-digit national form, e.g. ``13800138000``
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    #: from the number's segment (号段); ``huafei.carriers.gateway.Carrier`` values
    carrier: Mapped[str] = mapped_column(String(8))
    tier: Mapped[int] = mapped_column(Integer, default=Tier.L1.value)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    real_name_enc: Mapped[str | None] = mapped_column(Text, default=None)
    id_number_enc: Mapped[str | None] = mapped_column(Text, default=None)
    #: keyed hash of the ID number: one verified account per person, lookups without decrypting
    id_number_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    service_password_enc: Mapped[str | None] = mapped_column(Text, default=None)
    #: the identity provider's reference for the L2 check
    verification_ref: Mapped[str | None] = mapped_column(String(80), default=None)
    l2_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    l3_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def ledger_owner_ref(self) -> str:
        """The owner of this seller's wallet accounts in the ledger."""
        return f"seller:{self.id}"

    def real_name(self, keyring: Keyring) -> str | None:
        if self.real_name_enc is None:
            return None
        return keyring.decrypt(self.real_name_enc, context=REAL_NAME_CONTEXT)

    def id_number(self, keyring: Keyring) -> str | None:
        if self.id_number_enc is None:
            return None
        return keyring.decrypt(self.id_number_enc, context=ID_NUMBER_CONTEXT)


class SmsCodeStatus(enum.StrEnum):
    LIVE = "live"
    USED = "used"
    SUPERSEDED = "superseded"
    """A newer code was sent to the number."""
    EXHAUSTED = "exhausted"
    """Too many wrong tries."""


class SmsCode(Base):
    """A one-time code (sign-in, or confirming an action); only its keyed hash is stored."""

    __tablename__ = "sms_codes"
    __table_args__ = (
        CheckConstraint("status IN ('live','used','superseded','exhausted')", name="status_known"),
        Index("ix_sms_codes_phone_created", "phone", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(11))
    #: what the code confirms: ``sign_in``, or an action such as ``payout_method.add``
    purpose: Mapped[str] = mapped_column(String(32), default="sign_in", server_default="sign_in")
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=SmsCodeStatus.LIVE.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class StaffRole(enum.StrEnum):
    SUPPORT = "support"
    """客服: looks orders up, answers disputes."""
    RISK = "risk"
    """风控: review queue, lists and rules."""
    FINANCE = "finance"
    """财务: payouts, reconciliation."""
    COMPLIANCE = "compliance"
    """Compliance / auditor: reads the operation log and AML reports; read-only."""
    ADMIN = "admin"
    """Rates, channels, agreements, staff accounts, partners."""


class Staff(Base):
    __tablename__ = "staff"
    __table_args__ = (
        CheckConstraint(
            "role IN ('support','risk','finance','compliance','admin')", name="role_known"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret_enc: Mapped[str] = mapped_column(Text)
    #: the last TOTP time step accepted: a code is good once (no replay within its window)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuthSession(Base):
    """A signed-in browser (cookie) or API client (bearer token) of a seller or staff member."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        CheckConstraint("(seller_id IS NULL) <> (staff_id IS NULL)", name="one_principal"),
        CheckConstraint("kind IN ('cookie','bearer')", name="kind_known"),
        Index("ix_auth_sessions_seller", "seller_id"),
        Index("ix_auth_sessions_staff", "staff_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    #: SHA-256 of the token; the token itself is only ever in the client's hands
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    seller_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("sellers.id"), default=None)
    staff_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("staff.id"), default=None)
    kind: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    idle_timeout_seconds: Mapped[int] = mapped_column(Integer)
    #: the absolute end, however active the session is
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(200), default=None)


class AuthThrottle(Base):
    """Consecutive failures of one action for one identifier, and the lock they caused.

    Keyed by a keyed hash of (action, identifier), so unknown usernames and numbers lock exactly
    like known ones and the table holds no personal data.
    """

    __tablename__ = "auth_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(32))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Partner(Base):
    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def ledger_owner_ref(self) -> str:
        return f"partner:{self.id}"


class PartnerApiKey(Base):
    """A partner's key: ``hfk_<key_id>_<secret>``; only a SHA-256 of the secret is kept."""

    __tablename__ = "partner_api_keys"
    __table_args__ = (Index("ix_partner_api_keys_partner", "partner_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("partners.id"))
    #: the public half, shown in listings and logs
    key_id: Mapped[str] = mapped_column(String(24), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: space-separated scopes
    scopes: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: set on rotation: the old key keeps working for a grace period
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    replaced_by: Mapped[str | None] = mapped_column(String(24), default=None)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    def active_at(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


class OperationLogEntry(Base):
    """Who did what, when, from where: every staff action and every auth event.

    Append-only: database triggers refuse UPDATE and DELETE. ``detail`` is JSON without
    personal data (masked values at most).
    """

    __tablename__ = "operation_log"
    __table_args__ = (
        CheckConstraint(
            "actor_kind IN ('anonymous','seller','staff','partner','system')",
            name="actor_kind_known",
        ),
        Index("ix_operation_log_actor", "actor_kind", "actor_id"),
        Index("ix_operation_log_occurred", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: a username, a masked phone number, a key id: readable, never personal data in full
    actor_label: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(120), default=None)
    outcome: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(200), default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    detail: Mapped[str] = mapped_column(Text, default="{}")


class KycLimit(Base):
    """The limits of one tier for one money flow, in fen; NULL means no limit of that kind."""

    __tablename__ = "kyc_limits"
    __table_args__ = (
        CheckConstraint("tier BETWEEN 1 AND 3", name="tier_known"),
        CheckConstraint(
            "(per_order_fen IS NULL OR per_order_fen >= 0)"
            " AND (daily_fen IS NULL OR daily_fen >= 0)"
            " AND (annual_fen IS NULL OR annual_fen >= 0)"
            " AND (lifetime_fen IS NULL OR lifetime_fen >= 0)",
            name="sizes_not_negative",
        ),
    )

    tier: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow: Mapped[str] = mapped_column(String(32), primary_key=True)
    per_order_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    daily_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    annual_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    lifetime_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)


class KycLimitUsage(Base):
    """One order's or withdrawal's use of a seller's limits; released when it fails."""

    __tablename__ = "kyc_limit_usage"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_kyc_limit_usage_seller_flow", "seller_id", "flow", "used_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    seller_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("sellers.id"))
    flow: Mapped[str] = mapped_column(String(32))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    #: the caller's idempotency reference (``order:123``, ``withdrawal:45``)
    ref: Mapped[str] = mapped_column(String(120), unique=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
