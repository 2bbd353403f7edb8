"""Running rules: in the unit of work of the change that triggered them.

Loop prevention, in two rules:

1. **A rule fires at most once per conversation per trigger event.** A firing row
   with a unique (rule, conversation, event key) is written before the actions run;
   if it exists already (the same message delivered twice, an SLA event handled by
   two processes) the rule does nothing.
2. **Depth 1.** Changes made by rules trigger the ``conversation.updated`` rules once
   (depth 1), without the rules that already fired in this chain; changes made at
   depth 1 trigger nothing more. So a rule "priority urgent → add tag" still works
   after a rule that set urgent, but two rules can never ping-pong.

Within one event the rules run in order (position, then id), and each sees the
changes the ones before it made.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.expression import Executable

from ledgerdesk.automation.changes import SystemChanges
from ledgerdesk.automation.conditions import CompiledRule, RuleSet
from ledgerdesk.automation.effects import apply_actions
from ledgerdesk.automation.facts import facts_of, last_customer_texts, tier_of
from ledgerdesk.automation.models import AutomationRule, RuleFiring
from ledgerdesk.automation.queries import enabled_rules
from ledgerdesk.automation.schemas import Trigger
from ledgerdesk.conversations.models import Conversation, Message
from ledgerdesk.db.base import utcnow
from ledgerdesk.db.uow import UnitOfWork

log = logging.getLogger(__name__)
MAX_DEPTH = 1


@dataclass
class ChainResult:
    """Which rules fired, and what they changed, across the whole chain."""

    fired: list[int] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)


async def do_run_rules(
    uow: UnitOfWork,
    conversation: Conversation,
    trigger: str,
    *,
    message: Message | None = None,
    event_key: str | None = None,
    only: CompiledRule | None = None,
) -> ChainResult:
    """Evaluate the enabled rules of ``trigger`` (or just ``only``) for this event and
    run the actions of those that match; then the depth-1 ``conversation.updated`` pass."""
    result = ChainResult()
    rules = RuleSet([only]) if only is not None else await enabled_rules(uow.session, trigger)
    key = event_key or _event_key(trigger, message)
    await _run_pass(uow, conversation, rules, key, message, result)
    if result.changed and MAX_DEPTH >= 1:
        follow = await enabled_rules(uow.session, Trigger.CONVERSATION_UPDATED)
        if len(follow):
            depth_one = ChainResult(fired=list(result.fired))
            await _run_pass(uow, conversation, follow, f"chain:{uuid.uuid4().hex}", None, depth_one)
            result.fired = depth_one.fired
            result.changed |= depth_one.changed
    return result


def _event_key(trigger: str, message: Message | None) -> str:
    if trigger == Trigger.CONVERSATION_CREATED:
        return "created"
    if trigger == Trigger.MESSAGE_RECEIVED and message is not None:
        return f"message:{message.id}"
    # Every update is its own event; repeats within a chain are stopped by the chain.
    return f"{trigger}:{uuid.uuid4().hex}"


async def _run_pass(
    uow: UnitOfWork,
    conversation: Conversation,
    rules: RuleSet,
    key: str,
    message: Message | None,
    result: ChainResult,
) -> None:
    if not len(rules):
        return
    text = await _text_for(uow, conversation, message, rules, key)
    # The tier is read only once a candidate rule asks for it: most events are ruled
    # out by the keyword index alone, and a read costs more than all the matching.
    tier: str | None = None
    tier_known = False
    facts = facts_of(conversation, tier, text)
    changes: SystemChanges | None = None
    for rule in rules.candidates(facts):
        if rule.rule_id in result.fired:
            continue
        if rule.uses_tier and not tier_known:
            tier, tier_known = await tier_of(uow.session, conversation), True
            facts = dataclasses.replace(facts, tier=tier)
        if not rule.matches(facts):
            continue
        if not await _claim(uow, rule.rule_id, conversation.id, key):
            continue
        result.fired.append(rule.rule_id)
        if changes is None:
            changes = SystemChanges(uow, conversation, {})
        changes.reason = {"reason": "rule", "rule_id": rule.rule_id}
        before = set(changes.changed)
        await apply_actions(uow, conversation, rule, changes)
        if changes.changed != before:
            facts = facts_of(conversation, tier, text)  # later rules see this rule's changes
    if changes is not None:
        result.changed |= await changes.finish()


async def _text_for(
    uow: UnitOfWork,
    conversation: Conversation,
    message: Message | None,
    rules: RuleSet,
    key: str,
) -> str:
    if message is not None:
        if key == "created":  # the first message and the subject the customer wrote
            return f"{conversation.subject}\n{message.body}"
        return message.body
    if not any(rule.uses_text for rule in rules.rules):
        return ""
    texts = await last_customer_texts(uow.session, [conversation.id])
    return f"{conversation.subject}\n{texts.get(conversation.id, '')}"


async def _claim(uow: UnitOfWork, rule_id: int, conversation_id: int, key: str) -> bool:
    """Write the firing row; False when this rule already fired for this event, or was
    disabled or deleted since this process read it (the cache may be a second old).

    One statement: the row is inserted from a SELECT of the rule that finds it only
    while it is enabled, and the unique key turns a repeat into no row at all.
    """
    dialect = uow.session.get_bind().dialect.name
    found = await uow.session.execute(
        _claim_statement(dialect),
        {
            "rule_id": rule_id,
            "conversation_id": conversation_id,
            "event_key": key[:100],
            "actions": [],
            "created_at": utcnow(),
        },
    )
    return found.first() is not None


@functools.cache
def _claim_statement(dialect: str) -> Executable:
    """INSERT INTO firings (...) SELECT ... FROM automation_rules WHERE id = :rule_id AND
    is_enabled ON CONFLICT DO NOTHING RETURNING id, built once per dialect (a Core
    statement on the tables: no autoflush, no ORM bookkeeping, a cached compilation)."""
    firings = cast(Table, RuleFiring.__table__)
    rules = cast(Table, AutomationRule.__table__)
    source = select(
        rules.c.id,
        bindparam("conversation_id", type_=firings.c.conversation_id.type),
        bindparam("event_key", type_=firings.c.event_key.type),
        bindparam("actions", type_=firings.c.actions.type),
        bindparam("created_at", type_=firings.c.created_at.type),
    ).where(rules.c.id == bindparam("rule_id"), rules.c.is_enabled.is_(True))
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(firings)
        .from_select(["rule_id", "conversation_id", "event_key", "actions", "created_at"], source)
        .on_conflict_do_nothing(index_elements=["rule_id", "conversation_id", "event_key"])
        .returning(firings.c.id)
    )
