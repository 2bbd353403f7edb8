"""PostgreSQL connections are pinged before use only when they sat idle in the pool."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerdesk.db.engine import Database
from tests.conftest import (
    POSTGRES_ADMIN_DSN,
    _create_postgres_database,
    _drop_postgres_database,
)


async def _backend_pid(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _kill(pid: int) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_a_dead_connection_that_sat_idle_is_replaced_before_anyone_uses_it() -> None:
    name, url = await _create_postgres_database()
    db = Database(url, pool_size=1, idle_ping_seconds=0)  # every pooled connection is "idle"
    try:
        first = await _backend_pid(db)
        await _kill(first)
        # The ping finds the connection dead; the pool opens another and the query works.
        second = await _backend_pid(db)
        assert second != first
    finally:
        await db.dispose()
        await _drop_postgres_database(name)


async def test_a_connection_used_a_moment_ago_is_not_pinged() -> None:
    name, url = await _create_postgres_database()
    db = Database(url, pool_size=1, idle_ping_seconds=3600)
    try:
        first = await _backend_pid(db)
        await _kill(first)
        # No ping: the first use meets the dead connection (what pre-ping would have
        # spent a round trip on every checkout to avoid), and the pool recovers at once.
        with pytest.raises(DBAPIError) as caught:
            await _backend_pid(db)
        assert caught.value.connection_invalidated
        assert await _backend_pid(db) != first
    finally:
        await db.dispose()
        await _drop_postgres_database(name)
