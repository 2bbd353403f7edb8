"""web chat: inbox settings, widget tokens, attachments, agent presence

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 04:36:29.621480
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # autogenerate writes Text() for JSONB
from sqlalchemy.dialects import postgresql

import ledgerdesk.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "agent_presence",
        sa.Column("agent_id", BigIntId, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("last_seen_at", ledgerdesk.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_presence_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_presence")),
    )
    op.create_table(
        "webchat_attachments",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("customer_id", BigIntId, nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", ledgerdesk.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_webchat_attachments_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_attachments")),
        sa.UniqueConstraint(
            "sha256", "customer_id", name=op.f("uq_webchat_attachments_sha256_customer_id")
        ),
    )
    with op.batch_alter_table("webchat_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webchat_attachments_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "webchat_tokens",
        sa.Column("token_id", BigIntId, nullable=False),
        sa.Column("inbox_id", BigIntId, nullable=False),
        sa.Column("verified_user", sa.Boolean(), nullable=False),
        sa.Column("created_at", ledgerdesk.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_id"],
            ["inboxes.id"],
            name=op.f("fk_webchat_tokens_inbox_id_inboxes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_webchat_tokens_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_webchat_tokens")),
    )
    with op.batch_alter_table("webchat_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webchat_tokens_inbox_id"), ["inbox_id"], unique=False)

    # Existing inboxes get empty lists and maps; the server defaults exist only to fill
    # them and are dropped again (the models set the values, as everywhere else).
    with op.batch_alter_table("inboxes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("widget_key", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("allowed_origins", JSONType, nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("identity_secret_encrypted", sa.String(length=300), nullable=True)
        )
        batch_op.add_column(
            sa.Column("greetings", JSONType, nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.create_unique_constraint(batch_op.f("uq_inboxes_widget_key"), ["widget_key"])
    with op.batch_alter_table("inboxes", schema=None) as batch_op:
        batch_op.alter_column("allowed_origins", server_default=None)
        batch_op.alter_column("greetings", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("inboxes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_inboxes_widget_key"), type_="unique")
        batch_op.drop_column("greetings")
        batch_op.drop_column("identity_secret_encrypted")
        batch_op.drop_column("allowed_origins")
        batch_op.drop_column("widget_key")

    with op.batch_alter_table("webchat_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webchat_tokens_inbox_id"))
    op.drop_table("webchat_tokens")

    with op.batch_alter_table("webchat_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webchat_attachments_customer_id"))
    op.drop_table("webchat_attachments")

    op.drop_table("agent_presence")
