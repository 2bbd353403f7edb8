"""Job handlers used only by the tests, and a harness that runs either backend.

Importing this module registers the handlers, in the test process and in the
``ledgerdesk serve`` / ``ledgerdesk worker`` subprocesses of the kill test (which
import it through ``LEDGERDESK_JOB_MODULES=tests.jobs_support``).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import text

from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import EventBus
from ledgerdesk.jobs import JobContext, do_enqueue_job, job_handler
from ledgerdesk.jobs.models import FINISHED_STATUSES, Job
from ledgerdesk.jobs.service import JobRunner, create_job_runner
from ledgerdesk.settings import Settings

FAST_JOB_SETTINGS: dict[str, Any] = {
    "job_poll_seconds": 0.2,
    "job_lease_seconds": 1.0,
    "job_retry_base_seconds": 0.05,
    "job_retry_max_seconds": 0.4,
    "job_shutdown_grace_seconds": 2.0,
    "job_concurrency": 4,
}


@dataclass
class Attempt:
    job_id: int
    attempt: int
    idempotency_key: str
    at: datetime
    run_at: datetime


@dataclass
class Recorder:
    """What the in-process test handlers saw, and a stand-in for an outside service
    that honours idempotency keys (like a payment API's Idempotency-Key header)."""

    attempts: list[Attempt] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    effects: dict[str, int] = field(default_factory=dict)
    # Jobs with {"needs_fix": true} fail while this is True (the cause not fixed yet).
    broken: bool = False

    def of(self, job_id: int) -> list[Attempt]:
        return [attempt for attempt in self.attempts if attempt.job_id == job_id]

    def clear(self) -> None:
        self.attempts.clear()
        self.requests.clear()
        self.effects.clear()
        self.broken = False


RECORDER = Recorder()


def _record(ctx: JobContext) -> None:
    RECORDER.attempts.append(
        Attempt(ctx.job_id, ctx.attempt, ctx.idempotency_key, utcnow(), ctx.run_at)
    )


@job_handler("test.record")
async def record(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Succeeds after failing ``fail_times`` times; ``password`` ends up in the error."""
    _record(ctx)
    if ctx.attempt <= int(payload.get("fail_times", 0)):
        raise RuntimeError(
            f"upstream refused attempt {ctx.attempt} "
            f"(https://hooks:{payload.get('password', 'x')}@example.com/hook)"
        )
    if payload.get("needs_fix") and RECORDER.broken:
        raise RuntimeError("the cause is not fixed yet")
    if payload.get("sleep"):
        await asyncio.sleep(float(payload["sleep"]))


@job_handler("test.pay")
async def pay(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Calls the outside service with the job's idempotency key, then crashes on the
    first attempt: the effect happened but the job was not marked done."""
    _record(ctx)
    RECORDER.requests.append(ctx.idempotency_key)
    RECORDER.effects.setdefault(ctx.idempotency_key, len(RECORDER.effects) + 1)
    if ctx.attempt == 1:
        raise ConnectionResetError("connection lost after the request was sent")


@job_handler("test.side-effect", timeout=120)
async def side_effect(ctx: JobContext, payload: dict[str, Any]) -> None:
    """For the kill -9 test: log the attempt, write the side effect keyed by the job
    id (a second write is a no-op), then pause on the first attempt so the test can
    kill the process in the middle of the job."""
    async with ctx.db.writer() as session:
        await session.execute(
            text("INSERT INTO test_job_attempts (job_id, attempt, pid) VALUES (:id, :n, :pid)"),
            {"id": ctx.job_id, "n": ctx.attempt, "pid": os.getpid()},
        )
        await session.commit()
    async with ctx.db.writer() as session:
        await session.execute(
            text(
                "INSERT INTO test_job_effects (job_id, note) VALUES (:id, :note) "
                "ON CONFLICT (job_id) DO NOTHING"
            ),
            {"id": ctx.job_id, "note": payload.get("note", "")},
        )
        await session.commit()
    if ctx.attempt == 1:
        await asyncio.sleep(float(payload.get("pause", 0)))


SIDE_EFFECT_TABLES = (
    "CREATE TABLE test_job_attempts (job_id BIGINT, attempt INTEGER, pid INTEGER)",
    "CREATE TABLE test_job_effects (job_id BIGINT PRIMARY KEY, note TEXT)",
)


# The harness ------------------------------------------------------------------


def job_settings(settings: Settings, backend: str, redis_url: str | None, **extra: Any) -> Settings:
    update: dict[str, Any] = {**FAST_JOB_SETTINGS, "job_queue": backend, **extra}
    if backend == "redis":
        assert redis_url is not None
        update["redis_url"] = SecretStr(redis_url)
        # Each test its own queue: parallel runs and leftovers never meet.
        update["redis_channel_prefix"] = f"ldtest-{uuid.uuid4().hex[:10]}:"
    return settings.model_copy(update=update)


class Harness:
    """Starts and stops workers of one backend on the test database."""

    def __init__(self, db: Database, settings: Settings, bus: EventBus) -> None:
        self.db = db
        self.settings = settings
        self.bus = bus
        self.runners: list[JobRunner] = []

    @property
    def backend(self) -> str:
        return self.settings.job_queue

    async def start(self) -> JobRunner:
        runner = create_job_runner(self.settings, self.db, self.bus)
        await runner.start()
        self.runners.append(runner)
        return runner

    async def stop(self, runner: JobRunner | None = None) -> None:
        for each in [runner] if runner else list(self.runners):
            await each.stop()
            self.runners.remove(each)

    async def enqueue(
        self, kind: str, payload: dict[str, Any] | None = None, **options: Any
    ) -> Job:
        async with self.db.writer() as session, UnitOfWork(session, self.bus) as uow:
            job = await do_enqueue_job(uow, kind, payload, **options)
            await uow.commit()
        return job

    async def job(self, job_id: int) -> Job:
        async with self.db.session() as session:
            job = await session.get(Job, job_id)
        assert job is not None, f"job {job_id} does not exist"
        return job

    async def wait_finished(self, job_id: int, within: float = 30.0) -> Job:
        """Wait for the job to be done, dead or cancelled (a failure names its state)."""
        return await wait_for_job(self.db, job_id, FINISHED_STATUSES, within)

    async def cleanup(self) -> None:
        await self.stop()
        if self.backend == "redis" and self.settings.redis_url is not None:
            from redis.asyncio import Redis

            client = Redis.from_url(self.settings.redis_url.get_secret_value())
            try:
                name = f"{self.settings.redis_channel_prefix}jobs"
                for pattern in (f"saq:{name}:*", f"saq:job:{name}:*"):
                    keys = [key async for key in client.scan_iter(match=pattern)]
                    if keys:
                        await client.delete(*keys)
            finally:
                await client.aclose()


async def wait_for_job(
    db: Database, job_id: int, statuses: tuple[str, ...], within: float = 30.0
) -> Job:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    job: Job | None = None
    while loop.time() < deadline:
        async with db.session() as session:
            job = await session.get(Job, job_id)
        if job is not None and job.status in statuses:
            return job
        await asyncio.sleep(0.02)
    state = "missing" if job is None else f"{job.status} after {job.attempts} attempts"
    raise AssertionError(f"job {job_id} is {state}, not {statuses}, after {within} s")


@asynccontextmanager
async def harness(
    db: Database, settings: Settings, bus: EventBus, backend: str, redis_url: str | None
) -> AsyncIterator[Harness]:
    RECORDER.clear()
    runner_settings = job_settings(settings, backend, redis_url)
    each = Harness(db, runner_settings, bus)
    try:
        yield each
    finally:
        await each.cleanup()
