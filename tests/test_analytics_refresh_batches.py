"""The periodic analytics refresh: facts in batches, the day's rollups rebuilt once at
the end with the watermarks, so a failure before the end is done again next time."""

from __future__ import annotations

import httpx
import pytest

from ledgerdesk.analytics import actions
from ledgerdesk.analytics.actions import do_refresh_analytics
from ledgerdesk.analytics.models import AnalyticsState, ConversationFacts
from ledgerdesk.db.engine import Database
from tests.api_support import API, count
from tests.conftest import World

OVERVIEW = f"{API}/analytics/overview"


async def _open(client: httpx.AsyncClient, world: World, n: int) -> None:
    customer = await world.make_customer()
    for i in range(n):
        created = await client.post(
            f"{API}/conversations",
            json={"customer": {"id": customer.id}, "body": f"Where is deposit {i}?"},
            headers=world.bob.headers,
        )
        assert created.status_code == 201, created.text


async def _conversations_today(client: httpx.AsyncClient, world: World) -> int:
    body = (await client.get(OVERVIEW, params={"days": 1}, headers=world.alice.headers)).json()
    return int(body["figures"]["conversations"]["value"])


async def test_a_catch_up_in_batches_rebuilds_the_days_rollups_once(
    client: httpx.AsyncClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _open(client, world, 7)
    rebuilds: list[int] = []
    real = actions._rebuild_rollups

    async def counted(session, days):  # type: ignore[no-untyped-def]
        rebuilds.append(len(set(days or ())))
        await real(session, days)

    monkeypatch.setattr(actions, "_rebuild_rollups", counted)
    result = await do_refresh_analytics(db, batch=2)

    assert result.conversations >= 7
    assert rebuilds == [1], "one rebuild of the one day touched, not one per batch of 2"
    assert await count(db, ConversationFacts) == 7
    assert await _conversations_today(client, world) == 7


async def test_a_run_that_fails_before_the_rollups_leaves_the_watermark_for_the_next(
    client: httpx.AsyncClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _open(client, world, 3)
    real = actions._rebuild_rollups

    async def broken(session, days):  # type: ignore[no-untyped-def]
        raise RuntimeError("the process died here")

    monkeypatch.setattr(actions, "_rebuild_rollups", broken)
    with pytest.raises(RuntimeError):
        await do_refresh_analytics(db, batch=2)
    async with db.sessionmaker() as session:
        state = await session.get(AnalyticsState, "refresh")
        assert state is None or state.conversations_seen is None, "the watermark stayed"
    assert await count(db, ConversationFacts) == 3, "the batches' facts were kept"

    monkeypatch.setattr(actions, "_rebuild_rollups", real)
    await _open(client, world, 1)
    await do_refresh_analytics(db, batch=2)
    assert await _conversations_today(client, world) == 4
