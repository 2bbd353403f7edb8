"""The facts rule conditions see, read from a conversation and its trigger event."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from ledgerdesk.automation.conditions import Facts
from ledgerdesk.conversations.models import Conversation, Message
from ledgerdesk.customers.models import Customer


def facts_of(conversation: Conversation, tier: str | None, text: str = "") -> Facts:
    fields = conversation.custom_fields or {}
    category, intent = fields.get("category"), fields.get("intent")
    return Facts(
        channel=conversation.channel,
        language=conversation.language,
        category=str(category) if category is not None else None,
        intent=str(intent) if intent is not None else None,
        priority=conversation.priority,
        tier=tier,
        status=conversation.status,
        inbox_id=conversation.inbox_id,
        team_id=conversation.team_id,
        assignee_id=conversation.assignee_id,
        tags=frozenset(conversation.tags or ()),
        risk_flags=frozenset(conversation.risk_flags or ()),
        text=text,
    )


_TIER = select(Customer.__table__.c.tier).where(Customer.__table__.c.id == bindparam("id"))


async def tier_of(session: AsyncSession, conversation: Conversation) -> str | None:
    """The customer's tier: from the session when the customer is loaded there (a change
    not yet flushed lives only there), else one read of one column.

    The read is a Core statement built once, so it neither loads a Customer object nor
    flushes the session first: every pending change to a customer is on an object the
    session holds, which the first branch sees.
    """
    customer = session.identity_map.get(identity_key(Customer, conversation.customer_id))
    if isinstance(customer, Customer) and "tier" not in inspect(customer).unloaded:
        return customer.tier
    tier = await session.scalar(_TIER, {"id": conversation.customer_id})
    return str(tier) if tier is not None else None


async def last_customer_texts(
    session: AsyncSession, conversation_ids: Sequence[int]
) -> dict[int, str]:
    """Each conversation's latest public customer message, in one query."""
    if not conversation_ids:
        return {}
    latest = (
        select(func.max(Message.id))
        .where(
            Message.conversation_id.in_(conversation_ids),
            Message.author_kind == "customer",
            Message.is_internal.is_(False),
        )
        .group_by(Message.conversation_id)
    )
    found = await session.execute(
        select(Message.conversation_id, Message.body).where(Message.id.in_(latest))
    )
    return {int(cid): body for cid, body in found.all()}
