"""web chat assistant: per-inbox assistant_first, the conversation's assistant state,
the assistant's turns

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # autogenerate writes Text() for JSONB
from sqlalchemy.dialects import postgresql

import ledgerdesk.db.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
UTCDateTime = ledgerdesk.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    # Inboxes that exist before the upgrade keep working as they did (no assistant);
    # new ones get it from the model's default (docs/webchat.md).
    with op.batch_alter_table("inboxes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("assistant_first", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assistant_state", sa.String(length=20), nullable=True))
    op.create_table(
        "assistant_turns",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("conversation_id", BigIntId, nullable=False),
        sa.Column("question_message_id", BigIntId, nullable=False),
        sa.Column("answer_message_id", BigIntId, nullable=True),
        sa.Column("sources", JSONType, nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("handoff", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("locale", sa.String(length=20), nullable=False),
        sa.Column("feedback", sa.String(length=20), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_message_id"],
            ["messages.id"],
            name=op.f("fk_assistant_turns_answer_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_assistant_turns_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_message_id"],
            ["messages.id"],
            name=op.f("fk_assistant_turns_question_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_turns")),
        sa.UniqueConstraint(
            "question_message_id", name=op.f("uq_assistant_turns_question_message_id")
        ),
    )
    with op.batch_alter_table("assistant_turns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assistant_turns_conversation_id"), ["conversation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("assistant_turns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assistant_turns_conversation_id"))
    op.drop_table("assistant_turns")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("assistant_state")
    with op.batch_alter_table("inboxes", schema=None) as batch_op:
        batch_op.drop_column("assistant_first")
