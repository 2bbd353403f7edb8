"""The Redis backend's own promises: Redis is a courier, not the record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.jobs.models import DONE, Job
from ledgerdesk.jobs.saq_backend import SaqRunner
from ledgerdesk.settings import Settings
from tests.conftest import require_redis
from tests.jobs_support import RECORDER, Harness, harness

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")


@pytest.fixture
async def jobs(db: Database, settings: Settings, bus: MemoryEventBus) -> AsyncIterator[Harness]:
    redis_url = await require_redis()
    async with harness(db, settings, bus, "redis", redis_url) as each:
        yield each


async def test_a_job_is_relayed_to_the_queue_once(jobs: Harness) -> None:
    job = await jobs.enqueue("test.record")
    relay = SaqRunner(jobs.db, jobs.settings, None)
    await relay.queue.connect()
    try:
        assert await relay.relay_once() == 1
        assert await relay.relay_once() == 0
        assert await relay.queue.count("queued") == 1
        assert await relay.queue.count("incomplete") == 1
    finally:
        await relay.queue.disconnect()
    assert (await jobs.job(job.id)).relayed_at is not None


async def test_a_job_lost_by_redis_is_relayed_again_and_runs(jobs: Harness) -> None:
    job = await jobs.enqueue("test.record")
    relay = SaqRunner(jobs.db, jobs.settings, None)
    await relay.queue.connect()
    try:
        assert await relay.relay_once() == 1
    finally:
        await relay.queue.disconnect()
    # Redis restarts without its data, and time passes.
    await jobs.cleanup()
    long_ago = utcnow() - timedelta(hours=1)
    async with jobs.db.writer() as session:
        await session.execute(
            update(Job).where(Job.id == job.id).values(run_at=long_ago, relayed_at=long_ago)
        )
        await session.commit()

    await jobs.start()
    finished = await jobs.wait_finished(job.id)

    assert finished.status == DONE
    assert len(RECORDER.of(job.id)) == 1
