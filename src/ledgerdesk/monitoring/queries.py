"""Figures read from the database at scrape time: the job queue.

Both job backends keep a job's row ``queued`` until a worker claims it (the Redis
backend relays the row to saq but claims it in SQL before running it), so the
``jobs`` table answers "how much is waiting, and for how long" for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.jobs.models import DEAD, QUEUED, RUNNING, Job
from ledgerdesk.jobs.queries import oldest_due_age


@dataclass(frozen=True)
class QueueFigures:
    due_by_kind: dict[str, int]
    oldest_due_seconds: float
    running: int
    dead: int


async def queue_figures(session: AsyncSession, *, now: datetime) -> QueueFigures:
    rows = await session.execute(
        select(Job.kind, func.count())
        .where(Job.status == QUEUED, Job.run_at <= now)
        .group_by(Job.kind)
    )
    due = {str(kind): int(count) for kind, count in rows.all()}
    age = await oldest_due_age(session, now=now)
    counts = await session.execute(
        select(Job.status, func.count()).where(Job.status.in_((RUNNING, DEAD))).group_by(Job.status)
    )
    by_status = {str(status): int(count) for status, count in counts.all()}
    return QueueFigures(
        due_by_kind=due,
        oldest_due_seconds=max(0.0, age.total_seconds()) if age is not None else 0.0,
        running=by_status.get(RUNNING, 0),
        dead=by_status.get(DEAD, 0),
    )
