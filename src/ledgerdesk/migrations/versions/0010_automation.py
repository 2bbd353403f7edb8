"""Routing, automation rules, macros and webhooks

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # autogenerate writes Text() for JSONB
from sqlalchemy.dialects import postgresql

import ledgerdesk.db.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
UTCDateTime = ledgerdesk.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "macros",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("bodies", JSONType, nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_macros")),
        sa.UniqueConstraint("name", name=op.f("uq_macros_name")),
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("event_kinds", JSONType, nullable=False),
        sa.Column("secret_encrypted", sa.String(length=500), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
        sa.UniqueConstraint("name", name=op.f("uq_webhook_subscriptions_name")),
    )
    op.create_table(
        "agent_routing",
        sa.Column("agent_id", BigIntId, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("languages", JSONType, nullable=False),
        sa.Column("categories", JSONType, nullable=False),
        sa.Column("tiers", JSONType, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_routing_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_routing")),
    )
    op.create_table(
        "automation_rules",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("spec", JSONType, nullable=False),
        sa.Column("created_by_id", BigIntId, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["agents.id"],
            name=op.f("fk_automation_rules_created_by_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_automation_rules_name")),
    )
    op.create_index(
        op.f("ix_automation_rules_trigger"), "automation_rules", ["trigger"], unique=False
    )
    op.create_table(
        "team_routing",
        sa.Column("team_id", BigIntId, nullable=False),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.Column("use_skills", sa.Boolean(), nullable=False),
        sa.Column("offline_handoff", sa.String(length=20), nullable=False),
        sa.Column("last_agent_id", BigIntId, nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["last_agent_id"],
            ["agents.id"],
            name=op.f("fk_team_routing_last_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_team_routing_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_team_routing")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("subscription_id", BigIntId, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_kind", sa.String(length=60), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_attempt_at", UTCDateTime, nullable=True),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("event_id", name=op.f("uq_webhook_deliveries_event_id")),
    )
    op.create_index(
        "ix_webhook_deliveries_subscription_id_id",
        "webhook_deliveries",
        ["subscription_id", "id"],
        unique=False,
    )
    op.create_table(
        "automation_rule_firings",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("rule_id", BigIntId, nullable=False),
        sa.Column("conversation_id", BigIntId, nullable=False),
        sa.Column("event_key", sa.String(length=100), nullable=False),
        sa.Column("actions", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_automation_rule_firings_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["automation_rules.id"],
            name=op.f("fk_automation_rule_firings_rule_id_automation_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_rule_firings")),
        sa.UniqueConstraint(
            "rule_id",
            "conversation_id",
            "event_key",
            name=op.f("uq_automation_rule_firings_rule_id_conversation_id_event_key"),
        ),
    )
    op.create_index(
        "ix_automation_rule_firings_conversation_id_id",
        "automation_rule_firings",
        ["conversation_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_automation_rule_firings_conversation_id_id", table_name="automation_rule_firings"
    )
    op.drop_table("automation_rule_firings")
    op.drop_index("ix_webhook_deliveries_subscription_id_id", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("team_routing")
    op.drop_index(op.f("ix_automation_rules_trigger"), table_name="automation_rules")
    op.drop_table("automation_rules")
    op.drop_table("agent_routing")
    op.drop_table("webhook_subscriptions")
    op.drop_table("macros")
