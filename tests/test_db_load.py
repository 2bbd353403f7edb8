"""load_now: the objects of a hot read built from one direct SELECT (sqlite3 or
asyncpg), the same as the ORM would load them, and the ORM statement wherever the
direct path is off."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import object_session

from ledgerdesk.conversations.models import Conversation
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.customers.models import Customer
from ledgerdesk.db import load
from ledgerdesk.db.engine import Database
from ledgerdesk.db.load import begin, get_now, load_now, rows_of
from ledgerdesk.db.persist import insert_now
from ledgerdesk.db.uow import UnitOfWork
from tests.direct_support import record_direct

_TABLE = Conversation.__table__
_ROWS = rows_of(Conversation).where(_TABLE.c.id == bindparam("conversation_id"))
_ORM = (
    select(Conversation)
    .where(Conversation.id == bindparam("conversation_id"))
    .execution_options(populate_existing=True)
)
_OF_CUSTOMER = (
    rows_of(Conversation)
    .where(_TABLE.c.customer_id == bindparam("customer_id"))
    .order_by(_TABLE.c.id)
)
_ORM_OF_CUSTOMER = (
    select(Conversation)
    .where(Conversation.customer_id == bindparam("customer_id"))
    .order_by(Conversation.id)
)
_SET_STATUS = (
    update(_TABLE)  # type: ignore[arg-type]
    .where(_TABLE.c.id == bindparam("conversation_id"))
    .values(status=bindparam("status"))
)
SOLVED_AT = datetime(2026, 11, 29, 3, 4, 5, 678901, tzinfo=UTC)


def _columns(conversation: Conversation) -> dict[str, Any]:
    return {
        column.key: getattr(conversation, column.key)
        for column in Conversation.__mapper__.column_attrs
    }


async def _conversations(db: Database) -> tuple[int, list[int]]:
    """A customer with two conversations: one with JSON, a timestamp and NULLs set."""
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        customer = await do_create_customer(uow, actor=None, name="Ana", email="ana@example.org")
        first = Conversation(
            channel="web",
            customer_id=customer.id,
            subject="提币未到账 USDT",
            custom_fields={"network": "TRC-20", "amount": "120"},
            tags=["withdrawal"],
            solved_at=SOLVED_AT,
        )
        second = Conversation(channel="email", customer_id=customer.id, subject="2FA reset")
        uow.session.add_all([first, second])
        await uow.commit()
        return customer.id, [first.id, second.id]


async def _load(session: Any, conversation_id: int) -> Sequence[Conversation]:
    return await load_now(session, Conversation, _ROWS, _ORM, {"conversation_id": conversation_id})


async def test_objects_are_what_the_orm_loads(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer_id, ids = await _conversations(db)
    async with db.session() as session:
        expected = [
            _columns(c)
            for c in (
                await session.execute(_ORM_OF_CUSTOMER, {"customer_id": customer_id})
            ).scalars()
        ]
    taken = record_direct(monkeypatch, load)
    async with db.writer() as session:
        await begin(session)
        found = await load_now(
            session, Conversation, _OF_CUSTOMER, _ORM_OF_CUSTOMER, {"customer_id": customer_id}
        )
        assert [c.id for c in found] == ids
        assert [_columns(c) for c in found] == expected
        assert found[0].solved_at == SOLVED_AT and found[0].solved_at.tzinfo is not None
        assert found[0].custom_fields == {"network": "TRC-20", "amount": "120"}
        assert found[1].solved_at is None
        # Persistent objects of this session, loaded from the same transaction.
        assert all(object_session(c) is session.sync_session for c in found)
        assert await _load(session, -1) == []
        await session.rollback()
    assert taken == [True, True]


async def test_changes_to_a_loaded_object_are_written(db: Database) -> None:
    _, (conversation_id, _) = await _conversations(db)
    async with db.writer() as session:
        await begin(session)
        (conversation,) = await _load(session, conversation_id)
        conversation.subject = "Withdrawal arrived"
        conversation.tags = ["withdrawal", "resolved"]
        await session.commit()
    async with db.session() as session:
        stored = await session.get(Conversation, conversation_id)
        assert stored is not None
        assert (stored.subject, stored.tags) == ("Withdrawal arrived", ["withdrawal", "resolved"])
        assert stored.custom_fields == {"network": "TRC-20", "amount": "120"}  # untouched


async def test_an_object_the_session_holds_takes_the_rows_values(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As populate_existing: the same object, with what the row holds now."""
    _, (conversation_id, _) = await _conversations(db)
    taken = record_direct(monkeypatch, load)
    async with db.writer() as session:
        await begin(session)
        (held,) = await _load(session, conversation_id)
        # A Core UPDATE leaves the session's object as it was...
        await session.execute(_SET_STATUS, {"conversation_id": conversation_id, "status": "solved"})
        assert held.status == "new"
        (again,) = await _load(session, conversation_id)
        assert again is held
        assert held.status == "solved"
        assert any(c is held for c in session.sync_session.identity_map.values())
        # ...and the refreshed values count as loaded, not as changes to write.
        assert not session.sync_session.dirty
        await session.rollback()
    assert taken == [True, True]


async def test_the_orm_statement_runs_where_the_direct_path_is_off(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer_id, (conversation_id, _) = await _conversations(db)
    taken = record_direct(monkeypatch, load)
    async with db.writer() as session:
        # No connection held yet: load_now begins, then reads directly.
        (first,) = await _load(session, conversation_id)
        # An unflushed change: the ORM statement autoflushes it first, and reads it back.
        first.subject = "changed, not flushed"
        (same,) = await _load(session, conversation_id)
        assert same is first and same.subject == "changed, not flushed"
        # An unflushed new object is flushed by the ORM statement, so the read finds it.
        fresh = Conversation(channel="web", customer_id=customer_id, subject="new")
        session.add(fresh)
        found = await load_now(
            session, Conversation, _OF_CUSTOMER, _ORM_OF_CUSTOMER, {"customer_id": customer_id}
        )
        assert fresh in found
        await session.rollback()
    assert taken == [True, False, False]


async def test_begin_holds_the_connection(db: Database) -> None:
    async with db.writer() as session:
        await begin(session)
        holds = bool(
            session.sync_session._transaction and session.sync_session._transaction._connections
        )
        assert holds
        await begin(session)  # a second call changes nothing
        assert (await session.execute(text("SELECT 1"))).scalar() == 1
        await session.rollback()


async def test_a_statement_without_every_column_in_order_is_refused(db: Database) -> None:
    partial = select(_TABLE.c.id, _TABLE.c.subject).where(
        _TABLE.c.id == bindparam("conversation_id")
    )
    async with db.writer() as session:
        with pytest.raises(TypeError, match="every column of conversations"):
            await load_now(session, Conversation, partial, _ORM, {"conversation_id": 1})
        await session.rollback()


async def test_a_direct_read_must_lock_as_its_orm_statement_does(db: Database) -> None:
    """A direct read without the ORM read's FOR UPDATE would let concurrent writers on
    PostgreSQL lose each other's changes: refused before it runs, both ways round."""
    locked_orm = _ORM.with_for_update()
    async with db.writer() as session:
        with pytest.raises(TypeError, match="must lock as the ORM statement does"):
            await load_now(session, Conversation, _ROWS, locked_orm, {"conversation_id": 1})
        with pytest.raises(TypeError, match="must lock as the ORM statement does"):
            await load_now(
                session, Conversation, _ROWS.with_for_update(), _ORM, {"conversation_id": 1}
            )
        locked = _ROWS.with_for_update()
        assert (
            await load_now(session, Conversation, locked, locked_orm, {"conversation_id": 1}) == []
        )
        await session.rollback()


async def test_a_new_object_inserted_directly_is_found_as_the_same_object(db: Database) -> None:
    customer_id, _ = await _conversations(db)
    async with db.writer() as session:
        await begin(session)
        created = Conversation(channel="web", customer_id=customer_id, subject="Deposit")
        await insert_now(session, created)
        (found,) = await _load(session, created.id)
        assert found is created
        assert found.created_at.tzinfo is not None
        await session.rollback()


_CUSTOMER_ROW = rows_of(Customer).where(Customer.__table__.c.id == bindparam("ident"))


async def test_get_now_is_session_get(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    customer_id, _ = await _conversations(db)
    async with db.session() as session:
        expected = await session.get(Customer, customer_id)
        assert expected is not None
        expected_columns = {
            a.key: getattr(expected, a.key) for a in Customer.__mapper__.column_attrs
        }
    taken = record_direct(monkeypatch, load)
    async with db.writer() as session:
        customer = await get_now(session, Customer, _CUSTOMER_ROW, customer_id)
        assert customer is not None
        assert {a.key: getattr(customer, a.key) for a in Customer.__mapper__.column_attrs} == (
            expected_columns
        )
        # The session's own object the second time, without a statement.
        assert await get_now(session, Customer, _CUSTOMER_ROW, customer_id) is customer
        assert await get_now(session, Customer, _CUSTOMER_ROW, -5) is None
        customer.name = "Ana Lima"
        await session.commit()
    assert taken == [True, True]
    async with db.session() as session:
        stored = await session.get(Customer, customer_id)
        assert stored is not None and stored.name == "Ana Lima"
