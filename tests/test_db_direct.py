"""run_direct: hot Core statements straight on sqlite3 inside an inline SQLite
transaction, and the usual ``session.execute`` everywhere it would change anything."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from ledgerdesk.cli import run_migrations
from ledgerdesk.conversations.models import Conversation, ConversationTag, Message
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.customers.models import Customer
from ledgerdesk.db import direct, persist
from ledgerdesk.db.direct import (
    execute_many,
    rowcount,
    run_direct,
    scalar_one_or_none,
)
from ledgerdesk.db.engine import Database
from ledgerdesk.db.persist import insert_now, insert_now_unless_exists, update_now
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.realtime.models import StreamEvent
from tests.api_support import statements
from tests.direct_support import record_direct

_RENAME = (
    update(Customer.__table__)  # type: ignore[arg-type]
    .where(Customer.__table__.c.id == bindparam("customer_id"))
    .values(name=bindparam("name"))
)
_NAME_OF = select(Customer.__table__.c.name).where(
    Customer.__table__.c.id == bindparam("customer_id")
)


async def _customer_id(db: Database) -> int:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        customer = await do_create_customer(uow, actor=None, name="Ana", email="ana@example.org")
        await uow.commit()
        return customer.id


async def test_rows_written_directly_read_back_as_written(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UTC datetimes and JSON go through the same bind processors as execute's."""
    taken = record_direct(monkeypatch, persist)
    customer_id = await _customer_id(db)
    sent_at = datetime(2026, 11, 28, 23, 59, 58, 123456, tzinfo=UTC)
    async with db.writer() as session:
        await session.execute(text("SELECT 1"))  # the transaction now holds its connection
        conversation = Conversation(channel="web", customer_id=customer_id, subject="USDT")
        await insert_now(session, conversation)
        message = Message(
            conversation_id=conversation.id,
            author_kind="customer",
            body="存款没到账 0xabc",
            channel="web",
            channel_message_id="c-1",
            attachments=[{"name": "receipt.pdf", "size": 1024}],
            created_at=sent_at,
            safety_flags=["address"],
        )
        assert await insert_now_unless_exists(session, message, ("channel", "channel_message_id"))
        twin = Message(
            conversation_id=conversation.id,
            author_kind="customer",
            body="again",
            channel="web",
            channel_message_id="c-1",
        )
        assert not await insert_now_unless_exists(session, twin, ("channel", "channel_message_id"))
        later = sent_at + timedelta(seconds=5)
        await update_now(session, conversation, message_count=1, last_message_at=later)
        await session.commit()
    async with db.session() as session:
        stored = await session.get(Message, message.id)
        assert stored is not None
        assert (stored.body, stored.attachments, stored.safety_flags) == (
            "存款没到账 0xabc",
            [{"name": "receipt.pdf", "size": 1024}],
            ["address"],
        )
        assert stored.created_at == sent_at
        row = await session.get(Conversation, conversation.id)
        assert row is not None
        assert (row.message_count, row.last_message_at) == (1, later)
        count = await session.scalar(text("SELECT count(*) FROM messages"))
        stored_text = await session.scalar(text("SELECT CAST(created_at AS TEXT) FROM messages"))
    assert count == 1
    # Directly on SQLite (all four writes), and stored as SQLAlchemy stores a datetime.
    assert taken == [db.is_sqlite] * 4
    if db.is_sqlite:
        assert stored_text == "2026-11-28 23:59:58.123456"


async def test_inline_sqlite_runs_them_directly_and_postgresql_does_not(db: Database) -> None:
    customer_id = await _customer_id(db)
    async with db.writer() as session:
        # A transaction that holds no connection yet begins the usual way.
        assert run_direct(session, _RENAME, {"customer_id": customer_id, "name": "B"}) is None
        await session.execute(text("SELECT 1"))
        done = run_direct(session, _RENAME, {"customer_id": customer_id, "name": "Bea"})
        if db.is_sqlite:
            assert done is not None and done.rowcount == 1
            found = run_direct(session, _NAME_OF, {"customer_id": customer_id})
            assert found is not None and found.scalar_one_or_none() == "Bea"
        else:
            assert done is None
        # The helpers answer the same either way.
        assert await rowcount(session, _RENAME, {"customer_id": customer_id, "name": "Cy"}) == 1
        assert await scalar_one_or_none(session, _NAME_OF, {"customer_id": customer_id}) == "Cy"
        assert await scalar_one_or_none(session, _NAME_OF, {"customer_id": -1}) is None
        await session.commit()


async def test_the_usual_path_whenever_it_would_differ(tmp_path: Path) -> None:
    """Inline SQLite only: it alone has a direct path."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'direct.db'}"
    await asyncio.to_thread(run_migrations, url)
    db = Database(url)
    try:
        await _take_the_usual_path(db)
    finally:
        await db.dispose()


async def _take_the_usual_path(db: Database) -> None:
    customer_id = await _customer_id(db)
    params = {"customer_id": customer_id, "name": "Dee"}
    async with db.writer() as session:
        await session.execute(text("SELECT 1"))
        assert run_direct(session, _RENAME, params) is not None
        # Unflushed changes: execute would autoflush them before the statement.
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        customer.language = "zh"
        assert run_direct(session, _RENAME, params) is None
        await session.flush()
        assert run_direct(session, _RENAME, params) is not None
        # Someone counting statements sees every one.
        with statements(db) as seen:
            assert run_direct(session, _RENAME, params) is None
        assert seen == []
        # ORM-enabled statements, and a default only an execution context fills in.
        orm_update = update(Customer).where(Customer.id == customer_id).values(name="Eve")
        assert run_direct(session, orm_update, {}) is None
        stream_insert = insert(StreamEvent.__table__)  # type: ignore[arg-type]
        assert run_direct(session, stream_insert, {"kind": "x", "data": {}}) is None
        await session.rollback()


async def test_a_failing_statement_raises_sqlalchemys_error(db: Database) -> None:
    """SQLite undoes the failed statement; execute runs it again for the wrapped error,
    and the transaction goes on."""
    customer_id = await _customer_id(db)
    async with db.writer() as session:
        conversation = Conversation(channel="api", customer_id=customer_id)
        await insert_now(session, conversation)
        orphan = Message(conversation_id=987_654, author_kind="customer", body="x", channel="api")
        with pytest.raises(IntegrityError):
            await insert_now(session, orphan)
        # Outside a savepoint PostgreSQL aborts the transaction; SQLite keeps it.
        if db.is_sqlite:
            assert await rowcount(session, _RENAME, {"customer_id": customer_id, "name": "F"})
            await session.commit()
    if db.is_sqlite:
        async with db.session() as session:
            assert await session.scalar(select(Customer.name)) == "F"
            assert await session.scalar(text("SELECT count(*) FROM messages")) == 0


async def test_a_failure_after_sqlite_rolled_back_is_not_run_again(tmp_path: Path) -> None:
    """SQLite rolls a whole transaction back on some errors (a full disk, I/O); a rerun
    through execute would then run outside any transaction. The error is raised once,
    wrapped. Mimicked with a ROLLBACK on the raw connection; its trace counts runs."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'rolled-back.db'}"
    await asyncio.to_thread(run_migrations, url)
    db = Database(url)
    try:
        customer_id = await _customer_id(db)
        ran: list[str] = []
        async with db.writer() as session:
            conversation = Conversation(channel="api", customer_id=customer_id)
            await insert_now(session, conversation)
            connection = await session.connection()
            raw = connection.sync_connection.connection.driver_connection._connection  # type: ignore[union-attr]
            raw.set_trace_callback(ran.append)
            raw.rollback()
            orphan = Message(
                conversation_id=987_654, author_kind="customer", body="x", channel="api"
            )
            with pytest.raises(IntegrityError):
                await insert_now(session, orphan)
            raw.set_trace_callback(None)
            await session.rollback()
        assert len([sql for sql in ran if sql.startswith("INSERT INTO messages")]) == 1, ran
        async with db.session() as session:
            assert await session.scalar(text("SELECT count(*) FROM conversations")) == 0
    finally:
        await db.dispose()


_TAG = insert(ConversationTag.__table__)  # type: ignore[arg-type]


async def test_execute_many_writes_each_row_and_keeps_executemanys_failure(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows before a failing one stay written, as with the driver's executemany."""
    taken = record_direct(monkeypatch, direct)
    customer_id = await _customer_id(db)
    async with db.writer() as session:
        await session.execute(text("SELECT 1"))
        conversation = Conversation(channel="web", customer_id=customer_id, subject="tags")
        await insert_now(session, conversation)
        rows = [{"conversation_id": conversation.id, "tag": t} for t in ("deposit", "usdt")]
        await execute_many(session, _TAG, rows)
        assert taken == ([True, True] if db.is_sqlite else [False])
        clash = [{"conversation_id": conversation.id, "tag": t} for t in ("trc20", "usdt", "kyc")]
        with pytest.raises(IntegrityError):
            await execute_many(session, _TAG, clash)
        if db.is_sqlite:  # on PostgreSQL the failed statement aborts the transaction
            tags = await session.scalars(select(ConversationTag.tag).order_by(ConversationTag.tag))
            assert list(tags) == ["deposit", "trc20", "usdt"]
        await session.rollback()


async def test_run_direct_many_is_one_executemany_with_executes_values_and_errors(
    db: Database,
) -> None:
    """Rows of the same shape go to sqlite3's executemany with the columns' bind
    processors (UTC datetimes, JSON); rows of different shapes, and PostgreSQL, are
    left to execute; a failing row raises SQLAlchemy's error, the rows before it kept."""
    customer_id = await _customer_id(db)
    at = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    insert_messages = insert(Message.__table__)  # type: ignore[arg-type]
    async with db.writer() as session:
        await session.execute(text("SELECT 1"))
        conversation = Conversation(channel="web", customer_id=customer_id, subject="many")
        await insert_now(session, conversation)

        def message(n: int) -> dict[str, object]:
            return {
                "conversation_id": conversation.id,
                "author_kind": "agent",
                "body": f"reply {n}",
                "channel": "web",
                "channel_message_id": f"m-{n}",
                "attachments": [{"name": f"{n}.png"}],
                "is_internal": False,
                "created_at": at + timedelta(seconds=n),
            }

        rows = [message(n) for n in range(3)]
        assert direct.run_direct_many(session, insert_messages, rows) is db.is_sqlite
        uneven = [message(3), {**message(4), "agent_id": None}]
        assert direct.run_direct_many(session, insert_messages, uneven) is False
        if db.is_sqlite:
            with pytest.raises(IntegrityError):  # m-1 is taken: m-5 stays, m-6 never runs
                direct.run_direct_many(
                    session, insert_messages, [message(5), message(1), message(6)]
                )
            stored = (
                await session.execute(
                    select(Message.channel_message_id, Message.attachments, Message.created_at)
                    .where(Message.conversation_id == conversation.id)
                    .order_by(Message.id)
                )
            ).all()
            assert [row[0] for row in stored] == ["m-0", "m-1", "m-2", "m-5"]
            assert stored[2][1] == [{"name": "2.png"}]
            assert stored[2][2] == at + timedelta(seconds=2)
        await session.rollback()
