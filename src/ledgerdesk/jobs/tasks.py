"""Built-in periodic job: retention of finished jobs and old real-time stream entries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.jobs.context import JobContext
from ledgerdesk.jobs.models import CANCELLED, DEAD, DONE, Job
from ledgerdesk.jobs.registry import periodic_job
from ledgerdesk.realtime.models import StreamEvent
from ledgerdesk.settings import Settings

RETENTION_KIND = "jobs.retention"
# Deleting in small transactions keeps SQLite's single writer free for requests.
BATCH = 1000


@periodic_job(RETENTION_KIND, every=timedelta(hours=1))
async def prune(ctx: JobContext, payload: dict[str, Any]) -> None:
    await prune_old_rows(ctx.db, ctx.settings, now=utcnow())


async def prune_old_rows(db: Database, settings: Settings, *, now: datetime) -> dict[str, int]:
    """Delete finished jobs and stream entries past their retention; return counts."""
    return {
        "jobs": await _prune_jobs(
            db, (DONE, CANCELLED), now - timedelta(days=settings.job_retention_days)
        ),
        "dead_jobs": await _prune_jobs(
            db, (DEAD,), now - timedelta(days=settings.job_dead_retention_days)
        ),
        "stream_events": await _prune_stream(
            db, now - timedelta(days=settings.stream_retention_days)
        ),
    }


async def _prune_jobs(db: Database, statuses: tuple[str, ...], cutoff: datetime) -> int:
    total = 0
    while True:
        async with db.writer() as session:
            ids = list(
                (
                    await session.scalars(
                        select(Job.id)
                        .where(Job.status.in_(statuses), Job.finished_at < cutoff)
                        .limit(BATCH)
                    )
                ).all()
            )
            if ids:
                await session.execute(delete(Job).where(Job.id.in_(ids)))
            await session.commit()
        total += len(ids)
        if len(ids) < BATCH:
            return total


async def _prune_stream(db: Database, cutoff: datetime) -> int:
    # Ids grow with time: look at the oldest entries by id (the primary key, no
    # index on created_at needed) and stop at the first batch holding a young one.
    total = 0
    while True:
        async with db.writer() as session:
            rows = (
                await session.execute(
                    select(StreamEvent.id, StreamEvent.created_at)
                    .order_by(StreamEvent.id)
                    .limit(BATCH)
                )
            ).all()
            old = [row.id for row in rows if row.created_at < cutoff]
            if old:
                await session.execute(delete(StreamEvent).where(StreamEvent.id.in_(old)))
            await session.commit()
        total += len(old)
        if len(old) < len(rows) or len(rows) < BATCH:
            return total
