"""One contract for durable jobs, run on both backends (the SQL worker, and the relay
to a saq queue on Redis) and on both databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.jobs import do_cancel_jobs, do_enqueue_job, do_retry_dead_job, periodic_job
from ledgerdesk.jobs.models import CANCELLED, DEAD, DONE, PENDING_STATUSES, QUEUED, Job
from ledgerdesk.jobs.registry import periodic_dedup_key, unregister
from ledgerdesk.settings import Settings
from tests.conftest import require_redis
from tests.jobs_support import FAST_JOB_SETTINGS, RECORDER, Harness, harness

# saq 0.26.4 calls redis-py's deprecated setex when it sweeps a stuck job.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")


@pytest.fixture(params=["sql", "redis"])
async def jobs(
    request: pytest.FixtureRequest, db: Database, settings: Settings, bus: MemoryEventBus
) -> AsyncIterator[Harness]:
    redis_url = await require_redis() if request.param == "redis" else None
    async with harness(db, settings, bus, request.param, redis_url) as each:
        yield each


async def _count(db: Database, *conditions: object) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(select(func.count()).select_from(Job).where(*conditions))  # type: ignore[arg-type]
            or 0
        )


async def test_a_job_enqueued_in_a_rolled_back_transaction_does_not_exist_and_never_runs(
    jobs: Harness,
) -> None:
    await jobs.start()
    async with jobs.db.writer() as session, UnitOfWork(session, jobs.bus) as uow:
        await do_enqueue_job(uow, "test.record", {"n": "rolled back"})
        await uow.rollback()
    kept = await jobs.enqueue("test.record", {"n": "committed"})

    assert (await jobs.wait_finished(kept.id)).status == DONE
    assert await _count(jobs.db, Job.kind == "test.record") == 1
    assert {attempt.job_id for attempt in RECORDER.attempts} == {kept.id}


async def test_a_failing_job_is_retried_with_growing_backoff_until_it_succeeds(
    jobs: Harness,
) -> None:
    await jobs.start()
    job = await jobs.enqueue("test.record", {"fail_times": 2})

    finished = await jobs.wait_finished(job.id)

    assert finished.status == DONE
    assert finished.attempts == 3
    assert "attempt 2" in (finished.last_error or "")
    runs = RECORDER.of(job.id)
    assert [run.attempt for run in runs] == [1, 2, 3]
    base = FAST_JOB_SETTINGS["job_retry_base_seconds"]
    # Equal jitter: the n-th wait is at least half of base * 2^(n-1).
    for n, (before, after) in enumerate(itertools.pairwise(runs), start=1):
        assert after.at - before.at >= timedelta(seconds=base * 2 ** (n - 1) / 2)


async def test_a_job_failing_every_attempt_is_dead_with_its_last_error_masked(
    jobs: Harness,
) -> None:
    await jobs.start()
    job = await jobs.enqueue(
        "test.record", {"fail_times": 99, "password": "hunter2"}, max_attempts=3
    )

    finished = await jobs.wait_finished(job.id)

    assert finished.status == DEAD
    assert finished.attempts == 3
    assert finished.finished_at is not None
    assert finished.last_error is not None
    assert finished.last_error.startswith("RuntimeError: upstream refused attempt 3")
    assert "hunter2" not in finished.last_error
    assert "https://hooks:***@example.com" in finished.last_error
    assert len(RECORDER.of(job.id)) == 3


async def test_a_dead_job_retried_by_hand_gets_a_fresh_set_of_attempts(jobs: Harness) -> None:
    await jobs.start()
    RECORDER.broken = True
    job = await jobs.enqueue("test.record", {"needs_fix": True}, max_attempts=1)
    assert (await jobs.wait_finished(job.id)).status == DEAD

    RECORDER.broken = False
    async with jobs.db.writer() as session, UnitOfWork(session, jobs.bus) as uow:
        assert await do_retry_dead_job(uow, job.id)
        await uow.commit()

    finished = await jobs.wait_finished(job.id)
    assert finished.status == DONE
    assert finished.attempts == 1
    assert [run.attempt for run in RECORDER.of(job.id)] == [1, 1]


async def test_enqueuing_a_dedup_key_while_its_job_is_pending_returns_that_job(
    jobs: Harness,
) -> None:
    later = utcnow() + timedelta(hours=1)
    first = await jobs.enqueue("test.record", {"n": 1}, run_at=later, dedup_key="sla:warn:7")
    second = await jobs.enqueue("test.record", {"n": 2}, run_at=later, dedup_key="sla:warn:7")
    other = await jobs.enqueue("test.record", {"n": 3}, run_at=later, dedup_key="sla:warn:8")

    assert second.id == first.id
    assert second.payload == {"n": 1}
    assert other.id != first.id
    assert await _count(jobs.db, Job.dedup_key == "sla:warn:7") == 1

    # Once the job is no longer pending, the key is free again.
    async with jobs.db.writer() as session, UnitOfWork(session) as uow:
        assert await do_cancel_jobs(uow, dedup_key="sla:warn:7") == 1
        await uow.commit()
    again = await jobs.enqueue("test.record", {"n": 4}, run_at=later, dedup_key="sla:warn:7")
    assert again.id != first.id


async def test_a_dedup_key_raced_by_two_transactions_makes_one_job(jobs: Harness) -> None:
    async def enqueue_once() -> int:
        job = await jobs.enqueue(
            "test.record", run_at=utcnow() + timedelta(hours=1), dedup_key="race"
        )
        return job.id

    ids = await asyncio.gather(*(enqueue_once() for _ in range(5)))

    assert len(set(ids)) == 1
    assert await _count(jobs.db, Job.dedup_key == "race") == 1


async def test_a_scheduled_job_does_not_run_before_its_time_and_runs_after_it(
    jobs: Harness,
) -> None:
    await jobs.start()
    run_at = utcnow() + timedelta(seconds=1.5)
    scheduled = await jobs.enqueue("test.record", {"n": "later"}, run_at=run_at)
    now = await jobs.enqueue("test.record", {"n": "now"})

    assert (await jobs.wait_finished(now.id)).status == DONE
    assert (await jobs.job(scheduled.id)).status == QUEUED
    finished = await jobs.wait_finished(scheduled.id)

    assert finished.status == DONE
    (run,) = RECORDER.of(scheduled.id)
    assert run.at >= run_at
    assert run.run_at == run_at


async def test_a_scheduled_job_survives_a_restart_of_the_worker(jobs: Harness) -> None:
    first = await jobs.start()
    job = await jobs.enqueue("test.record", run_at=utcnow() + timedelta(seconds=1))
    await jobs.stop(first)
    assert (await jobs.job(job.id)).status == QUEUED

    await jobs.start()  # a new worker, as after a restart
    finished = await jobs.wait_finished(job.id)

    assert finished.status == DONE
    assert len(RECORDER.of(job.id)) == 1


async def test_a_job_enqueued_while_no_worker_runs_is_run_by_the_next_one(jobs: Harness) -> None:
    job = await jobs.enqueue("test.record")

    await jobs.start()

    assert (await jobs.wait_finished(job.id)).status == DONE


async def test_every_attempt_gets_the_same_idempotency_key_so_a_retry_is_no_repeat(
    jobs: Harness,
) -> None:
    """The handler's call reached the outside service, then the attempt failed:
    the retry sends the same key, and the service does the work once."""
    await jobs.start()
    job = await jobs.enqueue("test.pay", {"amount": "10"})

    finished = await jobs.wait_finished(job.id)

    assert finished.status == DONE
    assert RECORDER.requests == [f"ledgerdesk-job-{job.id}"] * 2
    assert list(RECORDER.effects) == [f"ledgerdesk-job-{job.id}"]


async def test_a_cancelled_job_never_runs(jobs: Harness) -> None:
    await jobs.start()
    run_at = utcnow() + timedelta(seconds=0.5)
    cancelled = await jobs.enqueue("test.record", run_at=run_at, dedup_key="follow-up:9")
    async with jobs.db.writer() as session, UnitOfWork(session) as uow:
        assert await do_cancel_jobs(uow, job_id=cancelled.id) == 1
        await uow.commit()
    marker = await jobs.enqueue("test.record", run_at=run_at + timedelta(seconds=0.5))

    assert (await jobs.wait_finished(marker.id)).status == DONE
    assert (await jobs.job(cancelled.id)).status == CANCELLED
    assert RECORDER.of(cancelled.id) == []


async def test_a_new_job_wakes_an_idle_worker_at_once(jobs: Harness) -> None:
    """The worker polls only every 60 s here: finding the job within 20 s means the
    bus event sent after the commit woke it."""
    jobs.settings = jobs.settings.model_copy(update={"job_poll_seconds": 60.0})
    await jobs.start()
    await asyncio.sleep(0.3)  # let it finish its first look and go to sleep

    job = await jobs.enqueue("test.record")

    assert (await jobs.wait_finished(job.id, within=20)).status == DONE


async def test_a_periodic_job_runs_once_per_interval_across_two_workers(
    jobs: Harness,
) -> None:
    runs: list[tuple[float, float]] = []
    enough = asyncio.Event()
    loop = asyncio.get_running_loop()

    @periodic_job("test.tick", every=timedelta(seconds=0.3))
    async def tick(ctx: object, payload: dict[str, object]) -> None:
        started = loop.time()
        await asyncio.sleep(0.05)
        runs.append((started, loop.time()))
        if len(runs) >= 4:
            enough.set()

    try:
        await jobs.start()
        await jobs.start()
        async with asyncio.timeout(30):
            await enough.wait()
        await jobs.stop()
    finally:
        unregister("test.tick")

    ordered = sorted(runs)
    # Never two at once, anywhere: each run starts after the previous one ended.
    for (_, ended), (started, _) in itertools.pairwise(ordered):
        assert started >= ended
    key = periodic_dedup_key("test.tick")
    # At most one pending row at any time; every finished run left its row done (a
    # run cut short by the stop may still hold its row).
    assert await _count(jobs.db, Job.dedup_key == key, Job.status.in_(PENDING_STATUSES)) <= 1
    assert await _count(jobs.db, Job.dedup_key == key, Job.status == DONE) >= len(runs) - 1
    async with jobs.db.session() as session:
        due = (
            await session.scalars(
                select(Job.run_at).where(Job.kind == "test.tick").order_by(Job.id)
            )
        ).all()
    # One row per interval: the planned times are distinct and a full interval apart.
    for before, after in itertools.pairwise(due):
        assert after - before >= timedelta(seconds=0.3)
