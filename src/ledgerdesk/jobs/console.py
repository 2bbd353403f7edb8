"""The admins' page of the job queue (/admin/jobs): its health at a glance, and the
jobs that failed for good, to retry once the cause is fixed or to discard.

Same habits as the other admin pages: session cookie, a CSRF token in every form,
the permission check in the query layer, changes in ``do_*`` actions, errors shown
on the page. The figures come from the ``jobs`` table, the record of every job on
both backends (the queries behind the Prometheus gauges, monitoring/queries.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from ledgerdesk.db.base import utcnow
from ledgerdesk.errors import LedgerdeskError
from ledgerdesk.jobs.actions import do_discard_job, do_retry_job
from ledgerdesk.jobs.errors import redact, shorten
from ledgerdesk.jobs.models import Job
from ledgerdesk.jobs.queries import (
    access_failed_job,
    count_scheduled,
    failed_kinds,
    list_failed_jobs,
    payload_summary,
)
from ledgerdesk.monitoring.queries import queue_figures
from ledgerdesk.server.deps import ReadSession, State, Uow
from ledgerdesk.server.types import PathId
from ledgerdesk.web.deps import User, sidebar
from ledgerdesk.web.rendering import render

router = APIRouter(include_in_schema=False)
PAGE = "/admin/jobs"
ERROR_CHARS = 300
KindText = Annotated[str, Query(max_length=100)]


def _back(kind: str = "", **params: str | int) -> Response:
    query = {k: v for k, v in {"kind": kind, **params}.items() if v not in ("", None)}
    return RedirectResponse(PAGE + (f"?{urlencode(query)}" if query else ""), status_code=303)


def _row(job: Job) -> dict[str, object]:
    # Errors are masked when written (jobs/errors.py); masked again here in case a
    # row predates that, and shortened: the page is a list, not a log.
    return {
        "id": job.id,
        "kind": job.kind,
        "summary": payload_summary(job.payload),
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "error": shorten(redact(job.last_error or ""), ERROR_CHARS),
        "failed_at": job.finished_at,
    }


@router.get(PAGE)
async def jobs_page(
    request: Request,
    user: User,
    session: ReadSession,
    state: State,
    kind: KindText = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=500)] = None,
    retried: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    discarded: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    user.principal.require_admin()
    kind = kind.replace("\x00", "").strip()
    jobs, next_cursor = await list_failed_jobs(
        session, user.principal, kind=kind or None, cursor=cursor or None
    )
    now = utcnow()
    figures = await queue_figures(session, now=now)
    queued = sum(figures.due_by_kind.values())
    next_url = (
        f"{PAGE}?{urlencode({k: v for k, v in (('kind', kind), ('cursor', next_cursor)) if v})}"
        if next_cursor
        else None
    )
    context = {
        **await sidebar(session, user),
        "backend": state.settings.job_queue,
        "counts": {
            "queued": queued,
            "running": figures.running,
            "scheduled": await count_scheduled(session, now=now),
            "dead": figures.dead,
        },
        # When the longest-waiting due job became due (None: nothing waits).
        "oldest_due_at": now - timedelta(seconds=figures.oldest_due_seconds) if queued else None,
        "jobs": [_row(job) for job in jobs],
        # The chosen kind stays selectable once its last failed job is gone.
        "kinds": sorted({*await failed_kinds(session), *([kind] if kind else [])}),
        "kind": kind,
        "first_page": cursor is None,
        "next_url": next_url,
        "error": error,
        "retried": retried,
        "discarded": discarded,
    }
    return render(request, "admin_jobs/index.html", context)


JobAction = Callable[..., Awaitable[None]]


async def _act(
    job_id: int, user: User, uow: Uow, kind: str, action: JobAction, outcome: str
) -> Response:
    """Run ``action`` on a failed job and come back to the list, with the outcome or
    the refusal (an already retried or discarded job: a conflict, said on the page)."""
    user.principal.require_admin()
    try:
        job = await access_failed_job(uow.session, user.principal, job_id)
        await action(uow, actor=user.principal, job=job)
        await uow.commit()
    except LedgerdeskError as exc:
        await uow.rollback()
        return _back(kind, error=exc.message)
    return _back(kind, **{outcome: job_id})


@router.post(PAGE + "/{job_id}/retry")
async def retry_job(
    job_id: PathId, user: User, uow: Uow, kind: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    return await _act(job_id, user, uow, kind, do_retry_job, "retried")


@router.post(PAGE + "/{job_id}/discard")
async def discard_job(
    job_id: PathId, user: User, uow: Uow, kind: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    return await _act(job_id, user, uow, kind, do_discard_job, "discarded")
