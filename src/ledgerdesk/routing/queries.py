"""Reads for routing: who is available, how loaded, and each team's settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.models import Agent, SiteSetting, Team, TeamMembership
from ledgerdesk.channels.webchat.models import AgentPresence
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.routing.models import AgentRouting, TeamRouting
from ledgerdesk.routing.strategy import Candidate

# Conversations that count against an agent's capacity: the ones needing work now.
ACTIVE_STATUSES = ("new", "open")
# Seen within this window counts as connected (the console heartbeats every 20 s).
ONLINE_WINDOW = timedelta(seconds=60)
SECURITY_TEAM_KEY = "routing.security_team"
DEFAULT_SECURITY_TEAM = "Security"
DEFAULT_CAPACITY = 10


async def team_routing(session: AsyncSession, team_id: int) -> TeamRouting | None:
    return await session.get(TeamRouting, team_id)


async def security_team(session: AsyncSession) -> Team | None:
    """The team security-flagged conversations go to: the site setting's name, else "Security"."""
    row = await session.get(SiteSetting, SECURITY_TEAM_KEY)
    name = row.value if row is not None and isinstance(row.value, str) else DEFAULT_SECURITY_TEAM
    found = await session.execute(select(Team).where(Team.name == name))
    return found.scalars().first()


async def loads(session: AsyncSession, agent_ids: Sequence[int]) -> dict[int, int]:
    if not agent_ids:
        return {}
    found = await session.execute(
        select(Conversation.assignee_id, func.count())
        .where(
            Conversation.assignee_id.in_(agent_ids),
            Conversation.status.in_(ACTIVE_STATUSES),
        )
        .group_by(Conversation.assignee_id)
    )
    return {int(agent_id or 0): int(n) for agent_id, n in found.all()}


async def team_candidates(session: AsyncSession, team_id: int, now: datetime) -> list[Candidate]:
    """Every active member who can reply, with load, capacity, presence and skills."""
    found = await session.execute(
        select(Agent, AgentRouting, AgentPresence)
        .join(TeamMembership, TeamMembership.agent_id == Agent.id)
        .outerjoin(AgentRouting, AgentRouting.agent_id == Agent.id)
        .outerjoin(AgentPresence, AgentPresence.agent_id == Agent.id)
        .where(TeamMembership.team_id == team_id, Agent.is_active.is_(True))
        .order_by(Agent.id)
    )
    rows = [(a, r, p) for a, r, p in found.all() if a.can_reply]
    load = await loads(session, [a.id for a, _, _ in rows])
    candidates = []
    for agent, routing, presence in rows:
        connected = (
            presence is not None
            and presence.status == "online"
            and presence.last_seen_at > now - ONLINE_WINDOW
        )
        candidates.append(
            Candidate(
                agent_id=agent.id,
                load=load.get(agent.id, 0),
                capacity=routing.capacity if routing is not None else DEFAULT_CAPACITY,
                online=agent.presence_status == "online" and connected,
                languages=frozenset(routing.languages) if routing else frozenset(),
                categories=frozenset(routing.categories) if routing else frozenset(),
                tiers=frozenset(routing.tiers) if routing else frozenset(),
            )
        )
    return candidates


async def offline_agents_with_work(
    session: AsyncSession, now: datetime, grace: timedelta
) -> list[int]:
    """Agents holding active conversations who chose offline, or whose last connection
    is older than ``grace`` (a reload or a short network gap is not leaving)."""
    holders = (
        select(Conversation.assignee_id)
        .where(Conversation.assignee_id.is_not(None), Conversation.status.in_(ACTIVE_STATUSES))
        .distinct()
    )
    found = await session.execute(
        select(Agent.id, Agent.presence_status, AgentPresence.last_seen_at, AgentPresence.status)
        .outerjoin(AgentPresence, AgentPresence.agent_id == Agent.id)
        .where(Agent.id.in_(holders))
    )
    gone = []
    for agent_id, chosen, last_seen, status in found.all():
        if (
            chosen == "offline"
            or status == "offline"
            or (last_seen is not None and last_seen < now - grace)
        ):
            gone.append(int(agent_id))
    return gone


async def active_work_of(session: AsyncSession, agent_id: int) -> list[Conversation]:
    found = await session.execute(
        select(Conversation)
        .where(Conversation.assignee_id == agent_id, Conversation.status.in_(ACTIVE_STATUSES))
        .order_by(Conversation.id)
    )
    return list(found.scalars())
