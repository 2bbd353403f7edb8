"""Jobs: hand on the work of agents who went offline (each team's setting decides)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import EventBus
from ledgerdesk.jobs import JobContext, periodic_job
from ledgerdesk.routing.actions import do_hand_off_offline_agents


@periodic_job("routing.handoff", every=timedelta(minutes=1))
async def hand_off(ctx: JobContext, payload: dict[str, Any]) -> None:
    await run_handoff(ctx.db, ctx.bus, datetime.now(UTC))


async def run_handoff(db: Database, bus: EventBus | None, now: datetime) -> int:
    async with db.writer() as session, UnitOfWork(session, bus) as uow:
        moved = await do_hand_off_offline_agents(uow, now)
        await uow.commit()
    return moved
