"""Durable jobs on the database itself: enqueue checks, leases, fencing, retention,
metrics. The behaviour both backends share is in test_jobs_contract.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.jobs import do_enqueue_job, job_handler
from ledgerdesk.jobs.models import DEAD, DONE, QUEUED, RUNNING, Job
from ledgerdesk.jobs.queries import count_by_status, oldest_due_age, queue_depth
from ledgerdesk.jobs.registry import unregister
from ledgerdesk.jobs.store import LEASE_LOST_ERROR, claim_due, finish_done, finish_failed
from ledgerdesk.jobs.tasks import prune_old_rows
from ledgerdesk.realtime.models import StreamEvent
from ledgerdesk.settings import Settings
from tests.jobs_support import RECORDER, Harness, harness, wait_for_job


@pytest.fixture
async def jobs(db: Database, settings: Settings, bus: MemoryEventBus) -> AsyncIterator[Harness]:
    async with harness(db, settings, bus, "sql", None) as each:
        yield each


async def _claim(db: Database, worker: str, *, limit: int = 10, lease: float = 60) -> list[int]:
    async with db.writer() as session, UnitOfWork(session) as uow:
        claimed = await claim_due(
            uow, worker_id=worker, limit=limit, lease=timedelta(seconds=lease), now=utcnow()
        )
        await uow.commit()
    return [job.id for job in claimed]


@pytest.mark.parametrize(
    ("payload", "options", "error", "message"),
    [
        ({"at": datetime.now(UTC)}, {}, TypeError, "plain JSON"),
        ({"x": float("nan")}, {}, TypeError, "plain JSON"),
        ({"blob": "x" * 70_000}, {}, ValueError, "at most 65536 bytes"),
        ({}, {"run_at": datetime(2030, 1, 1)}, ValueError, "timezone-aware"),
        ({}, {"run_at": utcnow(), "delay": timedelta(1)}, ValueError, "not both"),
        ({}, {"max_attempts": 0}, ValueError, "at least 1"),
        ({}, {"dedup_key": "k" * 201}, ValueError, "dedup_key"),
    ],
)
async def test_it_refuses_a_job_it_could_not_run_faithfully(
    db: Database,
    payload: dict[str, object],
    options: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    async with db.writer() as session, UnitOfWork(session) as uow:
        with pytest.raises(error, match=message):
            await do_enqueue_job(uow, "test.record", payload, **options)  # type: ignore[arg-type]


async def test_a_job_whose_worker_died_is_run_again_once_its_lease_expires(jobs: Harness) -> None:
    job = await jobs.enqueue("test.record")
    # A worker claims it, then dies without a word: only its lease says so.
    assert await _claim(jobs.db, "ghost", lease=0.5) == [job.id]

    await jobs.start()
    finished = await jobs.wait_finished(job.id)

    assert finished.status == DONE
    assert finished.attempts == 2
    assert [run.attempt for run in RECORDER.of(job.id)] == [2]


async def test_a_job_whose_worker_died_on_its_last_attempt_is_dead(jobs: Harness) -> None:
    job = await jobs.enqueue("test.record", max_attempts=1)
    assert await _claim(jobs.db, "ghost", lease=0.2) == [job.id]

    await jobs.start()
    finished = await jobs.wait_finished(job.id)

    assert finished.status == DEAD
    assert finished.last_error == LEASE_LOST_ERROR
    assert RECORDER.of(job.id) == []


async def test_a_worker_that_lost_its_lease_cannot_overwrite_the_newer_attempt(
    db: Database,
) -> None:
    async with db.writer() as session, UnitOfWork(session) as uow:
        job = await do_enqueue_job(uow, "test.record")
        await uow.commit()
    async with db.writer() as session, UnitOfWork(session) as uow:
        (slow,) = await claim_due(
            uow, worker_id="slow", limit=1, lease=timedelta(seconds=-1), now=utcnow()
        )
        await uow.commit()
    async with db.writer() as session, UnitOfWork(session) as uow:
        (fresh,) = await claim_due(
            uow, worker_id="fresh", limit=1, lease=timedelta(seconds=60), now=utcnow()
        )
        # The slow worker comes back and reports its (older) attempt.
        assert not await finish_done(uow, slow, now=utcnow())
        assert await finish_failed(uow, slow, "late", retry_at=None, now=utcnow()) is None
        await uow.commit()

    async with db.session() as session:
        row = await session.get(Job, job.id)
    assert row is not None
    assert (row.status, row.locked_by, row.attempts) == (RUNNING, "fresh", fresh.attempt)


async def test_two_workers_claiming_at_once_never_take_the_same_job(db: Database) -> None:
    async with db.writer() as session, UnitOfWork(session) as uow:
        for n in range(20):
            await do_enqueue_job(uow, "test.record", {"n": n})
        await uow.commit()

    batches = await asyncio.gather(*(_claim(db, f"w{n}", limit=4) for n in range(6)))

    claimed = [job_id for batch in batches for job_id in batch]
    assert len(claimed) == len(set(claimed)) == 20


async def test_a_handler_running_past_its_timeout_fails_the_attempt(jobs: Harness) -> None:
    @job_handler("test.unit-slow", timeout=0.1, max_attempts=1)
    async def slow(ctx: object, payload: dict[str, object]) -> None:
        await asyncio.sleep(30)

    try:
        await jobs.start()
        job = await jobs.enqueue("test.unit-slow")
        finished = await jobs.wait_finished(job.id)
    finally:
        unregister("test.unit-slow")

    assert finished.status == DEAD
    assert finished.last_error == "AttemptTimedOut: the handler ran longer than 0.1 s"


async def test_a_job_of_an_unknown_kind_fails_with_a_reason(jobs: Harness) -> None:
    await jobs.start()
    job = await jobs.enqueue("test.nobody-handles-this", max_attempts=2)

    finished = await jobs.wait_finished(job.id)

    assert finished.status == DEAD
    assert finished.attempts == 2
    assert "no handler is registered for job kind 'test.nobody-handles-this'" in (
        finished.last_error or ""
    )


async def test_a_worker_stopping_gives_its_running_job_back_without_counting_it(
    jobs: Harness,
) -> None:
    jobs.settings = jobs.settings.model_copy(update={"job_shutdown_grace_seconds": 0.1})
    worker = await jobs.start()
    job = await jobs.enqueue("test.record", {"sleep": 30})
    await wait_for_job(jobs.db, job.id, (RUNNING,))

    await jobs.stop(worker)

    row = await jobs.job(job.id)
    assert (row.status, row.attempts, row.locked_by) == (QUEUED, 0, None)


async def test_the_queue_depth_and_oldest_wait_count_only_due_jobs(db: Database) -> None:
    now = utcnow()
    async with db.writer() as session, UnitOfWork(session) as uow:
        await do_enqueue_job(uow, "test.record", run_at=now - timedelta(minutes=5))
        await do_enqueue_job(uow, "test.record", run_at=now - timedelta(minutes=1))
        await do_enqueue_job(uow, "test.record", run_at=now + timedelta(hours=1))
        await uow.commit()

    async with db.session() as session:
        assert await queue_depth(session, now=now) == 2
        assert await oldest_due_age(session, now=now) == timedelta(minutes=5)
        assert await count_by_status(session) == {QUEUED: 3}
        assert await oldest_due_age(session, now=now - timedelta(hours=1)) is None


async def test_retention_deletes_old_finished_jobs_and_stream_entries_only(
    db: Database, settings: Settings
) -> None:
    now = utcnow()
    long_ago = now - timedelta(days=settings.job_dead_retention_days + 1)
    recently = now - timedelta(days=1)
    async with db.writer() as session, UnitOfWork(session) as uow:
        old_done = await do_enqueue_job(uow, "test.record")
        old_dead = await do_enqueue_job(uow, "test.record")
        new_done = await do_enqueue_job(uow, "test.record")
        pending = await do_enqueue_job(uow, "test.record", run_at=long_ago)
        for job, status, finished in (
            (old_done, DONE, long_ago),
            (old_dead, DEAD, long_ago),
            (new_done, DONE, recently),
        ):
            job.status, job.finished_at = status, finished
        session.add_all(
            [
                StreamEvent(kind="message.created", created_at=long_ago),
                StreamEvent(kind="message.created", created_at=long_ago),
                StreamEvent(kind="message.created", created_at=recently),
            ]
        )
        await uow.commit()

    counts = await prune_old_rows(db, settings, now=now)

    assert counts == {"jobs": 1, "dead_jobs": 1, "stream_events": 2}
    async with db.session() as session:
        left = set((await session.scalars(select(Job.id))).all())
        stream = (await session.scalars(select(StreamEvent.created_at))).all()
    assert left == {new_done.id, pending.id}
    assert stream == [recently]


async def test_a_dedup_key_whose_pending_twin_vanishes_is_enqueued_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key clashes with a pending job that finishes before it is read: the enqueue
    tries again (and stores the job) instead of failing; a clash that never settles
    is refused after a few tries, not looped on."""
    from ledgerdesk.jobs import actions

    async with UnitOfWork(db.write_sessionmaker()) as uow:
        await do_enqueue_job(uow, "test.record", {"n": 1}, dedup_key="twin")
        await uow.commit()
    async with db.write_sessionmaker() as session:
        twin = (await session.execute(select(Job).where(Job.dedup_key == "twin"))).scalar_one()
        first_read = True
        real_read = actions._pending_with_key

        async def twin_finishes_first(uow: UnitOfWork, dedup_key: str) -> Job | None:
            nonlocal first_read
            if first_read:  # it finished between the insert and this read
                first_read = False
                twin.status = DONE
                await uow.session.flush()
                return None
            return await real_read(uow, dedup_key)

        monkeypatch.setattr(actions, "_pending_with_key", twin_finishes_first)
        uow = UnitOfWork(session)
        again = await do_enqueue_job(uow, "test.record", {"n": 2}, dedup_key="twin")
        await uow.commit()
    assert again.id != twin.id and again.status == QUEUED

    async def never_there(uow: UnitOfWork, dedup_key: str) -> Job | None:
        return None

    monkeypatch.setattr(actions, "_pending_with_key", never_there)
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        with pytest.raises(Conflict, match="kept finishing"):
            await do_enqueue_job(uow, "test.record", {"n": 3}, dedup_key="twin")
