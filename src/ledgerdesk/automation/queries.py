"""Reads for automation: rules (compiled once per version and cached), firings,
webhook subscriptions and their delivery log."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
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
from ledgerdesk.events.bus import Event

# Rule sets and active webhook subscriptions are cached per process and per database:
# they are read on every event and change a few times a month. A change made in this
# process forgets them at once; the ``automation.changed`` bus event (listeners.py)
# makes every process forget them after the commit; and without that event a small
# version query, at most once per RECHECK_SECONDS, notices a change anyway.
AUTOMATION_TOPIC = "automation"
AUTOMATION_CHANGED = Event("automation.changed", (AUTOMATION_TOPIC,))
RECHECK_SECONDS = 1.0
Version = tuple[int, datetime | None]

# rule id -> (updated_at, compiled): validating and compiling JSON on every event would
# cost more than matching. A changed rule has a new updated_at and is compiled again.
_compiled: dict[int, tuple[datetime, CompiledRule]] = {}
# (engine, trigger) -> ((count, newest updated_at) of its enabled rules, their RuleSet)
_sets: dict[tuple[Engine, str], tuple[Version, RuleSet]] = {}
_checked: dict[tuple[Engine, str], float] = {}


@dataclass(frozen=True, slots=True)
class ActiveSubscription:
    id: int
    event_kinds: frozenset[str]
    updated_at: datetime  # a delivery is written only while the row still has it


# engine -> (checked at, (count, newest updated_at) of the active ones, the active ones)
_subscriptions: dict[Engine, tuple[float, Version, tuple[ActiveSubscription, ...]]] = {}


def forget_rules() -> None:
    """Drop the cached rule sets (called when this process changes a rule)."""
    _sets.clear()
    _checked.clear()


def forget_subscriptions() -> None:
    """Drop the cached webhook subscriptions (when this process changes one)."""
    _subscriptions.clear()


def forget_automation() -> None:
    """Both caches: another process changed a rule or a subscription."""
    forget_rules()
    forget_subscriptions()


def _database(session: AsyncSession) -> Engine:
    # The engine object, not its URL: hashing a URL renders it as a string each time.
    return session.get_bind().engine


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
    that time (at once when the bus event arrives); a save in this process clears
    the cache at once (``forget_rules``).
    """
    key = (_database(session), trigger)
    cached = _sets.get(key)
    now = time.monotonic()
    if cached is not None and now - _checked.get(key, 0.0) < RECHECK_SECONDS:
        return cached[1]
    row = (
        await session.execute(
            select(func.count(), func.max(AutomationRule.updated_at)).where(
                AutomationRule.trigger == trigger, AutomationRule.is_enabled.is_(True)
            )
        )
    ).one()
    version = (int(row[0]), row[1])
    _checked[key] = now
    if cached is not None and cached[0] == version:
        return cached[1]
    found = await session.execute(
        select(AutomationRule.id, AutomationRule.updated_at, AutomationRule.spec)
        .where(AutomationRule.trigger == trigger, AutomationRule.is_enabled.is_(True))
        .order_by(AutomationRule.position, AutomationRule.id)
    )
    rules = RuleSet([compiled(rid, updated, spec) for rid, updated, spec in found.all()])
    if len(_sets) > 1000:  # a few triggers per database; more means a test run
        forget_rules()
    _sets[key] = (version, rules)
    return rules


async def active_subscriptions(session: AsyncSession) -> tuple[ActiveSubscription, ...]:
    """The active webhook subscriptions and their event kinds, cached like the rules.

    Staleness is safe one way and brief the other: a delivery row is written only if
    its subscription is still active and unchanged since it was cached (webhooks.py;
    otherwise the list is read again), so a subscription paused, changed or deleted
    elsewhere is never served from a stale entry; one created in another process gets
    events once the bus event arrives, or within RECHECK_SECONDS.
    """
    database = _database(session)
    cached = _subscriptions.get(database)
    now = time.monotonic()
    if cached is not None and now - cached[0] < RECHECK_SECONDS:
        return cached[2]
    table = WebhookSubscription.__table__
    row = (
        await session.execute(
            select(func.count(), func.max(table.c.updated_at)).where(table.c.is_active.is_(True))
        )
    ).one()
    version = (int(row[0]), row[1])
    if cached is not None and cached[1] == version:
        _subscriptions[database] = (now, version, cached[2])
        return cached[2]
    found = await session.execute(
        select(table.c.id, table.c.event_kinds, table.c.updated_at)
        .where(table.c.is_active.is_(True))
        .order_by(table.c.id)
    )
    active = tuple(
        ActiveSubscription(int(sid), frozenset(kinds or ()), updated)
        for sid, kinds, updated in found.all()
    )
    if len(_subscriptions) > 100:  # one entry per database; more means a test run
        _subscriptions.clear()
    _subscriptions[database] = (now, version, active)
    return active


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
