"""The facts rule conditions see, read from a conversation and its trigger event."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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


async def tier_of(session: AsyncSession, conversation: Conversation) -> str | None:
    customer = await session.get(Customer, conversation.customer_id)
    return customer.tier if customer is not None else None


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
