"""Helpers shared by the SLA tests: policies, calendars and clocks through the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from ledgerdesk.db.engine import Database
from ledgerdesk.sla.models import ConversationSla
from tests.api_support import API, Headers

OFFICE_HOURS = {
    "name": "London office",
    "time_zone": "Europe/London",
    "week": {
        day: [{"start": "09:00", "end": "12:30"}, {"start": "13:30", "end": "18:00"}]
        for day in ("mon", "tue", "wed", "thu", "fri")
    },
    "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}],
}


async def make_policy(client: httpx.AsyncClient, headers: Headers, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"name": "Default", "first_response_minutes": 60, **fields}
    response = await client.post(f"{API}/sla/policies", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def clocks_of(db: Database, conversation_id: int) -> list[ConversationSla]:
    async with db.sessionmaker() as session:
        found = await session.execute(
            select(ConversationSla)
            .where(ConversationSla.conversation_id == conversation_id)
            .order_by(ConversationSla.id)
        )
        return list(found.scalars())


async def clock(db: Database, conversation_id: int, metric: str) -> ConversationSla:
    """The latest clock of a metric."""
    found = [c for c in await clocks_of(db, conversation_id) if c.metric == metric]
    assert found, f"no {metric} clock on conversation {conversation_id}"
    return found[-1]


async def shift_clock(db: Database, clock_id: int, by: timedelta, **extra: Any) -> None:
    """Move a clock's times back by ``by``, as if it had started that much earlier."""
    async with db.writer() as session:
        row = await session.get(ConversationSla, clock_id)
        assert row is not None
        values: dict[str, datetime | None] = {
            "started_at": row.started_at - by,
            "warn_at": row.warn_at - by,
            "due_at": row.due_at - by,
            "next_check_at": row.next_check_at - by if row.next_check_at else None,
            "paused_at": row.paused_at - by if row.paused_at else None,
        }
        await session.execute(
            update(ConversationSla)
            .where(ConversationSla.id == clock_id)
            .values({**values, **extra})
        )
        await session.commit()
