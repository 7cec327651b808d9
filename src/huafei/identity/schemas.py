"""Request and response shapes of the identity API. Personal data only ever leaves masked."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field

from huafei.core.crypto import Keyring
from huafei.core.types import SecretText, Text
from huafei.identity.limits import FlowStatus
from huafei.identity.models import (
    AuthSession,
    OperationLogEntry,
    Partner,
    PartnerApiKey,
    Seller,
    Staff,
)
from huafei.identity.permissions import permissions_of
from huafei.identity.service.sessions import idle_expires_at
from huafei.identity.validation import mask_id_number, mask_phone, mask_real_name

SessionKindField = Literal["cookie", "bearer"]
View = TypeVar("View", bound=BaseModel)


def _read(source: object, view: type[View], **given: Any) -> View:
    """``view`` with its fields read from ``source``'s attributes of the same names, but for
    those ``given``."""
    read = {name: getattr(source, name) for name in view.model_fields if name not in given}
    return view.model_validate(read | given)


# -- requests ------------------------------------------------------------------------------------
class SmsCodeRequest(BaseModel):
    phone: Text = Field(max_length=32, examples=["13800138000"])


class SmsSignIn(BaseModel):
    phone: Text = Field(max_length=32)
    code: SecretText = Field(max_length=12)
    session: SessionKindField = Field(
        default="bearer", description="`cookie` for a browser, `bearer` for an API client"
    )


class PasswordSignIn(BaseModel):
    phone: Text = Field(max_length=32)
    password: SecretText = Field(max_length=256)
    session: SessionKindField = "bearer"


class SetPassword(BaseModel):
    new_password: SecretText = Field(max_length=256)
    current_password: SecretText | None = Field(
        default=None, max_length=256, description="needed when a password is already set"
    )


class RealNameVerification(BaseModel):
    real_name: Text = Field(max_length=64)
    id_number: Text = Field(max_length=32)
    selfie_token: SecretText = Field(
        max_length=256, description="from the liveness SDK (sandbox: POST /sandbox/liveness)"
    )


class ServicePasswordVerification(BaseModel):
    service_password: SecretText = Field(max_length=32)


class StaffSignIn(BaseModel):
    username: Text = Field(max_length=64)
    password: SecretText = Field(max_length=256)
    totp_code: SecretText = Field(max_length=12)
    session: SessionKindField = "cookie"


class StaffPasswordChange(BaseModel):
    current_password: SecretText = Field(max_length=256)
    new_password: SecretText = Field(max_length=256)


class StaffCreate(BaseModel):
    username: Text = Field(max_length=64)
    role: Text = Field(max_length=16)


class StaffUpdate(BaseModel):
    role: Text | None = Field(default=None, max_length=16)
    active: bool | None = None


class PartnerCreate(BaseModel):
    name: Text = Field(max_length=120)


class ApiKeyCreate(BaseModel):
    scopes: list[Annotated[Text, Field(max_length=32)]] = Field(max_length=10)


class SandboxLiveness(BaseModel):
    outcome: Literal["pass", "fail", "name_mismatch", "unavailable"] = "pass"


# -- responses -----------------------------------------------------------------------------------
class SellerView(BaseModel):
    id: int
    phone_masked: str
    carrier: str
    tier: int
    real_name_masked: str | None
    id_number_masked: str | None
    has_password: bool
    l2_verified_at: datetime | None
    l3_verified_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, seller: Seller, keyring: Keyring) -> SellerView:
        name = seller.real_name(keyring)
        number = seller.id_number(keyring)
        return cls(
            id=seller.id,
            phone_masked=mask_phone(seller.phone),
            carrier=seller.carrier,
            tier=seller.tier,
            real_name_masked=mask_real_name(name) if name else None,
            id_number_masked=mask_id_number(number) if number else None,
            has_password=seller.password_hash is not None,
            l2_verified_at=seller.l2_verified_at,
            l3_verified_at=seller.l3_verified_at,
            created_at=seller.created_at,
        )


class SessionView(BaseModel):
    id: int
    kind: str
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool

    @classmethod
    def of(cls, record: AuthSession, *, current_id: int | None) -> SessionView:
        return _read(
            record, cls, idle_expires_at=idle_expires_at(record), current=record.id == current_id
        )


class SellerSignedIn(BaseModel):
    seller: SellerView
    session: SessionView
    new_seller: bool
    token: str | None = Field(default=None, description="bearer sessions: send as Bearer token")
    csrf_token: str | None = Field(
        default=None, description="cookie sessions: send as X-CSRF-Token on unsafe methods"
    )


class CodeSent(BaseModel):
    sent: bool = True
    expires_in_seconds: int
    resend_after_seconds: int


class WindowView(BaseModel):
    size_fen: int | None
    used_fen: int
    remaining_fen: int | None


class FlowLimitsView(BaseModel):
    flow: str
    per_order_fen: int | None
    daily: WindowView
    annual: WindowView
    lifetime: WindowView

    @classmethod
    def of(cls, status: FlowStatus) -> FlowLimitsView:
        by = {w.window.value: w for w in status.windows}
        return cls(
            flow=status.flow.value,
            per_order_fen=by["per_order"].size_fen,
            **{
                name: WindowView(
                    size_fen=by[name].size_fen,
                    used_fen=by[name].used_fen,
                    remaining_fen=by[name].remaining_fen,
                )
                for name in ("daily", "annual", "lifetime")
            },
        )


class LimitsView(BaseModel):
    tier: int
    flows: list[FlowLimitsView]


class LimitRowView(BaseModel):
    tier: int
    flow: str
    per_order_fen: int | None
    daily_fen: int | None
    annual_fen: int | None
    lifetime_fen: int | None


class StaffView(BaseModel):
    id: int
    username: str
    role: str
    active: bool
    permissions: list[str]
    created_at: datetime

    @classmethod
    def of(cls, staff: Staff) -> StaffView:
        return _read(staff, cls, permissions=permissions_of(staff.role))


class StaffSignedInView(BaseModel):
    staff: StaffView
    session: SessionView
    token: str | None = None
    csrf_token: str | None = None


class StaffCreated(BaseModel):
    staff: StaffView
    initial_password: str = Field(description="shown once; the staff member changes it")
    totp_secret: str = Field(description="shown once; put it in an authenticator app")
    provisioning_uri: str


class OperationLogView(BaseModel):
    id: int
    occurred_at: datetime
    actor_kind: str
    actor_id: int | None
    actor_label: str
    action: str
    target: str | None
    outcome: str
    ip: str | None
    user_agent: str | None
    request_id: str | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, entry: OperationLogEntry) -> OperationLogView:
        return _read(entry, cls, detail=json.loads(entry.detail))


class ApiKeyView(BaseModel):
    key_id: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    replaced_by: str | None

    @classmethod
    def of(cls, key: PartnerApiKey) -> ApiKeyView:
        return _read(key, cls, scopes=sorted(key.scope_set))


class ApiKeyIssued(BaseModel):
    key: str = Field(description="shown once; store it in a secret manager")
    api_key: ApiKeyView


class PartnerView(BaseModel):
    id: int
    name: str
    active: bool
    created_at: datetime
    keys: list[ApiKeyView]

    @classmethod
    def of(cls, partner: Partner, keys: list[PartnerApiKey]) -> PartnerView:
        return _read(partner, cls, keys=[ApiKeyView.of(k) for k in keys])


class PartnerSelf(BaseModel):
    id: int
    name: str
    key_id: str
    scopes: list[str]


class SelfieToken(BaseModel):
    selfie_token: str
