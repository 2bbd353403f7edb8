"""customers merged before 0016: their surveys, uploads and stream rows follow them

Until this revision a merge moved identities, conversations, messages, events and
tokens but left surveys, web chat uploads and real-time stream rows with the
absorbed customer, and a customer merged into one that was merged later pointed at
the middle of the chain. This data migration finishes those merges: every merged
customer points at the end of its chain, and every row that names a merged
customer names that survivor (an upload the survivor already has is kept once).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MERGED = "SELECT id FROM customers WHERE merged_into_id IS NOT NULL"
# (table, column) that name a customer and follow a merge (customers/actions.py).
MOVED = [
    ("customer_identities", "customer_id"),
    ("conversations", "customer_id"),
    ("messages", "customer_id"),
    ("conversation_events", "actor_customer_id"),
    ("api_tokens", "customer_id"),
    ("surveys", "customer_id"),
    ("webchat_attachments", "customer_id"),
    ("stream_events", "customer_id"),
]


def upgrade() -> None:
    bind = op.get_bind()
    # Chains (A into B, then B into C): A points at C. A merge refuses customers that
    # are merged already, so chains are finite; 100 rounds is far more than needed.
    for _ in range(100):
        moved = bind.execute(
            sa.text(
                "UPDATE customers SET merged_into_id = (SELECT c.merged_into_id FROM customers c"  # noqa: S608 (our own names)
                " WHERE c.id = customers.merged_into_id)"
                f" WHERE merged_into_id IN ({MERGED})"
            )
        ).rowcount
        if not moved:
            break
    # One upload row per (file, customer): drop an absorbed customer's row when the
    # survivor has the file, or when another customer merged into the same survivor
    # has it with a smaller id.
    bind.execute(
        sa.text(
            "DELETE FROM webchat_attachments WHERE EXISTS ("
            " SELECT 1 FROM customers c, webchat_attachments w"
            " WHERE c.id = webchat_attachments.customer_id AND c.merged_into_id IS NOT NULL"
            " AND w.sha256 = webchat_attachments.sha256"
            " AND (w.customer_id = c.merged_into_id OR (w.id < webchat_attachments.id"
            "  AND w.customer_id IN (SELECT c2.id FROM customers c2"
            "   WHERE c2.merged_into_id = c.merged_into_id))))"
        )
    )
    for table, column in MOVED:
        bind.execute(
            sa.text(
                f"UPDATE {table} SET {column} = (SELECT c.merged_into_id FROM customers c"  # noqa: S608 (our own names)
                f" WHERE c.id = {table}.{column}) WHERE {column} IN ({MERGED})"
            )
        )


def downgrade() -> None:
    # Which rows belonged to the absorbed customer before is not recorded anywhere.
    pass
