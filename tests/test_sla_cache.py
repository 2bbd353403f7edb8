"""The per-process cache of SLA policies and calendars (sla/cache.py): conversations
created, replies and status changes do not read them, a change made here counts on
the next conversation, and one made by another process counts on its bus event or
after the recheck interval."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import insert, update

from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import Event, MemoryEventBus
from ledgerdesk.sla import cache
from ledgerdesk.sla.actions import do_save_policy
from ledgerdesk.sla.calendar import BusinessCalendar, add_business_time
from ledgerdesk.sla.models import ConversationSla, SlaPolicy
from ledgerdesk.sla.schemas import PolicyIn
from tests.api_support import API, statements
from tests.conftest import World
from tests.sla_support import clock, clocks_of, make_policy

MINUTE = timedelta(minutes=1)


@pytest.fixture
def trusted() -> Iterator[None]:
    """Answers of the version query trusted for an hour: only the forgetting (here, or
    on the bus event) makes a change count, so no test depends on the clock."""
    cache.forget_sla_config()
    saved = cache.RECHECK_SECONDS
    cache.RECHECK_SECONDS = 3600.0
    yield
    cache.RECHECK_SECONDS = saved
    cache.forget_sla_config()


def _config_reads(seen: list[str]) -> list[str]:
    """Statements that read the policies or calendars (the version query included);
    the clocks' query joins the policies for their names, which is not a read of its own."""
    return [s for s in seen if "FROM sla_policies" in s or "FROM sla_calendars" in s]


async def _open(client: httpx.AsyncClient, world: World, customer_id: int) -> int:
    response = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": customer_id}, "body": "My withdrawal is stuck"},
        headers=world.bob.headers,
    )
    assert response.status_code == 201, response.text
    number: int = response.json()["id"]
    return number


async def _target(db: Database, number: int) -> int | None:
    found = [c for c in await clocks_of(db, number) if c.metric == "first_response"]
    return found[-1].target_seconds // 60 if found else None


async def _calendar(client: httpx.AsyncClient, world: World, name: str, hours: list[str]) -> int:
    response = await client.post(
        f"{API}/sla/calendars",
        json={
            "name": name,
            "time_zone": "UTC",
            "week": {
                day: [{"start": hours[0], "end": hours[1]}]
                for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
        },
        headers=world.alice.headers,
    )
    assert response.status_code == 201, response.text
    calendar_id: int = response.json()["id"]
    return calendar_id


def _utc_hours(start: str, end: str) -> BusinessCalendar:
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return BusinessCalendar.build("UTC", {day: [(start, end)] for day in days})


async def test_conversations_replies_and_status_changes_do_not_read_the_configuration(
    client: httpx.AsyncClient, world: World, db: Database, trusted: None
) -> None:
    calendar_id = await _calendar(client, world, "Mornings", ["00:00", "12:00"])
    await make_policy(
        client,
        world.alice.headers,
        calendar_id=calendar_id,
        next_response_minutes=30,
        resolution_minutes=24 * 60,
    )
    customer = (await world.make_customer()).id
    await _open(client, world, customer)  # the first one reads the configuration

    with statements(db) as seen:
        numbers = [await _open(client, world, customer) for _ in range(3)]
        for number in numbers:
            reply = await client.post(
                f"{API}/conversations/{number}/messages",
                json={"body": "Checking now"},
                headers=world.bob.headers,
            )
            assert reply.status_code == 201, reply.text
            for status in ("pending", "open", "solved", "open"):  # pause, resume, stop, reopen
                changed = await client.patch(
                    f"{API}/conversations/{number}",
                    json={"status": status},
                    headers=world.bob.headers,
                )
                assert changed.status_code == 200, changed.text
    assert seen, "the listener saw nothing: the test would prove nothing"
    assert _config_reads(seen) == []
    mornings = _utc_hours("00:00", "12:00")
    for number in numbers:
        first = await clock(db, number, "first_response")
        assert first.met is True
        resolution = await clock(db, number, "resolution")
        assert resolution.stopped_at is None and resolution.paused_at is None  # reopened
        assert first.due_at == add_business_time(first.started_at, 60 * MINUTE, mornings)


async def test_without_policies_a_conversation_asks_only_the_trusted_version(
    client: httpx.AsyncClient, world: World, db: Database, trusted: None
) -> None:
    customer = (await world.make_customer()).id
    await _open(client, world, customer)
    with statements(db) as seen:
        for _ in range(3):
            await _open(client, world, customer)
    assert seen and _config_reads(seen) == []

    cache.RECHECK_SECONDS = 0.0  # trusted for no time: one version query per conversation
    with statements(db) as seen:
        for _ in range(3):
            await _open(client, world, customer)
    reads = _config_reads(seen)
    assert len(reads) == 3 and all("count" in s for s in reads), reads


async def test_a_change_made_here_counts_on_the_next_conversation(
    client: httpx.AsyncClient, world: World, db: Database, trusted: None
) -> None:
    customer = (await world.make_customer()).id
    policy = await make_policy(client, world.alice.headers, first_response_minutes=60)
    assert await _target(db, await _open(client, world, customer)) == 60

    url = f"{API}/sla/policies/{policy['id']}"
    changed = await client.put(
        url, json={"name": "Default", "first_response_minutes": 15}, headers=world.alice.headers
    )
    assert changed.status_code == 200, changed.text
    assert await _target(db, await _open(client, world, customer)) == 15

    # A calendar edited in place: the next clock counts in its new hours.
    mornings = await _calendar(client, world, "Shift", ["00:00", "12:00"])
    moved = await client.put(
        url,
        json={"name": "Default", "first_response_minutes": 15, "calendar_id": mornings},
        headers=world.alice.headers,
    )
    assert moved.status_code == 200, moved.text
    before = await clock(db, await _open(client, world, customer), "first_response")
    assert before.due_at == add_business_time(
        before.started_at, 15 * MINUTE, _utc_hours("00:00", "12:00")
    )
    edited = await client.put(
        f"{API}/sla/calendars/{mornings}",
        json={
            "name": "Shift",
            "time_zone": "UTC",
            "week": {
                day: [{"start": "12:00", "end": "24:00"}]
                for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
        },
        headers=world.alice.headers,
    )
    assert edited.status_code == 200, edited.text
    after = await clock(db, await _open(client, world, customer), "first_response")
    evenings = _utc_hours("12:00", "24:00")
    assert after.due_at == add_business_time(after.started_at, 15 * MINUTE, evenings)
    # The old hours would give another time: the test can tell a stale calendar.
    assert after.due_at != add_business_time(
        after.started_at, 15 * MINUTE, _utc_hours("00:00", "12:00")
    )

    archived = await client.delete(url, headers=world.alice.headers)
    assert archived.status_code == 200, archived.text
    assert await _target(db, await _open(client, world, customer)) is None


async def test_a_change_made_elsewhere_counts_after_the_recheck(
    client: httpx.AsyncClient, world: World, db: Database, elsewhere: Database, trusted: None
) -> None:
    customer = (await world.make_customer()).id
    policy = await make_policy(client, world.alice.headers, first_response_minutes=60)
    assert await _target(db, await _open(client, world, customer)) == 60

    async with elsewhere.writer() as session:  # no action of this process: nobody forgets
        await session.execute(
            update(SlaPolicy).where(SlaPolicy.id == policy["id"]).values(first_response_minutes=15)
        )
        await session.commit()
    assert await _target(db, await _open(client, world, customer)) == 60  # still trusted

    cache.RECHECK_SECONDS = 0.05
    await asyncio.sleep(0.06)  # the interval passes: the version is asked again
    assert await _target(db, await _open(client, world, customer)) == 15

    async with elsewhere.writer() as session:  # a new policy ahead of it, written elsewhere
        await session.execute(
            insert(SlaPolicy).values(
                name="Urgent first", position=-1, first_response_minutes=5, conditions={}
            )
        )
        await session.commit()
    cache.RECHECK_SECONDS = 0.0
    assert await _target(db, await _open(client, world, customer)) == 5


async def test_the_bus_event_of_another_process_forgets_at_once(
    client: httpx.AsyncClient,
    world: World,
    db: Database,
    elsewhere: Database,
    bus: MemoryEventBus,
    trusted: None,
) -> None:
    heard: list[Event] = []
    bus.add_listener({cache.SLA_CONFIG_TOPIC}, heard.append)
    customer = (await world.make_customer()).id
    policy = await make_policy(client, world.alice.headers, first_response_minutes=60)
    assert [e.kind for e in heard] == ["sla.config_changed"]  # announced after the commit
    assert await _target(db, await _open(client, world, customer)) == 60

    async with elsewhere.writer() as session:
        await session.execute(
            update(SlaPolicy).where(SlaPolicy.id == policy["id"]).values(is_active=False)
        )
        await session.commit()
    assert await _target(db, await _open(client, world, customer)) == 60  # not told yet
    await bus.publish(cache.SLA_CONFIG_CHANGED)  # what the Redis bus delivers from there
    assert await _target(db, await _open(client, world, customer)) is None


async def test_a_clock_under_a_policy_made_elsewhere_is_resumed_with_that_policy(
    client: httpx.AsyncClient, world: World, db: Database, elsewhere: Database, trusted: None
) -> None:
    await make_policy(client, world.alice.headers, first_response_minutes=60)
    number = await _open(client, world, (await world.make_customer()).id)
    async with elsewhere.writer() as session:  # elsewhere: a new policy takes the clocks over
        made = await session.execute(
            insert(SlaPolicy)
            .values(name="Elsewhere", first_response_minutes=30, conditions={})
            .returning(SlaPolicy.id)
        )
        await session.execute(
            update(ConversationSla)
            .where(ConversationSla.conversation_id == number)
            .values(policy_id=made.scalar_one())
        )
        await session.commit()
    for status in ("pending", "open"):
        changed = await client.patch(
            f"{API}/conversations/{number}", json={"status": status}, headers=world.bob.headers
        )
        assert changed.status_code == 200, changed.text
    # The cached reading did not know the policy: it asked again instead of skipping it.
    assert all(c.paused_at is None for c in await clocks_of(db, number))


async def test_the_transaction_that_changes_a_policy_neither_fills_nor_trusts_the_cache(
    db: Database, trusted: None
) -> None:
    bus = MemoryEventBus()
    async with UnitOfWork(db.write_sessionmaker(), bus) as uow:
        assert (await cache.sla_config(uow)).active == ()
    async with UnitOfWork(db.write_sessionmaker(), bus) as uow:
        data = PolicyIn.model_validate({"name": "Draft", "first_response_minutes": 5})
        await do_save_policy(uow, actor=None, data=data)
        seen = await cache.sla_config(uow)  # its own change, uncommitted
        assert [p.name for p in seen.active] == ["Draft"]
        await uow.rollback()
    async with UnitOfWork(db.write_sessionmaker(), bus) as uow:
        assert (await cache.sla_config(uow)).active == ()  # the draft never was


async def test_without_a_bus_the_version_is_asked_every_time(
    db: Database, elsewhere: Database, trusted: None
) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        first = await cache.sla_config(uow)
    async with elsewhere.writer() as session:
        await session.execute(
            insert(SlaPolicy).values(name="Elsewhere", first_response_minutes=30, conditions={})
        )
        await session.commit()
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        second = await cache.sla_config(uow)
    assert first.active == () and [p.name for p in second.active] == ["Elsewhere"]
    assert second.active[0].conditions == {}
    with pytest.raises(TypeError):  # plain immutable data, shared by every request
        second.active[0].conditions["tiers"] = ("vip",)  # type: ignore[index]
