"""Reads for macros, and the values a macro's variables take in a conversation."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.models import Agent, Team
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.customers.models import Customer
from ledgerdesk.errors import NotFound
from ledgerdesk.macros.models import Macro
from ledgerdesk.macros.template import first_word, pick_language, render


async def list_macros(session: AsyncSession, *, active_only: bool = False) -> Sequence[Macro]:
    query = select(Macro).order_by(Macro.name)
    if active_only:
        query = query.where(Macro.is_active.is_(True))
    return (await session.execute(query)).scalars().all()


async def get_macro(session: AsyncSession, macro_id: int) -> Macro:
    macro = await session.get(Macro, macro_id)
    if macro is None:
        raise NotFound(f"macro {macro_id} not found")
    return macro


async def variable_values(
    session: AsyncSession, conversation: Conversation, agent: Agent | None
) -> dict[str, str | None]:
    customer = await session.get(Customer, conversation.customer_id)
    team = await session.get(Team, conversation.team_id) if conversation.team_id else None
    name = customer.name if customer is not None else None
    return {
        "customer.name": name,
        "customer.first_name": first_word(name),
        "customer.email": customer.email if customer is not None else None,
        "conversation.number": f"#{conversation.id}",
        "conversation.subject": conversation.subject,
        "agent.name": agent.name if agent is not None else None,
        "agent.first_name": first_word(agent.name) if agent is not None else None,
        "team.name": team.name if team is not None else None,
    }


async def render_macro(
    session: AsyncSession,
    macro: Macro,
    conversation: Conversation,
    agent: Agent | None,
    language: str | None = None,
) -> tuple[str, str]:
    """(language chosen, text) for this conversation: its language, else English."""
    chosen = pick_language(macro.bodies, language or conversation.language)
    values = await variable_values(session, conversation, agent)
    return chosen, render(macro.bodies[chosen], values)
