"""Migration 0016 finishes merges made before it, on SQLite and PostgreSQL.

A database is migrated to 0015, given customers merged the old way (surveys,
uploads and stream rows left behind, a chain of two merges), then upgraded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, update

from ledgerdesk.channels.webchat.models import WebchatAttachment
from ledgerdesk.cli import alembic_config
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from ledgerdesk.feedback.models import Survey
from ledgerdesk.realtime.models import StreamEvent
from tests.conftest import _create_postgres_database, _drop_postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
async def at_0015(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0015")
        yield url
        return
    name, url = await _create_postgres_database()
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0015")
        yield url
    finally:
        await _drop_postgres_database(name)


async def test_old_merges_are_finished_and_each_upload_kept_once(at_0015: str) -> None:
    now = datetime.now(UTC)
    db = Database(at_0015)
    try:
        async with db.sessionmaker() as session:
            first, middle, last, other = (Customer(name=n) for n in ("A", "B", "C", "D"))
            session.add_all([first, middle, last, other])
            await session.flush()
            conversation = Conversation(subject="s", channel="webchat", customer_id=first.id)
            session.add(conversation)
            await session.flush()
            session.add(
                Survey(
                    conversation_id=conversation.id,
                    customer_id=first.id,
                    channel="webchat",
                    nonce="n",
                    scheduled_for=now,
                )
            )
            for owner, sha in (
                (first, "a" * 64),
                (first, "b" * 64),
                (middle, "b" * 64),
                (last, "a" * 64),
            ):
                session.add(
                    WebchatAttachment(
                        sha256=sha, customer_id=owner.id, filename="f.png",
                        content_type="image/png", size=1,
                    )
                )  # fmt: skip
            session.add(StreamEvent(kind="message.created", customer_id=first.id, data={}))
            session.add(StreamEvent(kind="message.created", customer_id=other.id, data={}))
            await session.flush()
            # Merged the old way: A into B, then B into C; nothing else moved.
            await session.execute(
                update(Customer).where(Customer.id == first.id).values(merged_into_id=middle.id)
            )
            await session.execute(
                update(Customer).where(Customer.id == middle.id).values(merged_into_id=last.id)
            )
            await session.commit()
            ids = (first.id, middle.id, last.id, other.id)
    finally:
        await db.dispose()

    await asyncio.to_thread(command.upgrade, alembic_config(at_0015), "head")

    db = Database(at_0015)
    try:
        async with db.sessionmaker() as session:
            a, b, c, d = ids
            pointers = dict(
                (await session.execute(select(Customer.id, Customer.merged_into_id))).all()
            )
            assert pointers == {a: c, b: c, c: None, d: None}
            assert (await session.scalar(select(Survey.customer_id))) == c
            assert (await session.scalar(select(Conversation.customer_id))) == c
            rows = select(WebchatAttachment.sha256, WebchatAttachment.customer_id)
            uploads = sorted((await session.execute(rows)).all())
            assert uploads == [("a" * 64, c), ("b" * 64, c)], "each file once, the survivor's"
            stream = list((await session.execute(select(StreamEvent.customer_id))).scalars())
            assert len(stream) == 2 and set(stream) == {c, d}
    finally:
        await db.dispose()
