"""notices: the SMS copy is due, tried and sent on the notice itself (the workers' SMS queue)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 16:35:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import huafei.core.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sms_due_at", huafei.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sms_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("sms_sent_at", huafei.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_notices_sms_due",
            ["sms_due_at"],
            unique=False,
            sqlite_where=sa.text("sms_due_at IS NOT NULL"),
            postgresql_where=sa.text("sms_due_at IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_notices_sms_due",
            sqlite_where=sa.text("sms_due_at IS NOT NULL"),
            postgresql_where=sa.text("sms_due_at IS NOT NULL"),
        )
        batch_op.drop_column("sms_sent_at")
        batch_op.drop_column("sms_attempts")
        batch_op.drop_column("sms_due_at")
