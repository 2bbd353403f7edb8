"""helpcenter gaps: collected unanswered questions with their vectors, collector watermarks

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ledgerdesk.db.base

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTCDateTime = ledgerdesk.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "helpcenter_gap_questions",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("conversation_id", BigIntId, nullable=True),
        sa.Column("article_id", BigIntId, nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_model", sa.String(length=100), nullable=True),
        sa.Column("draft_article_id", BigIntId, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_helpcenter_gap_questions_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["kb_articles.id"],
            name=op.f("fk_helpcenter_gap_questions_article_id_kb_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["draft_article_id"],
            ["kb_articles.id"],
            name=op.f("fk_helpcenter_gap_questions_draft_article_id_kb_articles"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpcenter_gap_questions")),
        sa.UniqueConstraint(
            "source", "source_id", name=op.f("uq_helpcenter_gap_questions_source_source_id")
        ),
    )
    with op.batch_alter_table("helpcenter_gap_questions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_helpcenter_gap_questions_occurred_at", ["occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_helpcenter_gap_questions_conversation_id"),
            ["conversation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_helpcenter_gap_questions_article_id"), ["article_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_helpcenter_gap_questions_draft_article_id"),
            ["draft_article_id"],
            unique=False,
        )
    op.create_table(
        "helpcenter_gap_watermarks",
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("last_at", UTCDateTime, nullable=True),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_helpcenter_gap_watermarks")),
    )


def downgrade() -> None:
    op.drop_table("helpcenter_gap_watermarks")
    with op.batch_alter_table("helpcenter_gap_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpcenter_gap_questions_draft_article_id"))
        batch_op.drop_index(batch_op.f("ix_helpcenter_gap_questions_article_id"))
        batch_op.drop_index(batch_op.f("ix_helpcenter_gap_questions_conversation_id"))
        batch_op.drop_index("ix_helpcenter_gap_questions_occurred_at")
    op.drop_table("helpcenter_gap_questions")
