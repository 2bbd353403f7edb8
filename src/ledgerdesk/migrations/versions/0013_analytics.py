"""analytics: per-conversation facts, per-agent facts, rollups, the refresh watermark

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ledgerdesk.db.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTCDateTime = ledgerdesk.db.base.UTCDateTime(timezone=True)


def _sums() -> list[sa.Column[object]]:
    floats = ("first_response_s", "first_response_bh_s", "next_response_s")
    columns: list[sa.Column[object]] = []
    for name, kind in (
        ("conversations", "i"),
        ("first_response_n", "i"),
        *((f, "f") for f in floats),
        ("next_response_bh_s", "f"),
        ("next_response_n", "i"),
        ("resolved_n", "i"),
        ("resolution_s", "f"),
        ("resolution_bh_s", "f"),
        ("solved_ever_n", "i"),
        ("reopened_n", "i"),
        ("sla_met", "i"),
        ("sla_total", "i"),
        ("csat_n", "i"),
        ("csat_good", "i"),
        ("assistant_n", "i"),
        ("assistant_resolved_n", "i"),
        ("handoff_n", "i"),
        ("replies", "i"),
        ("time_spent_s", "f"),
    ):
        columns.append(sa.Column(name, sa.Integer() if kind == "i" else sa.Float(), nullable=False))
    return columns


def upgrade() -> None:
    op.create_table(
        "analytics_conversation_facts",
        sa.Column("conversation_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_hour", UTCDateTime, nullable=False),
        sa.Column("created_day", UTCDateTime, nullable=False),
        sa.Column("hour_of_day", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("inbox_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("solved_at", UTCDateTime, nullable=True),
        sa.Column("first_response_s", sa.Float(), nullable=True),
        sa.Column("first_response_bh_s", sa.Float(), nullable=True),
        sa.Column("next_response_n", sa.Integer(), nullable=False),
        sa.Column("next_response_s", sa.Float(), nullable=False),
        sa.Column("next_response_bh_s", sa.Float(), nullable=False),
        sa.Column("resolution_s", sa.Float(), nullable=True),
        sa.Column("resolution_bh_s", sa.Float(), nullable=True),
        sa.Column("solved_ever", sa.Boolean(), nullable=False),
        sa.Column("reopens", sa.Integer(), nullable=False),
        sa.Column("sla_met", sa.Integer(), nullable=False),
        sa.Column("sla_missed", sa.Integer(), nullable=False),
        sa.Column("csat_rating", sa.Integer(), nullable=True),
        sa.Column("assistant_involved", sa.Boolean(), nullable=False),
        sa.Column("assistant_resolved", sa.Boolean(), nullable=False),
        sa.Column("handoff_reason", sa.String(length=60), nullable=True),
        sa.Column("agent_replies", sa.Integer(), nullable=False),
        sa.Column("recheck_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_analytics_conversation_facts")),
    )
    for column in ("created_at", "created_day", "is_open", "solved_at", "recheck_at"):
        op.create_index(
            op.f(f"ix_analytics_conversation_facts_{column}"),
            "analytics_conversation_facts",
            [column],
            unique=False,
        )
    op.create_table(
        "analytics_agent_facts",
        sa.Column("conversation_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("agent_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_day", UTCDateTime, nullable=False),
        sa.Column("handled", sa.Boolean(), nullable=False),
        sa.Column("is_assignee", sa.Boolean(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("first_response_s", sa.Float(), nullable=True),
        sa.Column("first_response_bh_s", sa.Float(), nullable=True),
        sa.Column("response_n", sa.Integer(), nullable=False),
        sa.Column("response_s", sa.Float(), nullable=False),
        sa.Column("response_bh_s", sa.Float(), nullable=False),
        sa.Column("time_spent_s", sa.Float(), nullable=False),
        sa.Column("csat_rating", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint(
            "conversation_id", "agent_id", name=op.f("pk_analytics_agent_facts")
        ),
    )
    op.create_index(
        op.f("ix_analytics_agent_facts_created_day"),
        "analytics_agent_facts",
        ["created_day"],
        unique=False,
    )
    op.create_table(
        "analytics_rollups",
        sa.Column("dim", sa.String(length=20), nullable=False),
        sa.Column("bucket", UTCDateTime, nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint("dim", "bucket", "key", name=op.f("pk_analytics_rollups")),
    )
    op.create_table(
        "analytics_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("conversations_seen", UTCDateTime, nullable=True),
        sa.Column("breaches_seen", UTCDateTime, nullable=True),
        sa.Column("refreshed_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_analytics_state")),
    )
    # On other domains' tables: how the refresh finds what changed since its watermark.
    op.create_index(
        op.f("ix_conversations_updated_at_id"),
        "conversations",
        ["updated_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_conversation_sla_breached_at"),
        "conversation_sla",
        ["breached_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_conversation_sla_breached_at"), table_name="conversation_sla")
    op.drop_index(op.f("ix_conversations_updated_at_id"), table_name="conversations")
    op.drop_table("analytics_state")
    op.drop_table("analytics_rollups")
    op.drop_index(op.f("ix_analytics_agent_facts_created_day"), table_name="analytics_agent_facts")
    op.drop_table("analytics_agent_facts")
    for column in ("recheck_at", "solved_at", "is_open", "created_day", "created_at"):
        op.drop_index(
            op.f(f"ix_analytics_conversation_facts_{column}"),
            table_name="analytics_conversation_facts",
        )
    op.drop_table("analytics_conversation_facts")
