"""The periodic job that keeps the help-center gaps up to date (``collect.py``)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from ledgerdesk.analytics.gaps.collect import collect_gap_questions, embed_gap_questions
from ledgerdesk.jobs.context import JobContext
from ledgerdesk.jobs.registry import periodic_job

log = logging.getLogger(__name__)

COLLECT = "analytics.gaps_collect"
# Vectors per run: about half a minute of one core; the rest waits for the next run.
EMBED_PER_RUN = 400


@periodic_job(COLLECT, every=timedelta(minutes=1), timeout=600)
async def collect_gaps_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Store new hand-offs, low ratings and "not helpful" votes, then embed them."""
    counts = await collect_gap_questions(ctx.db)
    embedded = await embed_gap_questions(ctx.db, limit=EMBED_PER_RUN)
    if any(counts.values()) or embedded:
        log.info("help-center gaps: stored %s, embedded %d", counts, embedded)
