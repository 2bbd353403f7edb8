"""Knowledge base: articles, versions and votes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # autogenerate writes Text() for JSONB
from sqlalchemy.dialects import postgresql

import ledgerdesk.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
UTCDateTime = ledgerdesk.db.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "kb_categories",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("names", JSONType, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_categories")),
        sa.UniqueConstraint("slug", name=op.f("uq_kb_categories_slug")),
    )
    op.create_table(
        "kb_articles",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=80), nullable=False),
        sa.Column("tags", JSONType, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by_id", BigIntId, nullable=True),
        sa.Column("updated_by_id", BigIntId, nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_model", sa.String(length=100), nullable=True),
        sa.Column("embedded_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["category"], ["kb_categories.slug"], name=op.f("fk_kb_articles_category_kb_categories")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["agents.id"], name=op.f("fk_kb_articles_created_by_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["agents.id"], name=op.f("fk_kb_articles_updated_by_id_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
        sa.UniqueConstraint("slug", "locale", name=op.f("uq_kb_articles_slug_locale")),
    )
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_articles_category"), ["category"], unique=False)
        batch_op.create_index("ix_kb_articles_locale_status", ["locale", "status"], unique=False)

    op.create_table(
        "kb_article_versions",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("article_id", BigIntId, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=80), nullable=False),
        sa.Column("tags", JSONType, nullable=False),
        sa.Column("agent_id", BigIntId, nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_kb_article_versions_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["kb_articles.id"],
            name=op.f("fk_kb_article_versions_article_id_kb_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_article_versions")),
        sa.UniqueConstraint(
            "article_id", "version", name=op.f("uq_kb_article_versions_article_id_version")
        ),
    )
    op.create_table(
        "kb_article_votes",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("article_id", BigIntId, nullable=False),
        sa.Column("visitor_key", sa.String(length=64), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["kb_articles.id"],
            name=op.f("fk_kb_article_votes_article_id_kb_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_article_votes")),
        sa.UniqueConstraint(
            "article_id", "visitor_key", name=op.f("uq_kb_article_votes_article_id_visitor_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("kb_article_votes")
    op.drop_table("kb_article_versions")
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_articles_locale_status")
        batch_op.drop_index(batch_op.f("ix_kb_articles_category"))
    op.drop_table("kb_articles")
    op.drop_table("kb_categories")
