"""What a job handler receives besides its payload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import EventBus
from ledgerdesk.jobs.models import idempotency_key
from ledgerdesk.settings import Settings


@dataclass(frozen=True, slots=True)
class JobContext:
    db: Database
    settings: Settings
    bus: EventBus | None
    job_id: int
    kind: str
    # 1 on the first run; a run cut short by a crash counts as an attempt.
    attempt: int
    max_attempts: int
    # When the job was due (its scheduled time, or when it was enqueued).
    run_at: datetime

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this job: hand it to outside services
        (an ``Idempotency-Key`` header, a unique column) so a retry is not a repeat."""
        return idempotency_key(self.job_id)

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """A writing unit of work, as a request gets one; commit it yourself."""
        async with self.db.writer() as session, UnitOfWork(session, self.bus) as uow:
            yield uow
