"""Jobs: webhook deliveries, the idle-time rules, and rules on SLA warnings and breaches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select

from ledgerdesk.automation.delivery import deliver
from ledgerdesk.automation.engine import do_run_rules
from ledgerdesk.automation.models import RuleFiring
from ledgerdesk.automation.queries import enabled_rules
from ledgerdesk.automation.schemas import Trigger
from ledgerdesk.automation.webhooks import DELIVER_JOB, MAX_ATTEMPTS
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.conversations.status import UNRESOLVED
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import EventBus
from ledgerdesk.jobs import JobContext, job_handler, periodic_job

SLA_EVENT_JOB = "automation.sla_event"
# Conversations per idle rule and run: a backlog after downtime drains over a few runs.
IDLE_BATCH = 200


@job_handler(DELIVER_JOB, max_attempts=MAX_ATTEMPTS, timeout=60)
async def deliver_webhook(ctx: JobContext, payload: dict[str, Any]) -> None:
    await deliver(
        ctx.db, ctx.settings, int(payload["delivery_id"]), last_attempt=ctx.is_last_attempt
    )


@job_handler(SLA_EVENT_JOB, max_attempts=5)
async def rules_on_sla_event(ctx: JobContext, payload: dict[str, Any]) -> None:
    await run_sla_event(ctx.db, ctx.bus, payload)


async def run_sla_event(db: Database, bus: EventBus | None, payload: dict[str, Any]) -> list[int]:
    """The sla.warning or sla.breached rules for one clock's event (once per clock)."""
    trigger = Trigger(str(payload["kind"]))
    async with db.writer() as session, UnitOfWork(session, bus) as uow:
        conversation = await session.get(Conversation, int(payload["conversation_id"]))
        if conversation is None:
            return []
        result = await do_run_rules(
            uow, conversation, trigger, event_key=f"{trigger}:{int(payload['clock_id'])}"
        )
        await uow.commit()
    return result.fired


@periodic_job("automation.idle", every=timedelta(minutes=1))
async def idle_rules(ctx: JobContext, payload: dict[str, Any]) -> None:
    await run_idle_rules(ctx.db, ctx.bus, datetime.now(UTC))


async def run_idle_rules(db: Database, bus: EventBus | None, now: datetime) -> int:
    """Each conversation.idle rule on unresolved conversations not updated for its
    idle_minutes, once per quiet spell: a firing after the last update means done."""
    fired = 0
    async with db.writer() as session, UnitOfWork(session, bus) as uow:
        for rule in (await enabled_rules(session, Trigger.CONVERSATION_IDLE)).rules:
            minutes = rule.spec.idle_minutes or 0
            already = exists().where(
                and_(
                    RuleFiring.rule_id == rule.rule_id,
                    RuleFiring.conversation_id == Conversation.id,
                    RuleFiring.created_at >= Conversation.updated_at,
                )
            )
            found = await session.execute(
                select(Conversation)
                .where(
                    Conversation.status.in_(list(UNRESOLVED)),
                    Conversation.updated_at < now - timedelta(minutes=minutes),
                    ~already,
                )
                .order_by(Conversation.updated_at)
                .limit(IDLE_BATCH)
            )
            for conversation in found.scalars().all():
                key = f"idle:{conversation.updated_at.isoformat()}"
                result = await do_run_rules(
                    uow, conversation, Trigger.CONVERSATION_IDLE, event_key=key, only=rule
                )
                fired += len(result.fired)
        await uow.commit()
    return fired
