"""Enqueuing and cancelling jobs, inside the caller's unit of work.

A job row is written in the same transaction as the change that causes it: a
rolled-back change leaves no job, and a committed one always has its job. After
the commit one bus event ("jobs.enqueued" on topic ``jobs``) wakes the workers
at once; without it they find the job on their next poll.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.db.base import utcnow
from ledgerdesk.db.persist import insert_now, insert_now_unless_exists
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict
from ledgerdesk.events.bus import Event
from ledgerdesk.jobs.models import CANCELLED, DEAD, PENDING_STATUSES, PENDING_WHERE, QUEUED, Job
from ledgerdesk.jobs.registry import DEFAULT_MAX_ATTEMPTS, check_kind, get_handler

WAKE_TOPIC = "jobs"
WAKE_KIND = "jobs.enqueued"
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_DEDUP_KEY_LENGTH = 200
_WAKE_STAGE = "jobs.wake"


async def do_enqueue_job(
    uow: UnitOfWork,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    delay: timedelta | None = None,
    dedup_key: str | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Stage a job that runs once the unit of work commits (at ``run_at`` or after ``delay``).

    ``payload`` must be JSON (ids and small values; the handler reads the rest when
    it runs). With a ``dedup_key``, enqueuing while a job with that key is queued
    or running returns that job unchanged instead of adding a second one.
    ``max_attempts`` defaults to the handler's registration, else 10.
    """
    check_kind(kind)
    payload = {} if payload is None else payload
    _check_payload(payload)
    if run_at is not None and delay is not None:
        raise ValueError("give run_at or delay, not both")
    now = utcnow()
    if run_at is not None:
        if run_at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware (use datetime.now(UTC))")
        due = run_at.astimezone(UTC)
    else:
        due = now + (delay or timedelta(0))
    if max_attempts is None:
        spec = get_handler(kind)
        max_attempts = spec.max_attempts if spec else DEFAULT_MAX_ATTEMPTS
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if dedup_key is not None and not 0 < len(dedup_key) <= MAX_DEDUP_KEY_LENGTH:
        raise ValueError(f"dedup_key must be 1 to {MAX_DEDUP_KEY_LENGTH} characters")

    job = Job(
        kind=kind,
        payload=payload,
        status=QUEUED,
        run_at=due,
        attempts=0,
        max_attempts=max_attempts,
        dedup_key=dedup_key,
        created_at=now,
    )
    if dedup_key is None:
        await insert_now(uow.session, job)
    else:
        # The pending-key index decides, also between two transactions racing for the
        # key. The pending job it met may finish before it is read: then try again.
        for _ in range(_ENQUEUE_TRIES):
            if await insert_now_unless_exists(uow.session, job, _DEDUP_KEY, PENDING_WHERE):
                break
            existing = await _pending_with_key(uow, dedup_key)
            if existing is not None:
                return existing
        else:
            raise Conflict(f"the job {dedup_key!r} kept finishing while it was enqueued again")
    _wake_after_commit(uow)
    return job


async def do_cancel_jobs(
    uow: UnitOfWork, *, job_id: int | None = None, dedup_key: str | None = None
) -> int:
    """Cancel queued jobs by id or dedup key (an SLA warning once the customer was
    answered); returns how many. A running job finishes: its handler should check
    that its work is still wanted."""
    if (job_id is None) == (dedup_key is None):
        raise ValueError("give job_id or dedup_key")
    condition = Job.id == job_id if job_id is not None else Job.dedup_key == dedup_key
    result = await uow.session.execute(
        update(Job)
        .where(condition, Job.status == QUEUED)
        .values(status=CANCELLED, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def do_retry_dead_job(uow: UnitOfWork, job_id: int) -> bool:
    """Give a dead job a fresh set of attempts (after the cause was fixed)."""
    result = await uow.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == DEAD)
        .values(
            status=QUEUED,
            attempts=0,
            run_at=utcnow(),
            finished_at=None,
            relayed_at=None,
            locked_by=None,
            locked_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        _wake_after_commit(uow)
        return True
    return False


async def _pending_with_key(uow: UnitOfWork, dedup_key: str) -> Job | None:
    result = await uow.session.execute(
        select(Job).where(Job.dedup_key == dedup_key, Job.status.in_(PENDING_STATUSES))
    )
    return result.scalars().first()


_DEDUP_KEY = ("dedup_key",)
# A pending twin finishing between our insert and our read is rare; three in a row is not.
_ENQUEUE_TRIES = 3


def _wake_after_commit(uow: UnitOfWork) -> None:
    # One event per transaction, however many jobs it enqueued.
    staged = uow.staged(_WAKE_STAGE)
    if not staged:
        staged.append(True)
        uow.emit(Event(WAKE_KIND, (WAKE_TOPIC,)))


def _check_payload(payload: dict[str, Any]) -> None:
    if not isinstance(payload, dict):
        raise TypeError("a job payload is a dict")
    try:
        encoded = json.dumps(payload, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"a job payload must be plain JSON: {exc}") from None
    if len(encoded.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"a job payload is at most {MAX_PAYLOAD_BYTES} bytes of JSON; "
            "store ids and let the handler load the rest"
        )


async def do_retry_job(uow: UnitOfWork, *, actor: Principal, job: Job) -> None:
    """An admin sends a job that failed for good back to the queue, due now, with a
    fresh set of attempts (the cause was fixed: the receiver is up again). Audited."""
    actor.require_admin()
    if not await do_retry_dead_job(uow, job.id):
        # Another admin (or tab) retried or discarded it in the meantime.
        raise Conflict(f"job {job.id} has not failed for good any more")
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="job.retried",
        object_type="job",
        object_id=job.id,
        detail={"kind": job.kind, "attempts": job.attempts},
        ip=actor.ip,
    )


async def do_discard_job(uow: UnitOfWork, *, actor: Principal, job: Job) -> None:
    """An admin gives up on a job that failed for good: it leaves the list of failed
    jobs and is never run. The row stays (cancelled, its last error kept) until
    retention removes it, and the audit log says who discarded it."""
    actor.require_admin()
    result = await uow.session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == DEAD)
        .values(status=CANCELLED, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise Conflict(f"job {job.id} has not failed for good any more")
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="job.discarded",
        object_type="job",
        object_id=job.id,
        detail={"kind": job.kind, "attempts": job.attempts},
        ip=actor.ip,
    )
