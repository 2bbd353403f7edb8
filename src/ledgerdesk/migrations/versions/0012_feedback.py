"""feedback: satisfaction surveys (one per conversation)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ledgerdesk.db.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTCDateTime = ledgerdesk.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("conversation_id", BigIntId, nullable=False),
        sa.Column("customer_id", BigIntId, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("nonce", sa.String(length=40), nullable=False),
        sa.Column("scheduled_for", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=True),
        sa.Column("answered_at", UTCDateTime, nullable=True),
        sa.Column("changeable_until", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(
            "rating IS NULL OR (rating >= 1 AND rating <= 5)",
            name=op.f("ck_surveys_rating_range"),
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_surveys_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_surveys_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_surveys_conversation_id")),
    )
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_surveys_answered_at"), ["answered_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_surveys_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_surveys_customer_id"))
        batch_op.drop_index(batch_op.f("ix_surveys_answered_at"))
    op.drop_table("surveys")
