"""Choosing and running a job worker: in the server process, or as ``ledgerdesk worker``."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Protocol

from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import EventBus
from ledgerdesk.jobs.registry import load_job_modules
from ledgerdesk.settings import Settings

log = logging.getLogger(__name__)


class JobRunner(Protocol):
    worker_id: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def wake(self) -> None: ...


def create_job_runner(settings: Settings, db: Database, bus: EventBus | None) -> JobRunner:
    """The SQL worker (``LEDGERDESK_JOB_QUEUE=sql``, the default) or the relay and saq
    worker (``redis``). Handler modules are imported first."""
    load_job_modules(settings.job_modules)
    if settings.job_queue == "redis":
        from ledgerdesk.jobs.saq_backend import SaqRunner

        return SaqRunner(db, settings, bus)
    from ledgerdesk.jobs.sql_worker import SqlWorker

    return SqlWorker(db, settings, bus)


async def start_server_worker(settings: Settings, db: Database, bus: EventBus) -> JobRunner | None:
    """The worker inside ``ledgerdesk serve``, unless ``LEDGERDESK_JOB_WORKER_IN_SERVER=false``."""
    if not settings.job_worker_in_server:
        return None
    runner = create_job_runner(settings, db, bus)
    await runner.start()
    return runner


async def run_worker_process(settings: Settings) -> None:
    """``ledgerdesk worker``: run jobs until SIGTERM or SIGINT, then stop gracefully."""
    from ledgerdesk.events.factory import create_event_bus
    from ledgerdesk.events.redis_bus import RedisEventBus

    db = Database.from_settings(settings)
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    bus = create_event_bus(redis_url, channel_prefix=settings.redis_channel_prefix)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner: JobRunner | None = None
    try:
        if isinstance(bus, RedisEventBus):
            try:
                async with asyncio.timeout(10):
                    await bus.start()
            except TimeoutError:
                log.error("Redis did not answer within 10 s; continuing, it keeps retrying")
        runner = create_job_runner(settings, db, bus)
        await runner.start()
        await stop.wait()
        log.info("stopping the job worker")
    finally:
        if runner is not None:
            await runner.stop()
        await bus.close()
        await db.dispose()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
