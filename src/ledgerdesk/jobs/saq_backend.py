"""The Redis backend: a relay from the ``jobs`` table to a saq queue, and saq workers.

Redis cannot join the SQL transaction, so the job row is the outbox: it is
written with the change, and after the commit a relay (in every worker process)
hands due rows to the saq queue and marks them ``relayed_at``. saq then gives
each job to one worker process, heartbeats it, retries it with backoff after a
failure, and sweeps a job whose worker died back into the queue.

The row stays the record: a saq job carries only the row's id, and the worker
claims the row before running the handler, so a job cancelled in SQL is skipped,
and outcomes (done, dead with its error) are written back to the row.

Scheduled jobs stay in SQL until they are due (they can be cancelled or moved in
the transaction of a change); the relay sends a row when it is due. Should Redis
lose its data, rows that were relayed but not finished long after they should
have are relayed again (saq ignores a key it still holds).
"""

from __future__ import annotations

import asyncio
import logging
import math
from contextlib import suppress
from datetime import datetime, timedelta

from saq.job import Job as SaqJob
from saq.queue.redis import RedisQueue
from saq.types import Context, PartialTimersDict
from saq.worker import Worker
from sqlalchemy import and_, or_, select, update

from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import EventBus
from ledgerdesk.jobs.actions import WAKE_TOPIC
from ledgerdesk.jobs.models import QUEUED, RUNNING, Job
from ledgerdesk.jobs.outcomes import OutcomeWriter
from ledgerdesk.jobs.registry import DEFAULT_TIMEOUT_SECONDS, get_handler
from ledgerdesk.jobs.runner import run_attempt
from ledgerdesk.jobs.sql_worker import new_worker_id
from ledgerdesk.jobs.store import (
    claim_one,
    ensure_periodic_jobs,
    extend_leases,
    release,
)
from ledgerdesk.settings import Settings

log = logging.getLogger(__name__)

SAQ_FUNCTION = "ledgerdesk.job"
RELAY_BATCH = 200
# Relay a row this long before its time; saq's scheduler (1 s ticks) holds it.
RELAY_AHEAD = timedelta(seconds=1)
# A relayed row unfinished this many leases after it was due is relayed again.
RESEND_AFTER_LEASES = 5


def queue_name(settings: Settings) -> str:
    return f"{settings.redis_channel_prefix}jobs"


def saq_key(job_id: int) -> str:
    return f"job-{job_id}"


class AttemptFailed(Exception):
    """Tells saq to retry; carries the masked one-line error, not the traceback."""


class SaqRunner:
    """Relay plus saq worker, for ``ledgerdesk worker`` (and ``serve`` when configured)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        bus: EventBus | None,
        *,
        worker_id: str | None = None,
        queue: RedisQueue | None = None,
    ) -> None:
        if settings.redis_url is None:
            raise ValueError("the Redis job queue needs LEDGERDESK_REDIS_URL")
        self.db = db
        self.settings = settings
        self.bus = bus
        self.worker_id = worker_id or new_worker_id()
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.queue: RedisQueue = queue or RedisQueue.from_url(
            settings.redis_url.get_secret_value(), name=queue_name(settings)
        )
        heartbeat = max(1, math.ceil(settings.job_lease_seconds))
        self.worker: Worker[Context] = Worker(
            self.queue,
            functions=[(SAQ_FUNCTION, self._perform)],
            id=self.worker_id,
            concurrency=settings.job_concurrency,
            timers=PartialTimersDict(
                sweep=max(1, heartbeat // 2), schedule=1, abort=1, worker_info=10
            ),
            shutdown_grace_period_s=math.ceil(settings.job_shutdown_grace_seconds),
        )
        # The process owns its signals (ledgerdesk worker / uvicorn), not saq.
        self.worker.SIGNALS = []
        self._heartbeat = heartbeat
        self._outcomes = OutcomeWriter(db, settings, bus)
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.queue.connect()
        if self.bus is not None:
            self.bus.add_listener({WAKE_TOPIC}, lambda _event: self._wake.set())
        self._stopping = False
        self._outcomes.start()
        self._tasks = [
            asyncio.create_task(self._relay_loop(), name="jobs-relay"),
            asyncio.create_task(self.worker.start(), name="jobs-saq-worker"),
        ]
        log.info(
            "job worker %s started (Redis queue %s, concurrency %s)",
            self.worker_id,
            self.queue.name,
            self.worker.concurrency,
        )

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if not self._tasks:
            return
        self._stopping = True
        self._wake.set()
        await self.worker.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._outcomes.stop()
        await self.queue.disconnect()
        log.info("job worker %s stopped", self.worker_id)

    # The relay -----------------------------------------------------------

    async def _relay_loop(self) -> None:
        periodic_ready = False
        poll = self.settings.job_poll_seconds
        while not self._stopping:
            self._wake.clear()
            wait = poll
            try:
                if not periodic_ready:
                    async with self.db.writer() as session, UnitOfWork(session) as uow:
                        await ensure_periodic_jobs(uow, now=utcnow())
                        await uow.commit()
                    periodic_ready = True
                await self.resend_lost()
                if await self.relay_once() == RELAY_BATCH:
                    continue
                wait = await self._seconds_to_next_due(poll)
            except Exception:
                log.exception("the job relay failed; retrying")
            if self._stopping:
                break
            with suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def relay_once(self) -> int:
        """Hand the due, unrelayed rows to the queue; returns how many."""
        now = utcnow()
        async with self.db.writer() as session, UnitOfWork(session) as uow:
            query = (
                select(Job)
                .where(Job.status == QUEUED, Job.run_at <= now + RELAY_AHEAD)
                .where(Job.relayed_at.is_(None))
                .order_by(Job.run_at, Job.id)
                .limit(RELAY_BATCH)
            )
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.execute(query)).scalars().all())
            for row in rows:
                # saq ignores a key it already holds, so sending twice is harmless.
                await self.queue.enqueue(self._saq_job(row, now))
            if rows:
                await session.execute(
                    update(Job)
                    .where(Job.id.in_([row.id for row in rows]))
                    .values(relayed_at=now)
                    .execution_options(synchronize_session=False)
                )
            await uow.commit()
        return len(rows)

    async def resend_lost(self) -> int:
        """Mark for relaying again the rows saq should long have finished (Redis lost them)."""
        cutoff = utcnow() - self.lease * RESEND_AFTER_LEASES
        async with self.db.writer() as session, UnitOfWork(session) as uow:
            result = await session.execute(
                update(Job)
                .where(
                    or_(
                        and_(Job.status == QUEUED, Job.run_at <= cutoff),
                        and_(Job.status == RUNNING, Job.locked_until <= cutoff),
                    ),
                    Job.relayed_at <= cutoff,
                )
                .values(relayed_at=None)
                .execution_options(synchronize_session=False)
            )
            await uow.commit()
        count = int(result.rowcount)  # type: ignore[attr-defined]
        if count:
            log.warning("relaying %s jobs again that the Redis queue did not finish", count)
        return count

    def _saq_job(self, row: Job, now: datetime) -> SaqJob:
        spec = get_handler(row.kind)
        timeout = spec.timeout if spec else DEFAULT_TIMEOUT_SECONDS
        return SaqJob(
            function=SAQ_FUNCTION,
            kwargs={"job_id": row.id},
            key=saq_key(row.id),
            # Our own timeout fires first and records the failure.
            timeout=math.ceil(timeout + self.lease.total_seconds()),
            heartbeat=self._heartbeat,
            retries=max(1, row.max_attempts - row.attempts),
            # Due now: straight onto the queue; due within RELAY_AHEAD: saq's scheduler.
            scheduled=0 if row.run_at <= now else math.ceil(row.run_at.timestamp()),
            # The row is the record; saq keeps a finished job ten minutes (its sweeper
            # reads a job it aborted once more, and fails if the job is gone).
            ttl=600,
        )

    async def _seconds_to_next_due(self, poll: float) -> float:
        async with self.db.session() as session:
            moment: datetime | None = await session.scalar(
                select(Job.run_at)
                .where(Job.status == QUEUED, Job.relayed_at.is_(None))
                .order_by(Job.run_at)
                .limit(1)
            )
        if moment is None:
            return poll
        seconds = (moment - RELAY_AHEAD - utcnow()).total_seconds()
        return poll if seconds <= 0 else min(poll, seconds + 0.005)

    # The saq function ----------------------------------------------------------

    async def _perform(self, ctx: Context, *, job_id: int) -> None:
        saq_job = ctx.get("job")
        if self._stopping:
            # saq still hands out jobs during its shutdown grace; leave them to the next worker.
            if saq_job is not None:
                saq_job.retry_delay = 0
                saq_job.retry_backoff = False
            raise AttemptFailed("the worker is stopping")
        now = utcnow()
        async with self.db.writer() as session, UnitOfWork(session) as uow:
            claimed = await claim_one(
                uow, job_id, worker_id=self.worker_id, lease=self.lease, now=now
            )
            await uow.commit()
        if claimed is None:
            return  # cancelled, finished, or retried by hand meanwhile
        beat = asyncio.create_task(self._beat(saq_job, claimed.id))
        try:
            error = await run_attempt(claimed, db=self.db, settings=self.settings, bus=self.bus)
        except asyncio.CancelledError:
            # The worker is stopping; saq queues the job again. This attempt did not count.
            with suppress(Exception):
                async with self.db.writer() as session, UnitOfWork(session) as uow:
                    await release(uow, claimed, now=utcnow())
                    await uow.commit()
            raise
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
        recorded = await self._outcomes.record(claimed, error)
        if recorded.status == QUEUED and recorded.retry_at is not None:
            if saq_job is not None:
                # saq waits exactly our delay: the same backoff and jitter as the SQL worker.
                saq_job.retry_delay = max(0.0, (recorded.retry_at - utcnow()).total_seconds())
                saq_job.retry_backoff = False
            raise AttemptFailed(recorded.error)

    async def _beat(self, saq_job: SaqJob | None, job_id: int) -> None:
        # saq's heartbeat tells its sweeper the job is alive; the row's lease tells
        # the relay (resend_lost) the same.
        while True:
            await asyncio.sleep(self._heartbeat / 3)
            try:
                if saq_job is not None:
                    await saq_job.update()
                async with self.db.writer() as session, UnitOfWork(session) as uow:
                    await extend_leases(
                        uow, [job_id], worker_id=self.worker_id, until=utcnow() + self.lease
                    )
                    await uow.commit()
            except Exception:
                log.exception("the heartbeat of job %s failed", job_id)
