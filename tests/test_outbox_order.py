"""Stream ids are handed out in commit order: a writer draws its entry's id only once it
holds the stream's lock (PostgreSQL: the advisory lock, taken in the same statement as
the INSERT; SQLite: the write lock of BEGIN IMMEDIATE). Were an id drawn before the
wait, a later writer could commit a higher id first, and a reader who saw it would
never look back for the lower one."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.realtime import outbox


async def _last_drawn(db: Database) -> int:
    async with db.engine.connect() as connection:
        if db.is_sqlite:
            found = await connection.execute(
                text("SELECT seq FROM sqlite_sequence WHERE name = 'stream_events'")
            )
            return int(found.scalar_one_or_none() or 0)
        found = await connection.execute(
            text("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM stream_events_id_seq")
        )
        return int(found.scalar_one())


async def _append(db: Database, kind: str) -> None:
    async with db.writer() as session, UnitOfWork(session) as uow:
        outbox.append(uow, kind=kind, data={"n": kind})
        await uow.commit()


async def _hold_the_stream_lock(db: Database, elsewhere: Database) -> Callable[[], Awaitable[None]]:
    """Take the lock a stream writer needs from another connection; returns its release."""
    if db.is_sqlite:
        other = sqlite3.connect(make_url(db.url).database or "", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")

        async def release_sqlite() -> None:
            other.execute("ROLLBACK")
            other.close()

        return release_sqlite
    connection = await elsewhere.engine.connect()
    transaction = await connection.begin()
    await connection.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": outbox.ADVISORY_LOCK_KEY}
    )

    async def release_postgresql() -> None:
        await transaction.rollback()
        await connection.close()

    return release_postgresql


async def test_a_writer_waiting_for_the_stream_lock_has_drawn_no_id(
    db: Database, elsewhere: Database
) -> None:
    await _append(db, "first")
    before = await _last_drawn(db)
    # Another process's transaction holds the stream's lock.
    holder = await _hold_the_stream_lock(db, elsewhere)
    waiting = asyncio.create_task(_append(db, "second"))
    try:
        await asyncio.sleep(0.4)
        assert not waiting.done(), "the writer waited for the lock"
        assert await _last_drawn(db) == before, "an id was drawn before the lock was held"
    finally:
        await holder()
    await asyncio.wait_for(waiting, 10)
    assert await _last_drawn(db) == before + 1
