"""A sorted copy of each conversation's tags on the conversation row

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("tags", JSON_TYPE, nullable=False, server_default="[]"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE conversations AS c SET tags = sub.tags FROM ("
            " SELECT conversation_id, jsonb_agg(tag ORDER BY tag) AS tags"
            " FROM conversation_tags GROUP BY conversation_id) AS sub"
            " WHERE sub.conversation_id = c.id"
        )
    else:
        op.execute(
            "UPDATE conversations SET tags = (SELECT json_group_array(tag) FROM ("
            " SELECT tag FROM conversation_tags AS t"
            " WHERE t.conversation_id = conversations.id ORDER BY tag))"
            " WHERE id IN (SELECT conversation_id FROM conversation_tags)"
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("tags")
