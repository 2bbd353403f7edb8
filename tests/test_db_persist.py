"""insert_now: one Core INSERT that leaves a persistent object, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import ForeignKey, Integer, MetaData, String, event, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.persist import insert_now, insert_now_unless_exists, update_now
from ledgerdesk.db.uow import UnitOfWork
from tests.api_support import statements


async def _customer_id(db: Database) -> int:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        customer = await do_create_customer(uow, actor=None, name="Ana", email="ana@example.org")
        await uow.commit()
        return customer.id


async def test_the_row_gets_its_id_and_every_default(db: Database) -> None:
    customer_id = await _customer_id(db)
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        conversation = Conversation(channel="api", customer_id=customer_id)
        await insert_now(uow.session, conversation)
        assert conversation.id is not None
        # The defaults are on the object as they are in the row, not left for a reload.
        assert conversation.status == "new"
        assert conversation.tags == []
        assert conversation.custom_fields == {}
        assert conversation.solved_at is None
        assert conversation.created_at.tzinfo is not None
        await uow.commit()
    async with db.session() as session:
        row = (
            await session.execute(
                text("SELECT status, priority, message_count FROM conversations WHERE id = :id"),
                {"id": conversation.id},
            )
        ).one()
    assert tuple(row) == ("new", "normal", 0)


async def test_the_object_is_persistent_and_later_changes_are_updates(db: Database) -> None:
    customer_id = await _customer_id(db)
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        conversation = Conversation(channel="api", customer_id=customer_id, subject="Deposit")
        await insert_now(uow.session, conversation)
        message = Message(
            conversation_id=conversation.id, author_kind="customer", body="hi", channel="api"
        )
        await insert_now(uow.session, message)
        assert message.id is not None
        # In the identity map: looking it up costs no statement and gives the same object.
        with statements(db) as seen:
            assert await uow.session.get(Conversation, conversation.id) is conversation
        assert seen == []
        conversation.subject = "Deposit missing"
        conversation.message_count = 1
        with statements(db) as seen:
            await uow.session.flush()
        assert len(seen) == 1 and seen[0].lstrip().upper().startswith("UPDATE")
        await uow.commit()
    async with db.session() as session:
        stored = await session.get(Conversation, conversation.id)
        assert stored is not None
        assert (stored.subject, stored.message_count) == ("Deposit missing", 1)
        bodies = (await session.execute(select(Message.body))).scalars().all()
    assert bodies == ["hi"]


async def test_a_failed_insert_leaves_nothing_in_the_session(db: Database) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        event = ConversationEvent(conversation_id=999_999, kind="created", actor_kind="system")
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            await insert_now(uow.session, event)
        assert event not in uow.session
        await uow.rollback()


async def test_an_explicit_id_and_timestamp_are_kept(db: Database) -> None:
    customer_id = await _customer_id(db)
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        conversation = Conversation(
            id=4242, channel="api", customer_id=customer_id, created_at=moment
        )
        await insert_now(uow.session, conversation)
        await uow.commit()
    async with db.session() as session:
        stored = await session.get(Conversation, 4242)
    assert stored is not None and stored.created_at == moment


async def test_update_now_writes_once_and_leaves_other_changes_to_the_flush(
    db: Database,
) -> None:
    customer_id = await _customer_id(db)
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        conversation = Conversation(channel="api", customer_id=customer_id, subject="Deposit")
        await insert_now(uow.session, conversation)
        conversation.status = "open"  # dirty before: update_now writes it, the flush not
        conversation.priority = "urgent"  # not written by update_now: the flush writes it
        with statements(db) as seen:
            await update_now(uow.session, conversation, message_count=3, status="open")
            await uow.session.flush()
        updates = [s for s in seen if s.upper().startswith("UPDATE")]
        assert len(updates) == 2, seen
        (ours,) = [s for s in updates if "message_count" in s]
        (flushed,) = [s for s in updates if s is not ours]
        assert "priority" not in ours
        assert "priority" in flushed and "status" not in flushed
        assert (conversation.message_count, conversation.status) == (3, "open")
        with statements(db) as seen:
            await uow.session.flush()
        assert seen == []
        await uow.commit()
    async with db.session() as session:
        stored = await session.get(Conversation, conversation.id)
    assert stored is not None
    assert (stored.message_count, stored.status, stored.priority) == (3, "open", "urgent")


async def test_update_now_of_every_change_leaves_the_object_clean(db: Database) -> None:
    """An object whose only changes update_now wrote is clean afterwards: the session
    has nothing left to flush (a first reply's status change used to keep it "modified",
    and each later statement went through an autoflush that wrote nothing)."""
    customer_id = await _customer_id(db)
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        conversation = Conversation(channel="api", customer_id=customer_id, subject="Deposit")
        await insert_now(uow.session, conversation)
        conversation.status = "open"
        conversation.solved_at = None
        assert conversation in uow.session.dirty
        flushes: list[object] = []
        event.listen(uow.session.sync_session, "before_flush", lambda *args: flushes.append(args))
        await update_now(uow.session, conversation, status="open", solved_at=None)
        assert flushes == []  # its statement found the session clean: no autoflush
        assert not uow.session.sync_session.identity_map._modified
        conversation.priority = "high"  # a later change is still seen and flushed
        assert conversation in uow.session.dirty
        await uow.commit()
    async with db.session() as session:
        stored = await session.get(Conversation, conversation.id)
    assert stored is not None
    assert (stored.status, stored.priority) == ("open", "high")


class _Other(DeclarativeBase):
    metadata = MetaData()


class _Parent(_Other):
    __tablename__ = "parents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    children: Mapped[list[_Child]] = relationship()


class _Child(_Other):
    __tablename__ = "children"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("parents.id"))
    name: Mapped[str] = mapped_column(String(10), server_default="x")


async def test_classes_it_cannot_store_faithfully_are_refused(db: Database) -> None:
    async with db.write_sessionmaker() as session:
        with pytest.raises(TypeError, match="relationships"):
            await insert_now(session, _Parent())
        with pytest.raises(TypeError, match="server default"):
            await insert_now(session, _Child(parent_id=1))


_KEY = ("channel", "channel_message_id")


def _delivery(conversation_id: int, body: str) -> Message:
    return Message(
        conversation_id=conversation_id,
        author_kind="customer",
        body=body,
        channel="telegram",
        channel_message_id="tg-1",
    )


async def _conversation_id(db: Database) -> int:
    customer_id = await _customer_id(db)
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        conversation = Conversation(channel="telegram", customer_id=customer_id)
        await insert_now(uow.session, conversation)
        await uow.commit()
        return conversation.id


async def test_insert_unless_exists_stores_a_key_once(db: Database) -> None:
    conversation_id = await _conversation_id(db)
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        first = _delivery(conversation_id, "first")
        with statements(db) as seen:
            assert await insert_now_unless_exists(uow.session, first, _KEY) is True
        assert len([s for s in seen if s.startswith("INSERT")]) == 1
        assert first.id is not None
        assert await uow.session.get(Message, first.id) is first
        again = _delivery(conversation_id, "second")
        assert await insert_now_unless_exists(uow.session, again, _KEY) is False
        assert again.id is None
        assert again not in uow.session  # nothing to flush, nothing attached
        await uow.commit()
    async with db.session() as session:
        bodies = (await session.execute(select(Message.body))).scalars().all()
    assert bodies == ["first"]


async def test_insert_unless_exists_waits_for_a_concurrent_delivery(
    db: Database, elsewhere: Database
) -> None:
    """Two transactions store the same key at once: the second waits for the first
    (PostgreSQL's unique index; SQLite's write lock) and stores nothing, without an
    error that would spoil its transaction."""
    conversation_id = await _conversation_id(db)
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> bool:
        async with UnitOfWork(db.write_sessionmaker()) as uow:
            stored = await insert_now_unless_exists(
                uow.session, _delivery(conversation_id, "first"), _KEY
            )
            first_in.set()
            await release.wait()
            await uow.commit()
            return stored

    async def second() -> bool:
        await first_in.wait()
        async with UnitOfWork(elsewhere.write_sessionmaker()) as uow:
            stored = await insert_now_unless_exists(
                uow.session, _delivery(conversation_id, "second"), _KEY
            )
            # The transaction is still usable after the clash.
            assert (await uow.session.execute(text("SELECT 1"))).scalar_one() == 1
            await uow.commit()
            return stored

    async def let_go() -> None:
        await first_in.wait()
        await asyncio.sleep(0.3)  # the second is waiting on the first by now
        release.set()

    results = await asyncio.gather(first(), second(), let_go())
    assert results[:2] == [True, False]
    async with db.session() as session:
        bodies = (await session.execute(select(Message.body))).scalars().all()
    assert bodies == ["first"]
