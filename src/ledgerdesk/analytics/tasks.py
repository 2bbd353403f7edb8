"""Jobs: the periodic analytics refresh (analytics/actions.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ledgerdesk.analytics.actions import do_refresh_analytics
from ledgerdesk.jobs.context import JobContext
from ledgerdesk.jobs.registry import periodic_job

REFRESH_KIND = "analytics.refresh"
# How stale the dashboard may be; a refresh with nothing new reads two index ranges.
REFRESH_EVERY = timedelta(seconds=5)


@periodic_job(REFRESH_KIND, every=REFRESH_EVERY, timeout=600)
async def analytics_refresh_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    await do_refresh_analytics(ctx.db)
