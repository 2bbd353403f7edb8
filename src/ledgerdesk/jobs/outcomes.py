"""Writing attempts' outcomes in group commits, for both backends.

Outcomes that arrive while one transaction is being written share the next one:
with many short jobs, one transaction records many instead of one each (on
SQLite, whose single writer is the bottleneck, this doubled throughput).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import EventBus
from ledgerdesk.jobs.backoff import retry_delay
from ledgerdesk.jobs.errors import describe_error
from ledgerdesk.jobs.store import Claimed, finish_done, finish_failed
from ledgerdesk.settings import Settings

log = logging.getLogger(__name__)

OUTCOMES_PER_TRANSACTION = 100


@dataclass(frozen=True, slots=True)
class Recorded:
    # The job's new status (None: this worker had lost the job to another).
    status: str | None
    # When a failed job runs again (None: done, or dead).
    retry_at: datetime | None
    error: str | None


_Item = tuple[Claimed, Exception | None, "asyncio.Future[Recorded]"]


class OutcomeWriter:
    def __init__(self, db: Database, settings: Settings, bus: EventBus | None) -> None:
        self.db = db
        self.settings = settings
        self.bus = bus
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="jobs-outcomes")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def record(self, job: Claimed, error: Exception | None) -> Recorded:
        """Record one attempt's outcome; raises when the transaction failed."""
        recorded: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((job, error, recorded))
        return await recorded

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < OUTCOMES_PER_TRANSACTION:
                batch.append(self._queue.get_nowait())
            try:
                results = await self._write(batch)
            except Exception as exc:
                log.exception("recording %s job outcomes failed", len(batch))
                for _job, _error, recorded in batch:
                    if not recorded.done():
                        recorded.set_exception(exc)
                continue
            for (_job, _error, recorded), result in zip(batch, results, strict=True):
                if not recorded.done():
                    recorded.set_result(result)

    async def _write(self, batch: list[_Item]) -> list[Recorded]:
        now = utcnow()
        results: list[Recorded] = []
        async with self.db.writer() as session, UnitOfWork(session, self.bus) as uow:
            for job, error, _recorded in batch:
                if error is None:
                    done = await finish_done(uow, job, now=now)
                    results.append(Recorded("done" if done else None, None, None))
                    continue
                retry_at = None
                if job.attempt < job.max_attempts:
                    delay = retry_delay(
                        job.attempt,
                        base=self.settings.job_retry_base_seconds,
                        cap=self.settings.job_retry_max_seconds,
                    )
                    retry_at = now + timedelta(seconds=delay)
                message = describe_error(error)
                status = await finish_failed(uow, job, message, retry_at=retry_at, now=now)
                results.append(Recorded(status, retry_at if status == "queued" else None, message))
            await uow.commit()
        return results
