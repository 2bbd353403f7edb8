"""SLA events reach rules through a durable job.

The SLA sweep announces ``sla.warning`` and ``sla.breached`` on the bus after its
commit. This listener turns each into an ``automation.sla_event`` job (only when
some enabled rule has that trigger), so the rules run in their own transaction,
with retries. With several processes on the Redis bus each one hears the event;
the job's dedup key and the rule firing's unique key make it act once.
A process that dies between the sweep's commit and this enqueue loses that one
event for rules (the SLA state itself is safe); see docs/automation.md.

It also makes this process forget its cached rules and webhook subscriptions when
any process announces ``automation.changed`` after saving one (queries.py).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from ledgerdesk.automation.models import AutomationRule
from ledgerdesk.automation.queries import AUTOMATION_TOPIC, forget_automation
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import Event, EventBus
from ledgerdesk.jobs import do_enqueue_job

log = logging.getLogger(__name__)
SLA_KINDS = ("sla.warning", "sla.breached")
SLA_EVENT_JOB = "automation.sla_event"


# Tasks in flight, kept referenced until done (and awaited by ``drain``).
_tasks: set[asyncio.Task[bool]] = set()


def install(bus: EventBus, db: Database) -> None:
    tasks = _tasks

    def on_event(event: Event) -> None:
        if event.kind not in SLA_KINDS:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(enqueue_sla_event(db, bus, event))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    bus.add_listener({"sla"}, on_event)
    # A rule or a webhook subscription changed, here or in another process.
    bus.add_listener({AUTOMATION_TOPIC}, lambda _event: forget_automation())


async def drain() -> None:
    """Wait for the queued-up work of events heard so far (tests, shutdown)."""
    while _tasks:
        await asyncio.gather(*list(_tasks), return_exceptions=True)


async def enqueue_sla_event(db: Database, bus: EventBus | None, event: Event) -> bool:
    data = event.data
    try:
        async with db.writer() as session, UnitOfWork(session, bus) as uow:
            wanted = await session.execute(
                select(AutomationRule.id)
                .where(AutomationRule.trigger == event.kind, AutomationRule.is_enabled.is_(True))
                .limit(1)
            )
            if wanted.first() is None:
                return False
            await do_enqueue_job(
                uow,
                SLA_EVENT_JOB,
                {
                    "kind": event.kind,
                    "clock_id": int(data["clock_id"]),
                    "conversation_id": int(data["conversation_id"]),
                },
                dedup_key=f"automation:{event.kind}:{int(data['clock_id'])}",
            )
            await uow.commit()
        return True
    except Exception:
        log.exception("could not queue the rules for %s", event.kind)
        return False
