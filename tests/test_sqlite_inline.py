"""SQLite calls run on the event loop's thread; another process's lock must not freeze it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import text

from ledgerdesk.cli import run_migrations
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.sqlite_inline import InlineConnection
from ledgerdesk.db.uow import UnitOfWork


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
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        for _ in range(40):
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async def write() -> float:
        started = time.monotonic()
        async with db.writer() as session, UnitOfWork(session) as uow:
            await do_create_customer(uow, actor=None, name="Waited", email="w@example.org")
            await uow.commit()
        return time.monotonic() - started

    try:
        waited, _ = await asyncio.gather(write(), tick())
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
