"""Rules on SLA events: the sweep's breach becomes a durable job that runs the rules once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select

from ledgerdesk.automation import listeners
from ledgerdesk.automation.tasks import SLA_EVENT_JOB, run_sla_event
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.jobs.models import Job
from ledgerdesk.sla.tasks import run_sla_sweep
from tests.automation_support import conversation, make_rule, open_conversation
from tests.conftest import World
from tests.sla_support import clock, make_policy, shift_clock


async def _sla_jobs(db: Database, want: int) -> list[Job]:
    for _ in range(200):
        async with db.session() as session:
            found = list(
                (await session.execute(select(Job).where(Job.kind == SLA_EVENT_JOB))).scalars()
            )
        if len(found) >= want:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(found)} {SLA_EVENT_JOB} jobs, not {want}")


async def test_a_breach_runs_the_breach_rules_once_per_clock(
    client: httpx.AsyncClient, world: World, db: Database, bus: MemoryEventBus
) -> None:
    headers = world.alice.headers
    await make_policy(client, headers, first_response_minutes=30)
    await make_rule(
        client,
        headers,
        name="breach",
        trigger="sla.breached",
        conditions=[{"field": "status", "op": "any_of", "value": ["new", "open"]}],
        actions=[
            {"type": "escalate", "team_id": world.support.id},
            {"type": "add_tags", "tags": ["sla-breached"]},
        ],
    )
    dana = await world.make_customer()
    late = (await open_conversation(client, headers, dana.id, "where is my deposit"))["id"]
    on_time = (await open_conversation(client, headers, dana.id, "hello"))["id"]
    first = await clock(db, late, "first_response")
    await shift_clock(db, first.id, timedelta(hours=2))

    swept = await run_sla_sweep(db, bus=bus)  # the app's listener hears the breach
    assert swept.breached >= 1
    jobs = await _sla_jobs(db, 1)
    assert [job.payload["conversation_id"] for job in jobs] == [late]

    assert len(await run_sla_event(db, None, jobs[0].payload)) == 1
    assert await run_sla_event(db, None, jobs[0].payload) == []  # the same clock: once
    found = await conversation(db, late)
    assert (found.priority, found.team_id, found.tags) == (
        "urgent",
        world.support.id,
        ["sla-breached"],
    )
    assert (await conversation(db, on_time)).tags == []


async def test_no_job_is_queued_when_no_rule_listens_to_sla_events(
    client: httpx.AsyncClient, world: World, db: Database, bus: MemoryEventBus
) -> None:
    headers = world.alice.headers
    await make_policy(client, headers, first_response_minutes=30)
    dana = await world.make_customer()
    late = (await open_conversation(client, headers, dana.id, "x"))["id"]
    first = await clock(db, late, "first_response")
    await shift_clock(db, first.id, timedelta(hours=2))
    await run_sla_sweep(db, bus=bus)
    await listeners.drain()  # the listener's task ran and decided to do nothing
    async with db.session() as session:
        found = (await session.execute(select(Job).where(Job.kind == SLA_EVENT_JOB))).first()
    assert found is None
