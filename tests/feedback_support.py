"""Helpers shared by the feedback tests: conversations through the API, the survey row,
and running the feedback jobs that are due at a given moment with the real handlers."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select, update

import ledgerdesk.feedback.tasks  # noqa: F401 (registers the job handlers)
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import EventBus
from ledgerdesk.feedback.models import Survey
from ledgerdesk.jobs.models import DONE, QUEUED, Job
from ledgerdesk.jobs.runner import run_attempt
from ledgerdesk.jobs.store import Claimed
from ledgerdesk.settings import Settings
from tests.api_support import API, Headers

LINK = re.compile(r"/survey/(\S+)")


async def open_conversation(
    client: httpx.AsyncClient, headers: Headers, customer: Customer, **fields: Any
) -> int:
    payload: dict[str, Any] = {
        "body": "My withdrawal is stuck",
        "channel": "email",
        "customer": {"id": customer.id},
        **fields,
    }
    response = await client.post(f"{API}/conversations", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def set_status(
    client: httpx.AsyncClient, headers: Headers, conversation_id: int, status: str
) -> None:
    response = await client.patch(
        f"{API}/conversations/{conversation_id}", json={"status": status}, headers=headers
    )
    assert response.status_code == 200, response.text


async def put_settings(client: httpx.AsyncClient, headers: Headers, **fields: Any) -> None:
    current = await client.get(f"{API}/feedback/settings", headers=headers)
    assert current.status_code == 200, current.text
    response = await client.put(
        f"{API}/feedback/settings", json={**current.json(), **fields}, headers=headers
    )
    assert response.status_code == 200, response.text


async def survey_of(db: Database, conversation_id: int) -> Survey | None:
    async with db.sessionmaker() as session:
        found = await session.execute(
            select(Survey).where(Survey.conversation_id == conversation_id)
        )
        return found.scalar_one_or_none()


async def conversation_of(db: Database, conversation_id: int) -> Conversation:
    async with db.sessionmaker() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    return conversation


async def events_of(db: Database, conversation_id: int, kind: str) -> list[dict[str, Any]]:
    async with db.sessionmaker() as session:
        found = await session.execute(
            select(ConversationEvent.data)
            .where(ConversationEvent.conversation_id == conversation_id)
            .where(ConversationEvent.kind == kind)
            .order_by(ConversationEvent.id)
        )
        return [dict(data) for data in found.scalars()]


async def messages_of(db: Database, conversation_id: int) -> list[Message]:
    async with db.sessionmaker() as session:
        found = await session.execute(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
        return list(found.scalars())


async def jobs_of(db: Database, conversation_id: int, status: str | None = None) -> list[Job]:
    async with db.sessionmaker() as session:
        found = await session.execute(
            select(Job).where(Job.kind.like("feedback.%")).order_by(Job.id)
        )
        jobs = [
            job for job in found.scalars() if job.payload.get("conversation_id") == conversation_id
        ]
    return [job for job in jobs if status is None or job.status == status]


async def run_due_feedback_jobs(
    db: Database, settings: Settings, bus: EventBus | None, *, now: datetime | None = None
) -> list[str]:
    """Run, with the registered handlers, the queued feedback jobs due at ``now``; return
    their kinds. Jobs not due yet stay queued, as a worker would leave them."""
    now = now or utcnow()
    async with db.sessionmaker() as session:
        found = await session.execute(
            select(Job)
            .where(Job.kind.like("feedback.%"), Job.status == QUEUED, Job.run_at <= now)
            .order_by(Job.run_at, Job.id)
        )
        due = list(found.scalars())
    for job in due:
        claimed = Claimed(job.id, job.kind, dict(job.payload), 1, job.max_attempts, job.run_at)
        error = await run_attempt(claimed, db=db, settings=settings, bus=bus)
        assert error is None, f"{job.kind} failed: {error!r}"
        async with db.writer() as session:
            await session.execute(
                update(Job).where(Job.id == job.id).values(status=DONE, finished_at=utcnow())
            )
            await session.commit()
    return [job.kind for job in due]


def link_token(body: str) -> str:
    found = LINK.search(body)
    assert found, f"no survey link in {body!r}"
    return found.group(1)


async def message_ids(db: Database, conversation_id: int) -> list[int]:
    return [message.id for message in await messages_of(db, conversation_id)]
