"""The Alembic migrations must build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from ledgerdesk.db.engine import Database
from ledgerdesk.db.registry import Base


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_matches_the_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == [], f"write a migration for: {differences}"


async def test_it_knows_every_table_of_the_models(db: Database) -> None:
    def table_names(connection: Connection) -> set[str]:
        from sqlalchemy import inspect

        return set(inspect(connection).get_table_names())

    async with db.engine.connect() as connection:
        names = await connection.run_sync(table_names)
    assert set(Base.metadata.tables) <= names
