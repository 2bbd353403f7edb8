"""The ``jobs`` table: every durable job, written in the transaction of the change.

The row is the job's record on both backends. The SQL worker claims rows with a
lease; the Redis backend relays committed rows to a saq queue (``relayed_at``)
and mirrors every attempt's outcome back here, so one place answers "did the
webhook go out, and if not, why".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ledgerdesk.db.base import Base, UTCDateTime, utcnow
from ledgerdesk.db.types import BigIntId, JSONType

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
DEAD = "dead"
CANCELLED = "cancelled"
PENDING_STATUSES = (QUEUED, RUNNING)
FINISHED_STATUSES = (DONE, DEAD, CANCELLED)

_PENDING_SQL = "status IN ('queued', 'running')"
# The pending-key index's predicate, for INSERT ... ON CONFLICT to name that index.
PENDING_WHERE = text(_PENDING_SQL)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        # "What is due next": queued rows by run_at, running rows by lease expiry.
        Index("ix_jobs_status_run_at", "status", "run_at"),
        Index("ix_jobs_status_locked_until", "status", "locked_until"),
        # Enqueuing a dedup key that is already pending finds that job instead.
        Index(
            "ix_jobs_pending_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=PENDING_WHERE,
            postgresql_where=PENDING_WHERE,
        ),
        # Retention deletes finished rows by age.
        Index("ix_jobs_status_finished_at", "status", "finished_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=QUEUED)
    # While queued: when the job may run (now, a retry's backoff, a scheduled time).
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    # The last failure, one line, shortened and with credentials masked (errors.py).
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # The worker holding the job and until when; an expired lease means it died.
    locked_by: Mapped[str | None] = mapped_column(String(100), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    dedup_key: Mapped[str | None] = mapped_column(String(200), default=None)
    # Redis backend: when the relay handed the job to the queue (None: not yet).
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def idempotency_key(self) -> str:
        return idempotency_key(self.id)


def idempotency_key(job_id: int) -> str:
    """Stable across every attempt of one job: pass it to outside services."""
    return f"ledgerdesk-job-{job_id}"
