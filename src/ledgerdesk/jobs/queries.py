"""Reading the job table: one job, counts by status, and figures for metrics."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.jobs.models import QUEUED, Job


async def get_job(session: AsyncSession, job_id: int) -> Job | None:
    return await session.get(Job, job_id)


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(Job.status, func.count()).group_by(Job.status))
    return {status: int(count) for status, count in rows.all()}


async def queue_depth(session: AsyncSession, *, now: datetime) -> int:
    """Jobs due now and waiting for a worker (scheduled ones not yet due excluded)."""
    count = await session.scalar(
        select(func.count()).select_from(Job).where(Job.status == QUEUED, Job.run_at <= now)
    )
    return int(count or 0)


async def oldest_due_age(session: AsyncSession, *, now: datetime) -> timedelta | None:
    """How long the longest-waiting due job has waited (None: nothing is waiting).
    Growing means the workers do not keep up."""
    oldest = await session.scalar(
        select(Job.run_at)
        .where(Job.status == QUEUED, Job.run_at <= now)
        .order_by(Job.run_at)
        .limit(1)
    )
    return None if oldest is None else now - oldest
