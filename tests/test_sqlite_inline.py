"""SQLite calls run on the event loop's thread; another process's lock must not freeze it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import session as session_module

from ledgerdesk.cli import run_migrations
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.sqlite_inline import InlineConnection
from ledgerdesk.db.uow import UnitOfWork
from tests.loop_support import loop_gaps


async def _database(tmp_path: Path, **options: object) -> tuple[Database, Path]:
    path = tmp_path / "inline.db"
    await asyncio.to_thread(run_migrations, f"sqlite+aiosqlite:///{path}")
    db = Database(f"sqlite+aiosqlite:///{path}", **options)  # type: ignore[arg-type]
    async with db.session() as session:  # the first connection switches the file to WAL
        await session.execute(text("SELECT 1"))
    return db, path


async def test_connections_are_inline_by_default(tmp_path: Path) -> None:
    db, _ = await _database(tmp_path)
    try:
        async with db.session() as session:
            connection = await session.connection()
            raw = await connection.get_raw_connection()
            assert isinstance(raw.driver_connection, InlineConnection)
            assert (await session.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
    finally:
        await db.dispose()


async def test_a_writer_waits_for_another_process_without_freezing_the_loop(
    tmp_path: Path,
) -> None:
    db, path = await _database(tmp_path, busy_timeout_ms=5000)
    locked = threading.Event()

    def hold_the_write_lock() -> None:
        # Another process (here a plain connection of our own) writes for 0.4 s.
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(0.4)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    await asyncio.to_thread(locked.wait)

    async def write() -> float:
        started = time.monotonic()
        async with db.writer() as session, UnitOfWork(session) as uow:
            await do_create_customer(uow, actor=None, name="Waited", email="w@example.org")
            await uow.commit()
        return time.monotonic() - started

    try:
        waited, gaps = await asyncio.gather(write(), loop_gaps(40))
    finally:
        holder.join()
        await db.dispose()
    assert waited >= 0.3, "the writer waited for the other process's lock"
    assert max(gaps) < 0.15, f"the event loop froze for {max(gaps):.3f} s"


async def test_a_writer_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    db, path = await _database(tmp_path, busy_timeout_ms=200)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        try:
            async with db.writer() as session, UnitOfWork(session) as uow:
                await do_create_customer(uow, actor=None, name="Late", email="l@example.org")
                await uow.commit()
        except Exception as exc:  # the OperationalError of a locked database
            assert "locked" in str(exc)
        else:
            raise AssertionError("a write went through while another process held the lock")
        assert 0.15 <= time.monotonic() - started < 2
    finally:
        other.execute("ROLLBACK")
        other.close()
        await db.dispose()


async def test_a_transaction_hops_into_a_greenlet_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the statement that checks out a connection and begins goes through
    AsyncSession's greenlet; the rest of the transaction, commit and close are direct."""
    db, _ = await _database(tmp_path)
    spawned: list[str] = []
    real_spawn = session_module.greenlet_spawn

    async def counting_spawn(fn: Any, *args: Any, **kwargs: Any) -> Any:
        spawned.append(getattr(fn, "__name__", repr(fn)))
        return await real_spawn(fn, *args, **kwargs)

    monkeypatch.setattr(session_module, "greenlet_spawn", counting_spawn)
    try:
        async with db.writer() as session, UnitOfWork(session) as uow:
            customer = await do_create_customer(uow, actor=None, name="Ada", email="a@example.org")
            await session.flush()
            assert await session.get(Customer, customer.id) is customer
            same = await session.scalar(select(Customer.name).where(Customer.id == customer.id))
            rows = (await session.execute(select(Customer.id))).scalars().all()
            await uow.commit()
        assert (same, rows) == ("Ada", [customer.id])
        assert len(spawned) == 1, spawned
        # A new transaction in the same session begins through the greenlet again.
        async with db.session() as session:
            assert (await session.execute(select(Customer.email))).scalar_one() == "a@example.org"
            assert await session.scalar(select(Customer.name)) == "Ada"
        assert len(spawned) == 2, spawned
    finally:
        await db.dispose()


async def test_an_accidental_lazy_load_still_fails_as_on_postgresql(tmp_path: Path) -> None:
    """The direct path is for the session's own calls: an expired attribute read from
    async code is still refused (it would block on PostgreSQL), not run quietly."""
    db, _ = await _database(tmp_path)
    try:
        async with db.writer() as session, UnitOfWork(session) as uow:
            customer = await do_create_customer(uow, actor=None, name="Bo", email="b@example.org")
            await session.flush()
            session.expire(customer, ["name"])
            with pytest.raises(MissingGreenlet):
                _ = customer.name
            await uow.commit()
    finally:
        await db.dispose()


async def test_connections_need_no_threads_and_overflow_closes_directly(tmp_path: Path) -> None:
    """Inline connections are opened on the loop's thread (no aiosqlite worker thread
    each), and the pool closes the ones beyond its size without waiting for anything.
    On SQLite it keeps twice the configured size (engine.py)."""
    db, _ = await _database(tmp_path, pool_size=2)
    threads_before = threading.active_count()
    try:
        sessions = [db.sessionmaker() for _ in range(8)]  # 4 kept + 4 overflow
        for session in sessions:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        assert threading.active_count() == threads_before
        for session in sessions:
            await session.close()  # the overflow ones are closed here, directly
        pool = db.engine.sync_engine.pool
        assert pool.checkedout() == 0  # type: ignore[attr-defined]
        assert pool.checkedin() == 4  # type: ignore[attr-defined]
        async with db.session() as session:
            assert (await session.execute(text("SELECT 2"))).scalar_one() == 2
    finally:
        await db.dispose()
