"""Running one attempt of a job: find its handler, give it a context, bound its time."""

from __future__ import annotations

import asyncio
import logging
import traceback

from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import EventBus
from ledgerdesk.jobs.context import JobContext
from ledgerdesk.jobs.errors import redact
from ledgerdesk.jobs.registry import get_handler
from ledgerdesk.jobs.store import Claimed
from ledgerdesk.settings import Settings

log = logging.getLogger(__name__)


class NoHandler(LookupError):
    """No handler is registered for the job's kind in this process."""


class AttemptTimedOut(TimeoutError):
    """The handler ran longer than its registered timeout."""


async def run_attempt(
    job: Claimed, *, db: Database, settings: Settings, bus: EventBus | None
) -> Exception | None:
    """Run the handler; return what it raised (None on success). Cancellation
    (the worker is stopping) propagates."""
    spec = get_handler(job.kind)
    if spec is None:
        # Perhaps a newer release registered it and this process is old: retry later.
        return NoHandler(
            f"no handler is registered for job kind {job.kind!r} "
            "(is its tasks module imported? see LEDGERDESK_JOB_MODULES)"
        )
    context = JobContext(
        db=db,
        settings=settings,
        bus=bus,
        job_id=job.id,
        kind=job.kind,
        attempt=job.attempt,
        max_attempts=job.max_attempts,
        run_at=job.run_at,
    )
    try:
        async with asyncio.timeout(spec.timeout) as deadline:
            await spec.func(context, dict(job.payload))
    except TimeoutError as exc:
        if deadline.expired():
            error: Exception = AttemptTimedOut(f"the handler ran longer than {spec.timeout:g} s")
        else:
            error = exc
    except Exception as exc:
        error = exc
    else:
        return None
    # The traceback helps whoever fixes the handler; messages are masked like last_error.
    trace = "".join(traceback.format_exception(error))
    log.warning(
        "job %s (%s) attempt %s/%s failed: %s",
        job.id,
        job.kind,
        job.attempt,
        job.max_attempts,
        redact(trace).rstrip(),
    )
    return error
