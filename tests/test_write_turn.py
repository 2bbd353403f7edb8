"""Writers of several processes on one SQLite file take turns through a file lock.

flock locks of two open descriptors conflict even within one process, so two
``Database`` objects on one file here behave as two server processes would.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from ledgerdesk.cli import run_migrations
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.sqlite_inline import InlineAdaptedConnection
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.db.write_turn import write_turn_path
from tests.loop_support import loop_gaps


@pytest.fixture
def begins(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every BEGIN an inline connection runs: (statement, whether SQLite refused it)."""
    seen: list[tuple[str, bool]] = []
    original = InlineAdaptedConnection.begin

    def counted(self: InlineAdaptedConnection, statement: str) -> None:
        try:
            original(self, statement)
        except Exception:
            seen.append((statement, True))
            raise
        seen.append((statement, False))

    monkeypatch.setattr(InlineAdaptedConnection, "begin", counted)
    return seen


@pytest.fixture
async def open_database(tmp_path: Path) -> AsyncIterator[Callable[..., Database]]:
    """Opens ``Database`` objects (each as one process would) on one migrated file."""
    path = tmp_path / "turns.db"
    await asyncio.to_thread(run_migrations, f"sqlite+aiosqlite:///{path}")
    opened: list[Database] = []

    def open_one(**options: Any) -> Database:
        opened.append(Database(f"sqlite+aiosqlite:///{path}", **options))
        return opened[-1]

    yield open_one
    for db in opened:
        await db.dispose()


async def _write(db: Database, name: str) -> None:
    async with db.writer() as session, UnitOfWork(session) as uow:
        await do_create_customer(uow, actor=None, name=name, email=f"{name}@example.org")
        await uow.commit()


async def _names(db: Database) -> list[str]:
    async with db.session() as session:
        return list((await session.scalars(select(Customer.name).order_by(Customer.id))).all())


@pytest.fixture
def held_turn(tmp_path: Path) -> Iterator[int]:
    """The turn taken by "another process" (a descriptor of its own) until released."""
    descriptor = os.open(write_turn_path(str(tmp_path / "turns.db")), os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    yield descriptor
    os.close(descriptor)


def _turn_is_free(tmp_path: Path) -> bool:
    descriptor = os.open(write_turn_path(str(tmp_path / "turns.db")), os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True


async def test_a_second_process_waits_for_its_turn_not_on_sqlites_lock(
    tmp_path: Path, open_database: Callable[..., Database], begins: list[tuple[str, bool]]
) -> None:
    first, second = open_database(), open_database()
    may_commit = asyncio.Event()
    first_began = asyncio.Event()

    async def long_write() -> None:
        async with first.writer() as session, UnitOfWork(session) as uow:
            await do_create_customer(uow, actor=None, name="first", email="first@example.org")
            first_began.set()
            await may_commit.wait()
            await uow.commit()

    holder = asyncio.create_task(long_write())
    await first_began.wait()
    waiter = asyncio.create_task(_write(second, "second"))
    gaps = await loop_gaps(30)  # the second writer waits meanwhile; the loop keeps running
    assert not waiter.done(), "the second writer went ahead while the first one wrote"
    may_commit.set()
    await asyncio.gather(holder, waiter)
    assert await _names(second) == ["first", "second"]
    immediate = [refused for statement, refused in begins if statement == "BEGIN IMMEDIATE"]
    # Each writer began once; the second never met SQLite's lock (and its busy wait).
    assert immediate == [False, False]
    assert max(gaps) < 0.1, f"the event loop froze for {max(gaps):.3f} s"
    assert _turn_is_free(tmp_path)


async def test_a_turn_held_past_the_busy_timeout_leaves_the_decision_to_sqlite(
    open_database: Callable[..., Database], held_turn: int
) -> None:
    db = open_database(busy_timeout_ms=300)
    started = time.monotonic()
    # Whoever holds the turn does not write, so SQLite's own lock lets this through.
    await _write(db, "patient")
    assert time.monotonic() - started >= 0.25
    assert await _names(db) == ["patient"]


async def test_a_writer_cancelled_while_waiting_leaves_no_turn_behind(
    tmp_path: Path, open_database: Callable[..., Database], held_turn: int
) -> None:
    db = open_database(busy_timeout_ms=5000)
    waiting = asyncio.create_task(_write(db, "gone"))
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    fcntl.flock(held_turn, fcntl.LOCK_UN)  # the other process finishes
    # The abandoned wait takes the turn in its thread and gives it straight back.
    for _ in range(50):
        if _turn_is_free(tmp_path):
            break
        await asyncio.sleep(0.01)
    assert _turn_is_free(tmp_path)
    await _write(db, "next")
    assert await _names(db) == ["next"]


async def test_one_process_takes_and_gives_back_the_turn_on_every_write(
    tmp_path: Path, open_database: Callable[..., Database]
) -> None:
    db = open_database()
    async with db.writer() as session:
        await session.execute(text("SELECT 1"))
        assert not _turn_is_free(tmp_path), "a writer holds the turn"
    assert _turn_is_free(tmp_path)
    await _write(db, "one")
    await _write(db, "two")
    assert await _names(db) == ["one", "two"]
    assert _turn_is_free(tmp_path)
