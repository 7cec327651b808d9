"""money destinations: profile destinations as codes; the carrier-wallet payout method and rail;
consumption-credit top-ups

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import huafei.core.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

#: The destination codes before and after (the old ones were labels).
_DESTINATIONS = {"bank_or_ecny": "cash", "points": "consumption_credit"}
_KINDS = "'bank_card','alipay','wechat','ecny'{wallet}"


def _method_kinds(*, with_wallet: bool) -> None:
    kinds = _KINDS.format(wallet=",'carrier_wallet'" if with_wallet else "")
    with op.batch_alter_table("payout_methods", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payout_methods_kind_known"), type_="check")
        batch_op.create_check_constraint("kind_known", sa.text(f"kind IN ({kinds})"))


def _rename_destinations(renames: dict[str, str]) -> None:
    profiles = sa.table("channel_profiles", sa.column("destination", sa.String))
    for old, new in renames.items():
        op.execute(profiles.update().where(profiles.c.destination == old).values(destination=new))


def upgrade() -> None:
    _rename_destinations(_DESTINATIONS)
    with op.batch_alter_table("channel_profiles", schema=None) as batch_op:
        batch_op.create_check_constraint(
            "destination_known",
            sa.text("destination IN ('cash','carrier_wallet','consumption_credit')"),
        )
    _method_kinds(with_wallet=True)
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.alter_column(
            "method_id",
            existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        )
    _create_topups()


def _create_topups() -> None:
    op.create_table(
        "credit_topups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("topup_id", sa.String(length=32), nullable=False),
        sa.Column("owner_ref", sa.String(length=64), nullable=False),
        sa.Column("carrier", sa.String(length=8), nullable=False),
        sa.Column("phone_cipher", sa.Text(), nullable=False),
        sa.Column("phone_masked", sa.String(length=16), nullable=False),
        sa.Column("face_value_fen", sa.BigInteger(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("discount_rate", huafei.core.db.ExactDecimal(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("send_attempts", sa.Integer(), nullable=False),
        sa.Column("channel_ref", sa.String(length=64), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_reason", sa.String(length=255), nullable=True),
        sa.Column("created_at", huafei.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", huafei.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", huafei.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending','succeeded','refused')",
            name=op.f("ck_credit_topups_status_known"),
        ),
        sa.CheckConstraint("face_value_fen > 0", name=op.f("ck_credit_topups_face_value_positive")),
        sa.CheckConstraint(
            "price_fen > 0 AND price_fen <= face_value_fen",
            name=op.f("ck_credit_topups_price_within_face"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_topups")),
        sa.UniqueConstraint(
            "owner_ref", "idempotency_key", name=op.f("uq_credit_topups_owner_ref_idempotency_key")
        ),
        sa.UniqueConstraint("topup_id", name=op.f("uq_credit_topups_topup_id")),
    )
    with op.batch_alter_table("credit_topups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_topups_owner_time", ["owner_ref", "created_at"], unique=False
        )
        batch_op.create_index("ix_credit_topups_status", ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("credit_topups")
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.alter_column(
            "method_id",
            existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        )
    _method_kinds(with_wallet=False)
    with op.batch_alter_table("channel_profiles", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_channel_profiles_destination_known"), type_="check")
    _rename_destinations({new: old for old, new in _DESTINATIONS.items()})
