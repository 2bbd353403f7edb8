"""Two deliveries of one channel message racing to open a conversation (PostgreSQL).

The look-up before the insert can miss a delivery that commits right after it; the
unique index then refuses our message, the savepoint takes our conversation back, and
the caller gets the conversation the other delivery opened. Forced here by hiding the
first look-up's find. SQLite takes no savepoint: its writers are serialised, so the
look-up cannot miss a committed delivery there, and the forced miss is an error.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from ledgerdesk.conversations import actions
from ledgerdesk.conversations.actions import do_create_conversation
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from tests.api_support import count
from tests.conftest import World


async def test_the_loser_of_the_race_returns_the_winners_conversation(
    db: Database, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = await world.make_customer()
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        first, created = await do_create_conversation(
            uow, actor=None, customer=customer, body="Deposit missing", channel_message_id="m-1"
        )
        await uow.commit()
    assert created

    real_find = actions.find_message_by_channel_id
    calls = 0

    async def find_missing_the_first_time(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return None if calls == 1 else await real_find(*args, **kwargs)

    monkeypatch.setattr(actions, "find_message_by_channel_id", find_missing_the_first_time)
    if db.engine.dialect.name == "sqlite":
        async with UnitOfWork(db.write_sessionmaker()) as uow:
            with pytest.raises(IntegrityError):
                await do_create_conversation(
                    uow, actor=None, customer=customer, body="x", channel_message_id="m-1"
                )
        assert await count(db, Conversation) == 1
        return
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        again, created = await do_create_conversation(
            uow, actor=None, customer=customer, body="Deposit missing", channel_message_id="m-1"
        )
        # Only the winner's conversation is left in the session: the commit writes nothing
        # for the row the savepoint took back.
        held = [o for o in uow.session.identity_map.values() if isinstance(o, Conversation)]
        assert [c.id for c in held] == [first.id]
        await uow.commit()
    assert calls == 2
    assert (again.id, created) == (first.id, False)
    assert await count(db, Conversation) == 1
