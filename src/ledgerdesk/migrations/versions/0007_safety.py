"""Safety: message flags, official channels, denylists, agent signing keys

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # autogenerate writes Text() for JSONB
from sqlalchemy.dialects import postgresql

import ledgerdesk.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
NullableJSONType = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=Text()), "postgresql"
)


def _listed_table(name: str) -> None:
    """official_channels and denylist_entries have the same shape."""
    op.create_table(
        name,
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by_id", BigIntId, nullable=True),
        sa.Column("created_at", ledgerdesk.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["agents.id"],
            name=op.f(f"fk_{name}_created_by_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("kind", "value", name=op.f(f"uq_{name}_kind_value")),
    )


def upgrade() -> None:
    _listed_table("official_channels")
    _listed_table("denylist_entries")
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("public_key", sa.String(length=100), nullable=False),
        sa.Column("private_key_encrypted", sa.String(length=300), nullable=False),
        sa.Column("created_at", ledgerdesk.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", ledgerdesk.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_signing_keys")),
    )
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signing_keys_created_at"), ["created_at"], unique=False
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anti_phishing_code", sa.String(length=40), nullable=True))

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("signing_key_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("safety_flags", NullableJSONType, nullable=True))

    # Existing conversations get an empty list; the server default only fills them and
    # is dropped again (the model sets the value, as everywhere else).
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("risk_flags", JSONType, nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.alter_column("risk_flags", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("risk_flags")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("safety_flags")
        batch_op.drop_column("signing_key_id")
        batch_op.drop_column("signature")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("anti_phishing_code")
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_keys_created_at"))
    op.drop_table("signing_keys")
    op.drop_table("denylist_entries")
    op.drop_table("official_channels")
