"""Reading the job table: one job, counts by status, figures for metrics, and the
failed jobs an admin looks at (/admin/jobs)."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.errors import Conflict, InvalidInput, NotFound
from ledgerdesk.jobs.errors import shorten
from ledgerdesk.jobs.models import DEAD, QUEUED, Job


async def get_job(session: AsyncSession, job_id: int) -> Job | None:
    return await session.get(Job, job_id)


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(Job.status, func.count()).group_by(Job.status))
    return {status: int(count) for status, count in rows.all()}


async def queue_depth(session: AsyncSession, *, now: datetime) -> int:
    """Jobs due now and waiting for a worker (scheduled ones not yet due excluded)."""
    count = await session.scalar(
        select(func.count()).select_from(Job).where(Job.status == QUEUED, Job.run_at <= now)
    )
    return int(count or 0)


async def oldest_due_age(session: AsyncSession, *, now: datetime) -> timedelta | None:
    """How long the longest-waiting due job has waited (None: nothing is waiting).
    Growing means the workers do not keep up."""
    oldest = await session.scalar(
        select(Job.run_at)
        .where(Job.status == QUEUED, Job.run_at <= now)
        .order_by(Job.run_at)
        .limit(1)
    )
    return None if oldest is None else now - oldest


# The admin page of failed jobs (/admin/jobs) ------------------------------------------

FAILED_PAGE_SIZE = 25
# Payload keys whose values are never shown (the same words errors.py masks in errors).
_SECRET_KEY = re.compile(r"secret|token|password|passwd|api[_-]?key|signature|auth|cookie", re.I)
_MAX_SUMMARY_KEYS = 8
_MAX_SUMMARY_VALUE = 40
HIDDEN = "***"


async def count_scheduled(session: AsyncSession, *, now: datetime) -> int:
    """Queued jobs whose time has not come yet (a retry's backoff, a reminder)."""
    count = await session.scalar(
        select(func.count()).select_from(Job).where(Job.status == QUEUED, Job.run_at > now)
    )
    return int(count or 0)


async def failed_kinds(session: AsyncSession) -> list[str]:
    """The kinds that have failed-for-good jobs, for the page's filter."""
    rows = await session.scalars(
        select(Job.kind).where(Job.status == DEAD).group_by(Job.kind).order_by(Job.kind)
    )
    return [str(kind) for kind in rows.all()]


def encode_failed_cursor(job: Job) -> str:
    assert job.finished_at is not None
    raw = f"{job.finished_at.isoformat()}|{job.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_failed_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, job_id = raw.split("|")
        at, number = datetime.fromisoformat(stamp), int(job_id)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor is not valid; use the page's own links") from None
    if at.tzinfo is None or not 0 < number < 2**63:
        raise InvalidInput("cursor is not valid; use the page's own links")
    return at, number


async def list_failed_jobs(
    session: AsyncSession,
    actor: Principal,
    *,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = FAILED_PAGE_SIZE,
) -> tuple[list[Job], str | None]:
    """Jobs that failed for good (dead), the most recent failure first, and the
    cursor of the next page (None on the last). Admins only."""
    actor.require_admin()
    statement = select(Job).where(Job.status == DEAD, Job.finished_at.is_not(None))
    if kind:
        statement = statement.where(Job.kind == kind)
    if cursor is not None:
        at, job_id = decode_failed_cursor(cursor)
        statement = statement.where(
            or_(Job.finished_at < at, and_(Job.finished_at == at, Job.id < job_id))
        )
    statement = statement.order_by(Job.finished_at.desc(), Job.id.desc()).limit(limit + 1)
    rows = list((await session.scalars(statement)).all())
    next_cursor = encode_failed_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def access_failed_job(session: AsyncSession, actor: Principal, job_id: int) -> Job:
    """A job an admin may retry or discard: it exists and failed for good."""
    actor.require_admin()
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    if job.status != DEAD:
        raise Conflict(f"job {job_id} has not failed for good (it is {job.status})")
    return job


def payload_summary(payload: object) -> list[tuple[str, str]]:
    """What the page shows of a payload: ids and small scalars, never secrets.

    Keys that look like credentials show ``***``; text shows only under id-like keys
    (``id``, ``*_id``, ``*_key``), since free text may carry personal data; nested
    objects show their size, not their content.
    """
    if not isinstance(payload, dict):
        return [("", HIDDEN)]
    summary: list[tuple[str, str]] = []
    for key in sorted(payload)[:_MAX_SUMMARY_KEYS]:
        summary.append((str(key)[:_MAX_SUMMARY_VALUE], _summarise(str(key), payload[key])))
    if len(payload) > _MAX_SUMMARY_KEYS:
        summary.append(("…", f"+{len(payload) - _MAX_SUMMARY_KEYS}"))
    return summary


def _summarise(key: str, value: object) -> str:
    if _SECRET_KEY.search(key):
        return HIDDEN
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    idlike = key == "id" or key.endswith(("_id", "_ids", "_key"))
    if isinstance(value, str):
        return shorten(value, _MAX_SUMMARY_VALUE) if idlike else "…"
    if isinstance(value, list):
        if idlike and all(isinstance(item, int) for item in value):
            return shorten(json.dumps(value), _MAX_SUMMARY_VALUE)
        return f"[{len(value)}]"
    if isinstance(value, dict):
        return f"{{{len(value)}}}"
    return "…"
