"""vouchers: issued vouchers (immutable in the database) and the requests that make them

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import huafei.core.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

IMMUTABLE_MESSAGE = "vouchers are immutable once issued"


def upgrade() -> None:
    op.create_table(
        "vouchers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("check_code", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=24), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("owner_ref", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", huafei.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.UniqueConstraint("number", name=op.f("uq_vouchers_number")),
        sa.UniqueConstraint("subject", "subject_id", name=op.f("uq_vouchers_subject_subject_id")),
    )
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.create_index("ix_vouchers_owner_ref", ["owner_ref"], unique=False)
    op.create_table(
        "voucher_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subject", sa.String(length=24), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("requested_at", huafei.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", huafei.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_requests")),
    )
    with op.batch_alter_table("voucher_requests", schema=None) as batch_op:
        batch_op.create_index("ix_voucher_requests_due", ["due_at"], unique=False)
    _immutable_vouchers()


def _immutable_vouchers() -> None:
    """Refuse UPDATE and DELETE of vouchers in the database itself."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION vouchers_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{IMMUTABLE_MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER vouchers_immutable BEFORE UPDATE OR DELETE ON vouchers "
            "FOR EACH ROW EXECUTE FUNCTION vouchers_immutable()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER vouchers_no_{action.lower()} BEFORE {action} "
                f"ON vouchers BEGIN SELECT RAISE(ABORT, '{IMMUTABLE_MESSAGE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER vouchers_immutable ON vouchers")
        op.execute("DROP FUNCTION vouchers_immutable()")
    else:
        op.execute("DROP TRIGGER vouchers_no_update")
        op.execute("DROP TRIGGER vouchers_no_delete")
    with op.batch_alter_table("voucher_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_voucher_requests_due")
    op.drop_table("voucher_requests")
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_index("ix_vouchers_owner_ref")
    op.drop_table("vouchers")
