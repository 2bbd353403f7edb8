"""SLA: business calendars, policies and conversation clocks

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # autogenerate writes Text() for JSONB
from sqlalchemy.dialects import postgresql

import ledgerdesk.db.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
UTCDateTime = ledgerdesk.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sla_calendars",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("week", JSONType, nullable=False),
        sa.Column("holidays", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_calendars")),
        sa.UniqueConstraint("name", name=op.f("uq_sla_calendars_name")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("conditions", JSONType, nullable=False),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("next_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("calendar_id", BigIntId, nullable=True),
        sa.Column("warn_share", sa.Float(), nullable=False),
        sa.Column("escalations", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["sla_calendars.id"],
            name=op.f("fk_sla_policies_calendar_id_sla_calendars"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_sla_policies_name")),
    )
    op.create_table(
        "conversation_sla",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("conversation_id", BigIntId, nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("policy_id", BigIntId, nullable=False),
        sa.Column("target_seconds", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("warn_at", UTCDateTime, nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("next_check_at", UTCDateTime, nullable=True),
        sa.Column("paused_at", UTCDateTime, nullable=True),
        sa.Column("paused_us", sa.BigInteger(), nullable=False),
        sa.Column("warned_at", UTCDateTime, nullable=True),
        sa.Column("breached_at", UTCDateTime, nullable=True),
        sa.Column("stopped_at", UTCDateTime, nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_sla_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["sla_policies.id"],
            name=op.f("fk_conversation_sla_policy_id_sla_policies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_sla")),
    )
    with op.batch_alter_table("conversation_sla", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversation_sla_conversation_id_metric",
            ["conversation_id", "metric"],
            unique=False,
        )
        # Only clocks the sweep must look at are in this index: it stays small.
        batch_op.create_index(
            "ix_conversation_sla_next_check_at",
            ["next_check_at"],
            unique=False,
            postgresql_where=sa.text("next_check_at IS NOT NULL"),
            sqlite_where=sa.text("next_check_at IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("conversation_sla", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_sla_next_check_at")
        batch_op.drop_index("ix_conversation_sla_conversation_id_metric")
    op.drop_table("conversation_sla")
    op.drop_table("sla_policies")
    op.drop_table("sla_calendars")
