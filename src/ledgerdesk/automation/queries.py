"""Reads for automation: rules (compiled once per version and cached), firings,
webhook subscriptions and their delivery log."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.automation.conditions import CompiledRule, RuleSet, compile_rule
from ledgerdesk.automation.models import (
    AutomationRule,
    RuleFiring,
    WebhookDelivery,
    WebhookSubscription,
)
from ledgerdesk.automation.schemas import RuleSpec
from ledgerdesk.errors import NotFound

# rule id -> (updated_at, compiled): validating and compiling JSON on every event would
# cost more than matching. A changed rule has a new updated_at and is compiled again.
_compiled: dict[int, tuple[datetime, CompiledRule]] = {}
# trigger -> ((count, newest updated_at) of its enabled rules, their RuleSet)
_sets: dict[str, tuple[tuple[int, datetime | None], RuleSet]] = {}
_checked: dict[str, float] = {}
RECHECK_SECONDS = 1.0


def forget_rules() -> None:
    """Drop the cached rule sets (called when this process changes a rule)."""
    _sets.clear()
    _checked.clear()


def compiled(rule_id: int, updated_at: datetime, spec: dict[str, object]) -> CompiledRule:
    cached = _compiled.get(rule_id)
    if cached is not None and cached[0] == updated_at:
        return cached[1]
    rule = compile_rule(rule_id, RuleSpec.model_validate(spec))
    _compiled[rule_id] = (updated_at, rule)
    return rule


async def enabled_rules(session: AsyncSession, trigger: str) -> RuleSet:
    """The enabled rules of a trigger, in order (position, then id), as a RuleSet.

    A small query (count and newest update of the trigger's enabled rules) tells
    whether the set changed; only then are the rules read again. The answer is
    trusted for RECHECK_SECONDS, so a rule saved in another process acts within
    that time; a save in this process clears the cache at once (``forget_rules``).
    """
    cached = _sets.get(trigger)
    now = time.monotonic()
    if cached is not None and now - _checked.get(trigger, 0.0) < RECHECK_SECONDS:
        return cached[1]
    version = (
        await session.execute(
            select(func.count(), func.max(AutomationRule.updated_at)).where(
                AutomationRule.trigger == trigger, AutomationRule.is_enabled.is_(True)
            )
        )
    ).one()
    key = (int(version[0]), version[1])
    _checked[trigger] = now
    if cached is not None and cached[0] == key:
        return cached[1]
    found = await session.execute(
        select(AutomationRule.id, AutomationRule.updated_at, AutomationRule.spec)
        .where(AutomationRule.trigger == trigger, AutomationRule.is_enabled.is_(True))
        .order_by(AutomationRule.position, AutomationRule.id)
    )
    rules = RuleSet([compiled(rid, updated, spec) for rid, updated, spec in found.all()])
    _sets[trigger] = (key, rules)
    return rules


async def list_rules(session: AsyncSession) -> Sequence[AutomationRule]:
    found = await session.execute(
        select(AutomationRule).order_by(AutomationRule.position, AutomationRule.id)
    )
    return found.scalars().all()


async def get_rule(session: AsyncSession, rule_id: int) -> AutomationRule:
    rule = await session.get(AutomationRule, rule_id)
    if rule is None:
        raise NotFound(f"rule {rule_id} not found")
    return rule


async def firings_of(session: AsyncSession, conversation_id: int) -> Sequence[RuleFiring]:
    found = await session.execute(
        select(RuleFiring)
        .where(RuleFiring.conversation_id == conversation_id)
        .order_by(RuleFiring.id)
    )
    return found.scalars().all()


async def list_subscriptions(session: AsyncSession) -> Sequence[WebhookSubscription]:
    found = await session.execute(select(WebhookSubscription).order_by(WebhookSubscription.id))
    return found.scalars().all()


async def get_subscription(session: AsyncSession, subscription_id: int) -> WebhookSubscription:
    row = await session.get(WebhookSubscription, subscription_id)
    if row is None:
        raise NotFound(f"webhook {subscription_id} not found")
    return row


async def list_deliveries(
    session: AsyncSession, subscription_id: int, *, limit: int = 50, before: int | None = None
) -> Sequence[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    found = await session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit))
    return found.scalars().all()
