"""The SLA sweep: warnings and breaches marked once, events after the commit, and the
policy's escalations run by themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import Event, MemoryEventBus
from ledgerdesk.jobs.context import JobContext
from ledgerdesk.jobs.registry import get_periodic
from ledgerdesk.realtime.models import StreamEvent
from ledgerdesk.settings import Settings
from ledgerdesk.sla import tasks
from ledgerdesk.sla.sweep import do_sweep_sla
from ledgerdesk.sla.tasks import run_sla_sweep
from tests.api_support import API
from tests.conftest import World
from tests.sla_support import clock, make_policy, shift_clock

MINUTE = timedelta(minutes=1)


def _listen(bus: MemoryEventBus) -> list[Event]:
    heard: list[Event] = []
    bus.add_listener({"sla"}, heard.append)
    return heard


async def _open(client: httpx.AsyncClient, world: World, **fields: object) -> int:
    customer = await world.make_customer()
    response = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": customer.id}, "body": "Deposit missing", **fields},
        headers=world.bob.headers,
    )
    assert response.status_code == 201, response.text
    number: int = response.json()["id"]
    return number


async def test_it_warns_at_the_share_then_breaches_at_the_due_time_once_each(
    client: httpx.AsyncClient, world: World, db: Database, bus: MemoryEventBus
) -> None:
    await make_policy(client, world.alice.headers, first_response_minutes=60, warn_share=0.5)
    number = await _open(client, world)
    first = await clock(db, number, "first_response")
    heard = _listen(bus)

    early = await run_sla_sweep(db, first.started_at + 29 * MINUTE, bus=bus)
    assert (early.warned, early.breached) == (0, 0)

    warned = await run_sla_sweep(db, first.started_at + 31 * MINUTE, bus=bus)
    assert (warned.warned, warned.breached) == (1, 0)
    assert [e.kind for e in heard] == ["sla.warning"]
    assert heard[0].data["conversation_id"] == number
    again = await run_sla_sweep(db, first.started_at + 32 * MINUTE, bus=bus)
    assert (again.warned, again.breached) == (0, 0)

    marked = await clock(db, number, "first_response")
    assert marked.warned_at is not None and marked.next_check_at == marked.due_at

    breached = await run_sla_sweep(db, first.started_at + 61 * MINUTE, bus=bus)
    assert (breached.warned, breached.breached) == (0, 1)
    assert [e.kind for e in heard] == ["sla.warning", "sla.breached"]
    assert (await run_sla_sweep(db, first.started_at + 600 * MINUTE, bus=bus)).breached == 0
    final = await clock(db, number, "first_response")
    assert final.breached_at is not None and final.next_check_at is None
    shown = (await client.get(f"{API}/conversations/{number}", headers=world.bob.headers)).json()
    assert shown["sla"][0]["state"] == "breached"


async def test_a_clock_overdue_before_its_warning_was_seen_is_breached_without_a_warning(
    client: httpx.AsyncClient, world: World, db: Database, bus: MemoryEventBus
) -> None:
    await make_policy(client, world.alice.headers, first_response_minutes=60)
    number = await _open(client, world)
    heard = _listen(bus)
    started = (await clock(db, number, "first_response")).started_at
    result = await run_sla_sweep(db, started + 3 * 60 * MINUTE, bus=bus)
    assert (result.warned, result.breached) == (0, 1)
    assert [e.kind for e in heard] == ["sla.breached"]


async def test_nothing_is_announced_when_the_sweep_is_rolled_back(
    client: httpx.AsyncClient, world: World, db: Database, bus: MemoryEventBus
) -> None:
    await make_policy(client, world.alice.headers, first_response_minutes=60)
    number = await _open(client, world)
    heard = _listen(bus)
    started = (await clock(db, number, "first_response")).started_at
    async with db.writer() as session, UnitOfWork(session, bus) as uow:
        result = await do_sweep_sla(uow, started + 2 * 60 * MINUTE)
        assert result.breached == 1
        await uow.rollback()
    assert heard == []
    assert (await clock(db, number, "first_response")).breached_at is None


async def test_paused_and_answered_clocks_are_not_swept(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await make_policy(client, world.alice.headers, first_response_minutes=60, resolution_minutes=60)
    answered = await _open(client, world)
    await client.post(
        f"{API}/conversations/{answered}/messages",
        json={"body": "On it"},
        headers=world.bob.headers,
    )
    waiting = await _open(client, world)
    await client.patch(
        f"{API}/conversations/{waiting}", json={"status": "pending"}, headers=world.bob.headers
    )
    started = (await clock(db, answered, "resolution")).started_at
    result = await run_sla_sweep(db, started + 10 * 60 * MINUTE)
    # Only the answered conversation's resolution clock is still running.
    assert (result.warned, result.breached) == (0, 1)
    assert result.conversation_ids == {answered}


async def test_a_breach_escalates_notify_reassign_and_raise_priority(
    client: httpx.AsyncClient, world: World, db: Database, bus: MemoryEventBus
) -> None:
    await make_policy(
        client,
        world.alice.headers,
        name="Urgent withdrawals",
        first_response_minutes=15,
        escalations=[
            {"type": "notify"},
            {"type": "reassign", "team_id": world.support.id, "agent_id": world.bob.agent.id},
            {"type": "raise_priority", "to": "urgent"},
        ],
    )
    number = await _open(client, world)
    notified: list[Event] = []
    bus.add_listener({"sla:notify"}, notified.append)
    started = (await clock(db, number, "first_response")).started_at

    result = await run_sla_sweep(db, started + 16 * MINUTE, bus=bus)
    assert result.escalations == 3
    async with db.sessionmaker() as session:
        conversation = await session.get(Conversation, number)
        assert conversation is not None
        assert (conversation.priority, conversation.team_id, conversation.assignee_id) == (
            "urgent",
            world.support.id,
            world.bob.agent.id,
        )
        assert conversation.status == "open"
        notes = (
            (
                await session.execute(
                    select(Message).where(
                        Message.conversation_id == number, Message.author_kind == "system"
                    )
                )
            )
            .scalars()
            .all()
        )
        assert len(notes) == 1 and notes[0].is_internal
        assert "first response" in notes[0].body and "Urgent withdrawals" in notes[0].body
        history = (
            await session.execute(
                select(ConversationEvent.kind, ConversationEvent.actor_kind).where(
                    ConversationEvent.conversation_id == number,
                    ConversationEvent.actor_kind == "system",
                )
            )
        ).all()
        assert sorted(kind for kind, _ in history) == [
            "assignee_changed",
            "priority_changed",
            "status_changed",
            "team_changed",
        ]
        stream = (
            (
                await session.execute(
                    select(StreamEvent.kind).where(StreamEvent.conversation_id == number)
                )
            )
            .scalars()
            .all()
        )
    assert "message.created" in stream and stream[-1] == "conversation.updated"
    assert [e.data["conversation_id"] for e in notified] == [number]
    # The raised priority does not re-select a policy: the clock keeps its policy.
    assert (await clock(db, number, "first_response")).breached_at is not None


async def test_reassigning_to_a_deactivated_agent_keeps_the_assignee(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    from ledgerdesk.accounts.models import Agent

    await make_policy(
        client,
        world.alice.headers,
        first_response_minutes=15,
        escalations=[{"type": "reassign", "agent_id": world.carol.agent.id}],
    )
    number = await _open(client, world)
    async with db.writer() as session:
        carol = await session.get(Agent, world.carol.agent.id)
        assert carol is not None
        carol.is_active = False
        await session.commit()
    started = (await clock(db, number, "first_response")).started_at
    result = await run_sla_sweep(db, started + 20 * MINUTE)
    assert (result.breached, result.escalations) == (1, 0)
    async with db.sessionmaker() as session:
        conversation = await session.get(Conversation, number)
        assert conversation is not None and conversation.assignee_id is None


async def test_the_task_commits_a_large_catch_up_in_steps(
    client: httpx.AsyncClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_policy(client, world.alice.headers, first_response_minutes=5, resolution_minutes=5)
    numbers = [await _open(client, world) for _ in range(4)]
    monkeypatch.setattr(tasks, "ROWS_PER_TRANSACTION", 3)
    started = (await clock(db, numbers[-1], "first_response")).started_at
    result = await run_sla_sweep(db, started + 60 * MINUTE)
    assert result.breached == 8
    assert result.conversation_ids == set(numbers)


async def test_an_admin_can_run_the_sweep_from_the_api(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(f"{API}/sla/sweep", headers=world.alice.headers)
    assert response.status_code == 200 and response.json() == {
        "warned": 0,
        "breached": 0,
        "escalated": 0,
    }
    assert (await client.post(f"{API}/sla/sweep", headers=world.bob.headers)).status_code == 403


async def test_the_sweep_is_a_periodic_job_that_sweeps(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings
) -> None:
    spec = get_periodic(tasks.SWEEP_KIND)
    assert spec is not None and spec.every == tasks.SWEEP_EVERY
    await make_policy(client, world.alice.headers, first_response_minutes=1)
    number = await _open(client, world)
    await shift_clock(db, (await clock(db, number, "first_response")).id, 5 * MINUTE)
    context = JobContext(
        db=db,
        settings=settings,
        bus=None,
        job_id=1,
        kind=tasks.SWEEP_KIND,
        attempt=1,
        max_attempts=1,
        run_at=datetime.now(UTC),
    )
    await tasks.sla_sweep_job(context, {})
    assert (await clock(db, number, "first_response")).breached_at is not None
