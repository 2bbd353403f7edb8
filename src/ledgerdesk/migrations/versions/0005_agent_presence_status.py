"""The presence an agent chose in the console: online, away or offline

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The server default only fills existing agents and is dropped again; the model
    # sets the value, as everywhere else.
    with op.batch_alter_table("agents") as batch:
        batch.add_column(
            sa.Column(
                "presence_status", sa.String(length=10), nullable=False, server_default="online"
            )
        )
    with op.batch_alter_table("agents") as batch:
        batch.alter_column("presence_status", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("presence_status")
