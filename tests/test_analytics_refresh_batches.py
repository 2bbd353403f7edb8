"""The periodic analytics refresh: facts in batches, each batch changing the rollups by
the difference it made, so the rollups always equal a rebuild from scratch and a run
that fails part-way leaves facts and rollups agreeing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ledgerdesk.analytics import actions
from ledgerdesk.analytics.actions import do_rebuild_analytics, do_refresh_analytics
from ledgerdesk.analytics.models import AnalyticsState, ConversationFacts, Rollup
from ledgerdesk.db.engine import Database
from tests.api_support import API, count
from tests.conftest import World

OVERVIEW = f"{API}/analytics/overview"


async def _open(client: httpx.AsyncClient, world: World, n: int) -> list[int]:
    customer = await world.make_customer()
    numbers = []
    for i in range(n):
        created = await client.post(
            f"{API}/conversations",
            json={"customer": {"id": customer.id}, "body": f"Where is deposit {i}?"},
            headers=world.bob.headers,
        )
        assert created.status_code == 201, created.text
        numbers.append(created.json()["id"])
    return numbers


async def _reply(client: httpx.AsyncClient, world: World, numbers: list[int], body: str) -> None:
    for number in numbers:
        reply = await client.post(
            f"{API}/conversations/{number}/messages",
            json={"body": body},
            headers=world.bob.headers,
        )
        assert reply.status_code == 201, reply.text


async def _conversations_today(client: httpx.AsyncClient, world: World) -> int:
    body = (await client.get(OVERVIEW, params={"days": 1}, headers=world.alice.headers)).json()
    return int(body["figures"]["conversations"]["value"])


async def _rollups(db: Database) -> dict[tuple[str, datetime, str], list[float]]:
    names = actions.SUM_NAMES
    async with db.sessionmaker() as session:
        rows = (await session.execute(select(Rollup))).scalars().all()
    return {(r.dim, r.bucket, r.key): [round(float(getattr(r, n)), 6) for n in names] for r in rows}


async def _assert_rollups_equal_a_rebuild(db: Database) -> dict[Any, list[float]]:
    refreshed = await _rollups(db)
    await do_rebuild_analytics(db)
    rebuilt = await _rollups(db)
    assert refreshed == rebuilt
    return rebuilt


async def test_batches_of_a_catch_up_keep_the_rollups_equal_to_a_rebuild(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    numbers = await _open(client, world, 7)
    result = await do_refresh_analytics(db, batch=2)
    assert result.conversations >= 7
    assert await count(db, ConversationFacts) == 7
    assert await _conversations_today(client, world) == 7
    await _assert_rollups_equal_a_rebuild(db)

    # Replies, a solve, a priority change: rows move between keys and some empty out.
    await _reply(client, world, numbers[:3], "We found your deposit.")
    changed = await client.patch(
        f"{API}/conversations/{numbers[0]}",
        json={"status": "solved", "priority": "urgent"},
        headers=world.bob.headers,
    )
    assert changed.status_code == 200, changed.text
    await do_refresh_analytics(db, batch=2)
    rollups = await _assert_rollups_equal_a_rebuild(db)
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert rollups[("priority", day, "urgent")][0] == 1
    assert any(key[0] == "agent" for key in rollups), "bob's replies count for him"


async def test_the_refresh_reads_only_what_changed_not_the_whole_day(
    client: httpx.AsyncClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _open(client, world, 6)
    await do_refresh_analytics(db)
    rebuilds: list[object] = []
    real = actions._rebuild_rollups

    async def counted(session, days):  # type: ignore[no-untyped-def]
        rebuilds.append(days)
        await real(session, days)

    monkeypatch.setattr(actions, "_rebuild_rollups", counted)
    await _open(client, world, 1)
    result = await do_refresh_analytics(db)
    assert rebuilds == [], "no day is rebuilt from its facts"
    assert result.days == 1
    assert await _conversations_today(client, world) == 7


async def test_a_run_that_fails_part_way_leaves_facts_and_rollups_agreeing(
    client: httpx.AsyncClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _open(client, world, 3)
    real = actions._add_to_rollups
    calls = 0

    async def dies_on_the_second_batch(session, before, after):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the process died here")
        return await real(session, before, after)

    monkeypatch.setattr(actions, "_add_to_rollups", dies_on_the_second_batch)
    with pytest.raises(RuntimeError):
        await do_refresh_analytics(db, batch=2)
    async with db.sessionmaker() as session:
        state = await session.get(AnalyticsState, "refresh")
        assert state is None or state.conversations_seen is None, "the watermark stayed"
    assert await count(db, ConversationFacts) == 2, "the first batch was kept, whole"
    assert await _conversations_today(client, world) == 2

    monkeypatch.setattr(actions, "_add_to_rollups", real)
    await _open(client, world, 1)
    await do_refresh_analytics(db, batch=2)
    assert await _conversations_today(client, world) == 4
    await _assert_rollups_equal_a_rebuild(db)


async def test_the_overlap_window_skips_conversations_whose_facts_are_current(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    """Every refresh looks back OVERLAP (two minutes) for late commits; under load that
    window holds thousands of conversations the last run already did."""
    numbers = await _open(client, world, 5)
    assert (await do_refresh_analytics(db)).conversations == 5
    assert (await do_refresh_analytics(db)).conversations == 0
    reply = await client.post(
        f"{API}/conversations/{numbers[2]}/messages",
        json={"body": "Still checking."},
        headers=world.bob.headers,
    )
    assert reply.status_code == 201, reply.text
    assert (await do_refresh_analytics(db)).conversations == 1
    await _assert_rollups_equal_a_rebuild(db)


async def test_facts_are_computed_without_holding_up_writers(
    client: httpx.AsyncClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading every message of the changed conversations is the slow part of a refresh:
    it runs before the write transaction, so a reply stored meanwhile is not held up
    (on SQLite the process's writers queue behind one lock), and the conversation it
    changed is computed again by the next run."""
    (number,) = await _open(client, world, 1)
    real_load = actions.load_facts
    replied_meanwhile: list[int] = []

    async def reply_while_computing(*args: Any, **kwargs: Any) -> Any:
        facts = await real_load(*args, **kwargs)
        if not replied_meanwhile:
            async with asyncio.timeout(5):  # a held write lock would stall this reply
                reply = await client.post(
                    f"{API}/conversations/{number}/messages",
                    json={"body": "We found your deposit."},
                    headers=world.bob.headers,
                )
            assert reply.status_code == 201, reply.text
            replied_meanwhile.append(number)
        return facts

    monkeypatch.setattr(actions, "load_facts", reply_while_computing)
    await do_refresh_analytics(db)
    assert replied_meanwhile == [number]
    # Stored as of the read (no reply yet), and marked as behind its conversation.
    async with db.sessionmaker() as session:
        facts = await session.get(ConversationFacts, number)
        assert facts is not None and facts.agent_replies == 0
    await do_refresh_analytics(db)
    async with db.sessionmaker() as session:
        facts = await session.get(ConversationFacts, number, populate_existing=True)
        assert facts is not None and facts.agent_replies == 1
    await _assert_rollups_equal_a_rebuild(db)


async def test_a_batch_stored_in_parts_keeps_the_rollups_equal_to_a_rebuild(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    """Each part of a batch is its own transaction (facts and their rollup change
    together), so the rollups agree with a rebuild after every part, and all are done."""
    numbers = await _open(client, world, 5)
    result = await do_refresh_analytics(db, batch=4, write_part=2)
    assert result.conversations >= 5
    assert await count(db, ConversationFacts) == 5
    await _assert_rollups_equal_a_rebuild(db)
    await _reply(client, world, numbers[:3], "Your withdrawal is on its way.")
    result = await do_refresh_analytics(db, batch=4, write_part=1)
    assert result.conversations >= 3
    await _assert_rollups_equal_a_rebuild(db)
