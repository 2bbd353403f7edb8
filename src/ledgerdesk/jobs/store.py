"""A job's life on its row, shared by both backends: claim, finish, fail, release.

Every transition after the claim is fenced on ``(id, status='running', attempts)``:
a worker that lost its lease (it stalled, another took the job over) cannot
overwrite the newer attempt's outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update

from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.jobs.actions import do_enqueue_job
from ledgerdesk.jobs.models import DEAD, DONE, QUEUED, RUNNING, Job
from ledgerdesk.jobs.registry import get_periodic, periodic_dedup_key, periodic_jobs

log = logging.getLogger(__name__)

LEASE_LOST_ERROR = "the worker stopped during the attempt (its lease expired)"


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a worker needs to run one attempt, detached from any session."""

    id: int
    kind: str
    payload: dict[str, object]
    attempt: int
    max_attempts: int
    run_at: datetime


def _claimed(job: Job) -> Claimed:
    return Claimed(job.id, job.kind, dict(job.payload), job.attempts, job.max_attempts, job.run_at)


async def claim_due(
    uow: UnitOfWork, *, worker_id: str, limit: int, lease: timedelta, now: datetime
) -> list[Claimed]:
    """Take up to ``limit`` due jobs: queued ones whose time has come, and running
    ones whose worker's lease expired (it died). Rows other workers are claiming
    are skipped (PostgreSQL); SQLite writers take turns anyway."""
    session = uow.session
    due = or_(
        and_(Job.status == QUEUED, Job.run_at <= now),
        and_(Job.status == RUNNING, Job.locked_until <= now),
    )
    candidates = select(Job.id).where(due).order_by(Job.run_at, Job.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    result = await session.execute(
        update(Job)
        .where(Job.id.in_(candidates.scalar_subquery()))
        .values(
            status=RUNNING,
            attempts=Job.attempts + 1,
            locked_by=worker_id,
            locked_until=now + lease,
            started_at=now,
        )
        .returning(Job)
        .execution_options(synchronize_session=False)
    )
    claimed: list[Claimed] = []
    for job in result.scalars().all():
        if job.attempts > job.max_attempts:
            # Its last attempt was cut short by a crash: that attempt counted.
            await finish_failed(
                uow, _claimed(job), LEASE_LOST_ERROR, retry_at=None, now=now, counted=False
            )
            continue
        claimed.append(_claimed(job))
    return sorted(claimed, key=lambda job: (job.run_at, job.id))


async def claim_one(
    uow: UnitOfWork, job_id: int, *, worker_id: str, lease: timedelta, now: datetime
) -> Claimed | None:
    """Start an attempt of one job (Redis backend: the queue chose it). None when
    the job is no longer pending (done, dead, cancelled, gone) or another worker
    holds a live lease on it (the queue handed it out twice)."""
    claimable = or_(Job.status == QUEUED, and_(Job.status == RUNNING, Job.locked_until <= now))
    result = await uow.session.execute(
        update(Job)
        .where(Job.id == job_id, claimable)
        .values(
            status=RUNNING,
            attempts=Job.attempts + 1,
            locked_by=worker_id,
            locked_until=now + lease,
            started_at=now,
        )
        .returning(Job)
        .execution_options(synchronize_session=False)
    )
    job = result.scalars().first()
    return None if job is None else _claimed(job)


async def extend_leases(
    uow: UnitOfWork, job_ids: list[int], *, worker_id: str, until: datetime
) -> None:
    if not job_ids:
        return
    await uow.session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.status == RUNNING, Job.locked_by == worker_id)
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )


async def finish_done(uow: UnitOfWork, job: Claimed, *, now: datetime) -> bool:
    """Mark the attempt's job done; False when this worker no longer held it."""
    result = await uow.session.execute(
        update(Job)
        .where(*_fence(job))
        .values(status=DONE, finished_at=now, locked_by=None, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        log.warning("job %s (%s) finished after losing its lease", job.id, job.kind)
        return False
    await _schedule_next_run(uow, job, now)
    return True


async def finish_failed(
    uow: UnitOfWork,
    job: Claimed,
    error: str,
    *,
    retry_at: datetime | None,
    now: datetime,
    counted: bool = True,
) -> str | None:
    """Record a failed attempt: queued again at ``retry_at``, or dead when there is
    none or no attempt is left. Returns the new status (None if fenced out)."""
    dead = retry_at is None or (counted and job.attempt >= job.max_attempts)
    values: dict[str, object] = {"last_error": error, "locked_by": None, "locked_until": None}
    if dead:
        values.update(status=DEAD, finished_at=now)
    else:
        values.update(status=QUEUED, run_at=retry_at)
    if not counted:
        values["attempts"] = job.max_attempts
    result = await uow.session.execute(
        update(Job)
        .where(*_fence(job))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        log.warning("job %s (%s) failed after losing its lease", job.id, job.kind)
        return None
    if dead:
        log.error("job %s (%s) is dead after %s attempts: %s", job.id, job.kind, job.attempt, error)
        await _schedule_next_run(uow, job, now)
        return DEAD
    return QUEUED


async def release(uow: UnitOfWork, job: Claimed, *, now: datetime) -> None:
    """Give a job back without counting the attempt (the worker is shutting down)."""
    await uow.session.execute(
        update(Job)
        .where(*_fence(job))
        .values(
            status=QUEUED,
            attempts=Job.attempts - 1,
            run_at=now,
            locked_by=None,
            locked_until=None,
        )
        .execution_options(synchronize_session=False)
    )


async def ensure_periodic_jobs(uow: UnitOfWork, *, now: datetime) -> None:
    """Make sure every registered periodic job has its one pending row."""
    for spec in periodic_jobs():
        await do_enqueue_job(
            uow, spec.kind, {}, run_at=now, dedup_key=periodic_dedup_key(spec.kind)
        )


async def next_due(uow: UnitOfWork) -> datetime | None:
    """When the next queued job is due or the next lease expires (for sleeping)."""
    session = uow.session
    queued = await session.scalar(
        select(Job.run_at).where(Job.status == QUEUED).order_by(Job.run_at).limit(1)
    )
    lease = await session.scalar(
        select(Job.locked_until)
        .where(Job.status == RUNNING, Job.locked_until.is_not(None))
        .order_by(Job.locked_until)
        .limit(1)
    )
    moments = [moment for moment in (queued, lease) if moment is not None]
    return min(moments) if moments else None


def _fence(job: Claimed) -> tuple[ColumnElement[bool], ...]:
    return (Job.id == job.id, Job.status == RUNNING, Job.attempts == job.attempt)


async def _schedule_next_run(uow: UnitOfWork, job: Claimed, now: datetime) -> None:
    spec = get_periodic(job.kind)
    if spec is None:
        return
    # Missed runs (the install was down) are not made up: one run now, then the rhythm.
    await do_enqueue_job(
        uow,
        job.kind,
        {},
        run_at=max(job.run_at + spec.every, now),
        dedup_key=periodic_dedup_key(job.kind),
    )
