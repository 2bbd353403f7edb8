"""Jobs: the periodic SLA sweep, opening its own units of work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import EventBus
from ledgerdesk.jobs.context import JobContext
from ledgerdesk.jobs.registry import periodic_job
from ledgerdesk.sla.sweep import SweepResult, do_sweep_sla

SWEEP_KIND = "sla.sweep"
# How late a warning or breach may be noticed; the sweep reads only due rows, so
# running it often costs little.
SWEEP_EVERY = timedelta(seconds=30)
# Rows per transaction: a catch-up after downtime commits in steps and never holds
# the (SQLite) write lock for long.
ROWS_PER_TRANSACTION = 5000


@periodic_job(SWEEP_KIND, every=SWEEP_EVERY)
async def sla_sweep_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    await run_sla_sweep(ctx.db, bus=ctx.bus)


async def run_sla_sweep(
    db: Database, now: datetime | None = None, *, bus: EventBus | None = None
) -> SweepResult:
    """Sweep everything due before ``now`` (default: the current time), committing in
    steps; events reach ``bus`` after each commit."""
    now = now or datetime.now(UTC)
    total = SweepResult()
    while True:
        async with db.writer() as session, UnitOfWork(session, bus) as uow:
            step = await do_sweep_sla(uow, now, max_rows=ROWS_PER_TRANSACTION)
            await uow.commit()
        total.warned += step.warned
        total.breached += step.breached
        total.escalations += step.escalations
        total.batches += step.batches
        total.conversation_ids |= step.conversation_ids
        if not step.more:
            return total
