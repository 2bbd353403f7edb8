"""analytics: partial indexes for the backlog (open by creation; closed by solve time)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "analytics_conversation_facts"


def upgrade() -> None:
    op.create_index(
        "ix_analytics_conversation_facts_open_created",
        TABLE,
        ["created_at"],
        postgresql_where=sa.text("is_open"),
        sqlite_where=sa.text("is_open"),
    )
    op.create_index(
        "ix_analytics_conversation_facts_closed_solved",
        TABLE,
        ["solved_at", "created_at"],
        postgresql_where=sa.text("NOT is_open"),
        sqlite_where=sa.text("NOT is_open"),
    )


def downgrade() -> None:
    op.drop_index("ix_analytics_conversation_facts_closed_solved", table_name=TABLE)
    op.drop_index("ix_analytics_conversation_facts_open_created", table_name=TABLE)
