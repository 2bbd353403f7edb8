"""run_direct and execute_direct: hot Core statements straight on the driver (sqlite3
in an inline SQLite transaction, asyncpg on PostgreSQL), and the usual
``session.execute`` everywhere it would change anything."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import Numeric, bindparam, cast, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledgerdesk.cli import run_migrations
from ledgerdesk.conversations.models import Conversation, ConversationTag, Message
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.customers.models import Customer
from ledgerdesk.db import direct, persist
from ledgerdesk.db.direct import (
    execute_direct,
    execute_many,
    rowcount,
    scalar_one_or_none,
)
from ledgerdesk.db.engine import Database
from ledgerdesk.db.persist import insert_now, insert_now_unless_exists, update_now
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.realtime.models import StreamEvent
from tests.api_support import statements
from tests.conftest import POSTGRES_ADMIN_DSN, _create_postgres_database, _drop_postgres_database
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
    # All four writes directly, and stored as SQLAlchemy stores a datetime.
    assert taken == [True] * 4
    if db.is_sqlite:
        assert stored_text == "2026-11-28 23:59:58.123456"


async def test_statements_run_directly_once_the_transaction_holds_its_connection(
    db: Database,
) -> None:
    customer_id = await _customer_id(db)
    async with db.writer() as session:
        # A transaction that holds no connection yet begins the usual way.
        params = {"customer_id": customer_id, "name": "B"}
        assert await execute_direct(session, _RENAME, params) is None
        await session.execute(text("SELECT 1"))
        done = await execute_direct(session, _RENAME, {"customer_id": customer_id, "name": "Bea"})
        assert done is not None and done.rowcount == 1
        found = await execute_direct(session, _NAME_OF, {"customer_id": customer_id})
        assert found is not None and found.scalar_one_or_none() == "Bea"
        missing = await execute_direct(session, _RENAME, {"customer_id": -1, "name": "Nobody"})
        assert missing is not None and missing.rowcount == 0
        # The helpers answer the same either way.
        assert await rowcount(session, _RENAME, {"customer_id": customer_id, "name": "Cy"}) == 1
        assert await scalar_one_or_none(session, _NAME_OF, {"customer_id": customer_id}) == "Cy"
        assert await scalar_one_or_none(session, _NAME_OF, {"customer_id": -1}) is None
        await session.commit()


async def test_the_usual_path_whenever_it_would_differ(db: Database) -> None:
    customer_id = await _customer_id(db)
    params = {"customer_id": customer_id, "name": "Dee"}
    async with db.writer() as session:
        await session.execute(text("SELECT 1"))
        assert await execute_direct(session, _RENAME, params) is not None
        # Unflushed changes: execute would autoflush them before the statement.
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        customer.language = "zh"
        assert await execute_direct(session, _RENAME, params) is None
        await session.flush()
        assert await execute_direct(session, _RENAME, params) is not None
        # Someone counting statements sees every one.
        with statements(db) as seen:
            assert await execute_direct(session, _RENAME, params) is None
        assert seen == []
        # ORM-enabled statements, and a default only an execution context fills in.
        orm_update = update(Customer).where(Customer.id == customer_id).values(name="Eve")
        assert await execute_direct(session, orm_update, {}) is None
        stream_insert = insert(StreamEvent.__table__)  # type: ignore[arg-type]
        assert await execute_direct(session, stream_insert, {"kind": "x", "data": {}}) is None
        # A numeric column: asyncpg's result processor needs the driver's type code,
        # which the direct path does not have (sqlite3's needs none).
        amount = select(cast(bindparam("amount", type_=Numeric(12, 2)), Numeric(12, 2)))
        as_numeric = await execute_direct(session, amount, {"amount": Decimal("1.50")})
        if db.is_sqlite:
            assert as_numeric is not None and as_numeric.scalar_one_or_none() == Decimal("1.50")
        else:
            assert as_numeric is None
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
        assert taken == [True, True]
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


async def test_a_connection_lost_under_the_direct_path_is_invalidated() -> None:
    """PostgreSQL only (an SQLite file has no server to lose): the backend of a writing
    session is terminated; the direct statement raises SQLAlchemy's error marked as a
    lost connection, the pool drops that connection, and the next session works."""
    name, url = await _create_postgres_database()
    db = Database(url, pool_size=1)
    try:
        await asyncio.to_thread(run_migrations, url)
        customer_id = await _customer_id(db)
        async with db.writer() as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
            try:
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
            with pytest.raises(DBAPIError) as raised:
                await rowcount(session, _RENAME, {"customer_id": customer_id, "name": "Gone"})
            assert raised.value.connection_invalidated
            await session.rollback()
        async with db.writer() as session:
            await session.execute(text("SELECT 1"))
            renamed = await rowcount(session, _RENAME, {"customer_id": customer_id, "name": "Back"})
            assert renamed == 1
            await session.commit()
        async with db.session() as session:
            await session.execute(text("SELECT 1"))
            assert await scalar_one_or_none(session, _NAME_OF, {"customer_id": customer_id}) == (
                "Back"
            )
    finally:
        await db.dispose()
        await _drop_postgres_database(name)


async def test_a_schema_change_under_cached_statements_is_recovered_from() -> None:
    """PostgreSQL only (prepared statements live on the server): a column's type changes
    while a direct statement is prepared on a pooled connection. asyncpg refuses the
    stale statement inside the transaction; the dialect's statement cache is dropped
    as its execution context would drop it, so the next transaction prepares it again."""
    name, url = await _create_postgres_database()
    db = Database(url, pool_size=1)
    try:
        await asyncio.to_thread(run_migrations, url)
        customer_id = await _customer_id(db)

        async def read_name() -> object:
            async with db.writer() as session:
                await session.execute(text("SELECT 1"))
                return await scalar_one_or_none(session, _NAME_OF, {"customer_id": customer_id})

        assert await read_name() == "Ana"  # prepared and cached on the one connection
        admin = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=5)
        try:
            await admin.execute("ALTER TABLE customers ALTER COLUMN name TYPE text")
        finally:
            await admin.close()
        with pytest.raises(DBAPIError, match="cached statement plan is invalid"):
            await read_name()
        assert await read_name() == "Ana"
    finally:
        await db.dispose()
        await _drop_postgres_database(name)
