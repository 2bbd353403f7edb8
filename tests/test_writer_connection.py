"""One SQLite connection serves a process's writers in turn, and nothing leaks between them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ledgerdesk.cli import run_migrations
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "writer.db"
    await asyncio.to_thread(run_migrations, f"sqlite+aiosqlite:///{path}")
    database = Database(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.dispose()


async def _write(db: Database, name: str) -> Any:
    """Create a customer; the sqlite3 connection the write went through."""
    async with db.writer() as session, UnitOfWork(session) as uow:
        await do_create_customer(uow, actor=None, name=name, email=f"{name}@example.org")
        raw = (await session.connection()).sync_connection.connection.driver_connection  # type: ignore[union-attr]
        await uow.commit()
    return raw


async def _names(db: Database) -> list[str]:
    async with db.session() as session:
        return list((await session.scalars(select(Customer.name).order_by(Customer.id))).all())


async def test_writes_share_one_connection_and_readers_use_the_pool(db: Database) -> None:
    first, second = await _write(db, "one"), await _write(db, "two")
    assert first is second
    async with db.session() as session:
        reader = (await session.connection()).sync_connection.connection.driver_connection  # type: ignore[union-attr]
        assert reader is not first
    assert await _names(db) == ["one", "two"]


async def test_a_write_cut_short_leaves_nothing_to_the_next_one(db: Database) -> None:
    started = asyncio.Event()

    async def cut_short() -> None:
        async with db.writer() as session, UnitOfWork(session) as uow:
            await do_create_customer(uow, actor=None, name="lost", email="lost@example.org")
            await session.flush()
            started.set()
            await asyncio.Event().wait()  # the request is cancelled here

    task = asyncio.create_task(cut_short())
    await started.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await _write(db, "kept")
    assert await _names(db) == ["kept"]


async def test_a_transaction_left_open_on_the_connection_is_rolled_back(db: Database) -> None:
    await _write(db, "first")
    # As a session close cut short by a second cancellation would leave it.
    held = db._writer_connection
    assert held is not None
    await held.begin()
    await held.exec_driver_sql("UPDATE customers SET name = 'stray' WHERE name = 'first'")
    await _write(db, "second")
    assert await _names(db) == ["first", "second"]


async def test_a_closed_writer_connection_is_opened_again(db: Database) -> None:
    await _write(db, "before")
    closed = db._writer_connection
    assert closed is not None
    await closed.close()
    await _write(db, "after")
    assert db._writer_connection is not closed
    assert await _names(db) == ["before", "after"]


async def test_a_connection_lost_in_a_write_is_replaced(db: Database) -> None:
    before = await _write(db, "before")
    async with db.writer() as session:
        await (await session.connection()).invalidate()
    after = await _write(db, "after")
    assert after is not before
    assert await _names(db) == ["before", "after"]
