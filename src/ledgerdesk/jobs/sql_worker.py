"""The embedded worker: runs jobs from the SQL database, inside any process.

It claims due rows with a lease (``store.claim_due``), runs up to
``job_concurrency`` at once, extends the leases of what it runs, and records each
outcome. A worker that dies leaves its jobs running with a lease that expires;
any worker then claims them again. It sleeps until the next job is due, at most
``job_poll_seconds``, and wakes at once when a transaction in this process (or,
on the Redis bus, any process) enqueued a job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from contextlib import suppress
from datetime import timedelta

from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import EventBus
from ledgerdesk.jobs.actions import WAKE_TOPIC
from ledgerdesk.jobs.outcomes import OutcomeWriter
from ledgerdesk.jobs.runner import run_attempt
from ledgerdesk.jobs.store import (
    Claimed,
    claim_due,
    ensure_periodic_jobs,
    extend_leases,
    next_due,
    release,
)
from ledgerdesk.settings import Settings

log = logging.getLogger(__name__)

# Recording an outcome is retried this often before the lease is left to expire.
RECORD_TRIES = 5


def new_worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SqlWorker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        bus: EventBus | None,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.bus = bus
        self.worker_id = worker_id or new_worker_id()
        self.concurrency = settings.job_concurrency
        self.poll = settings.job_poll_seconds
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._lease_task: asyncio.Task[None] | None = None
        self._running: dict[int, asyncio.Task[None]] = {}
        self._outcomes = OutcomeWriter(db, settings, bus)

    async def start(self) -> None:
        if self._loop_task is not None:
            raise RuntimeError("the worker is already running")
        self._stopping = False
        if self.bus is not None:
            self.bus.add_listener({WAKE_TOPIC}, lambda _event: self._wake.set())
        self._loop_task = asyncio.create_task(self._main(), name="jobs-sql-worker")
        self._lease_task = asyncio.create_task(self._keep_leases(), name="jobs-sql-leases")
        self._outcomes.start()
        log.info("job worker %s started (SQL, concurrency %s)", self.worker_id, self.concurrency)

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming, let running jobs finish for the grace period, then cancel
        them (they are given back, not counted as attempts)."""
        if self._loop_task is None:
            return
        self._stopping = True
        self._wake.set()
        await self._loop_task
        running = list(self._running.values())
        if running:
            _done, pending = await asyncio.wait(
                running, timeout=self.settings.job_shutdown_grace_seconds
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._lease_task is not None:
            self._lease_task.cancel()
            await asyncio.gather(self._lease_task, return_exceptions=True)
        await self._outcomes.stop()
        self._loop_task = self._lease_task = None
        log.info("job worker %s stopped", self.worker_id)

    async def _main(self) -> None:
        periodic_ready = False
        while not self._stopping:
            self._wake.clear()
            wait = self.poll
            try:
                if not periodic_ready:
                    await self._ensure_periodic()
                    periodic_ready = True
                free = self.concurrency - len(self._running)
                if free > 0:
                    claimed = await self._claim(free)
                    for job in claimed:
                        self._spawn(job)
                    if len(claimed) == free:
                        continue  # perhaps more are due; come back when a slot frees
                    wait = await self._seconds_to_next_due()
            except Exception:
                log.exception("the job worker could not reach the database; retrying")
            if self._stopping:
                break
            with suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def _ensure_periodic(self) -> None:
        async with self.db.writer() as session, UnitOfWork(session) as uow:
            await ensure_periodic_jobs(uow, now=utcnow())
            await uow.commit()

    async def _claim(self, limit: int) -> list[Claimed]:
        async with self.db.writer() as session, UnitOfWork(session, self.bus) as uow:
            claimed = await claim_due(
                uow, worker_id=self.worker_id, limit=limit, lease=self.lease, now=utcnow()
            )
            await uow.commit()
        return claimed

    async def _seconds_to_next_due(self) -> float:
        async with self.db.session() as session:
            moment = await next_due(UnitOfWork(session))
        if moment is None:
            return self.poll
        seconds = (moment - utcnow()).total_seconds()
        # A due job we could not claim is being claimed by another worker: poll.
        # A small margin keeps us from waking a hair early and spinning.
        return self.poll if seconds <= 0 else min(self.poll, seconds + 0.005)

    def _spawn(self, job: Claimed) -> None:
        task = asyncio.create_task(self._execute(job), name=f"job-{job.id}")
        self._running[job.id] = task

        def finished(_task: asyncio.Task[None]) -> None:
            self._running.pop(job.id, None)
            self._wake.set()  # a slot is free

        task.add_done_callback(finished)

    async def _execute(self, job: Claimed) -> None:
        try:
            error = await run_attempt(job, db=self.db, settings=self.settings, bus=self.bus)
        except asyncio.CancelledError:
            with suppress(Exception):
                async with self.db.writer() as session, UnitOfWork(session) as uow:
                    await release(uow, job, now=utcnow())
                    await uow.commit()
            raise
        for attempt in range(RECORD_TRIES):
            try:
                await self._outcomes.record(job, error)
                return
            except Exception:
                await asyncio.sleep(min(2.0**attempt, self.lease.total_seconds() / 4))
        # The lease expires and the job runs again: at least once, never lost.

    async def _keep_leases(self) -> None:
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            ids = sorted(self._running)
            if not ids:
                continue
            try:
                async with self.db.writer() as session, UnitOfWork(session) as uow:
                    await extend_leases(
                        uow, ids, worker_id=self.worker_id, until=utcnow() + self.lease
                    )
                    await uow.commit()
            except Exception:
                log.exception("extending job leases failed; retrying")
