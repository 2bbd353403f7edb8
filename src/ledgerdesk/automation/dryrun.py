"""Dry run: which of the last N conversations a rule would have matched, changing nothing.

The conditions see each conversation as it is now, with its subject and latest
customer message as the text (the message that triggered it back then may differ).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.automation.conditions import compile_rule
from ledgerdesk.automation.facts import facts_of, last_customer_texts
from ledgerdesk.automation.schemas import DryRunMatch, DryRunOut, RuleSpec
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.customers.models import Customer


async def dry_run(session: AsyncSession, spec: RuleSpec, last: int = 100) -> DryRunOut:
    found = await session.execute(
        select(Conversation, Customer.tier)
        .join(Customer, Customer.id == Conversation.customer_id)
        .order_by(Conversation.id.desc())
        .limit(last)
    )
    rows = found.all()
    rule = compile_rule(0, spec)
    texts = await last_customer_texts(session, [c.id for c, _ in rows]) if rule.uses_text else {}
    matched = []
    for conversation, tier in rows:
        text = f"{conversation.subject}\n{texts.get(conversation.id, '')}" if texts else ""
        if rule.matches(facts_of(conversation, tier, text)):
            matched.append(
                DryRunMatch(
                    id=conversation.id,
                    subject=conversation.subject,
                    status=conversation.status,
                    priority=conversation.priority,
                    created_at=conversation.created_at,
                )
            )
    return DryRunOut(checked=len(rows), matched=matched)
