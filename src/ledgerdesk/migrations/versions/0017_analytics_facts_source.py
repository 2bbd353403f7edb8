"""analytics: the conversation updated_at each facts row was computed from

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ledgerdesk.db.base

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "analytics_conversation_facts"
UTCDateTime = ledgerdesk.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    # Nullable: rows computed before it count as out of date once, at the next refresh
    # that sees their conversation change.
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("source_updated_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("source_updated_at")
