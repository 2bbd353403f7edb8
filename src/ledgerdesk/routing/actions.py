"""Routing: security cases to the security team, new work to an available agent,
and an offline agent's work handed on. Called from the conversation actions and
from automation, inside the caller's unit of work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ledgerdesk.accounts.models import Agent, SiteSetting, Team
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.automation.changes import SystemChanges
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.conversations.status import Priority
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import InvalidInput, NotFound
from ledgerdesk.routing.models import AgentRouting, TeamRouting
from ledgerdesk.routing.queries import (
    SECURITY_TEAM_KEY,
    active_work_of,
    offline_agents_with_work,
    security_team,
    team_candidates,
)
from ledgerdesk.routing.schemas import AgentRoutingIn, TeamRoutingIn
from ledgerdesk.routing.strategy import Handoff, Need, Strategy, choose

# Flags that make a conversation the security team's at once (a rule can add others).
SECURITY_FLAGS = frozenset({"secret_shared"})
HANDOFF_GRACE = timedelta(minutes=5)


def is_security_case(conversation: Conversation) -> bool:
    return not SECURITY_FLAGS.isdisjoint(conversation.risk_flags or [])


async def do_secure_conversation(
    uow: UnitOfWork, conversation: Conversation, changes: SystemChanges | None = None
) -> bool:
    """Move a security-flagged conversation to the security team as urgent. Idempotent."""
    if not is_security_case(conversation):
        return False
    team = await security_team(uow.session)
    if team is not None and conversation.team_id == team.id:
        return False  # already theirs: the team decides its priority from here
    own = changes is None
    changes = changes or SystemChanges(uow, conversation, {"reason": "security"})
    moved = False
    if team is not None:
        moved = await changes.set_team(team.id)
    moved = await changes.set_priority(Priority.URGENT) or moved
    if team is not None and conversation.assignee_id is None:
        await do_assign_by_strategy(uow, conversation, changes)
    if own:
        await changes.finish()
    return moved


async def do_route_conversation(
    uow: UnitOfWork, conversation: Conversation, changes: SystemChanges | None = None
) -> int | None:
    """Security first; then, if nobody is assigned, the team's strategy picks an agent.
    Returns the agent assigned now, or None."""
    own = changes is None
    changes = changes or SystemChanges(uow, conversation, {"reason": "routing"})
    await do_secure_conversation(uow, conversation, changes)
    chosen = None
    if conversation.assignee_id is None:
        chosen = await do_assign_by_strategy(uow, conversation, changes)
    if own:
        await changes.finish()
    return chosen


async def do_assign_by_strategy(
    uow: UnitOfWork, conversation: Conversation, changes: SystemChanges
) -> int | None:
    if conversation.team_id is None:
        return None
    query_routing = uow.session.get(TeamRouting, conversation.team_id, with_for_update=_lock(uow))
    routing = await query_routing
    if routing is None or routing.strategy == Strategy.MANUAL:
        return None
    now = datetime.now(UTC)
    candidates = await team_candidates(uow.session, conversation.team_id, now)
    need = None
    if routing.use_skills:
        customer = await uow.session.get(Customer, conversation.customer_id)
        category = (conversation.custom_fields or {}).get("category")
        need = Need(
            language=conversation.language,
            category=str(category) if category else None,
            tier=customer.tier if customer is not None else None,
        )
    chosen = choose(Strategy(routing.strategy), candidates, need=need, cursor=routing.last_agent_id)
    if chosen is None or not await changes.set_assignee(chosen):
        return None
    routing.last_agent_id = chosen
    return chosen


def _lock(uow: UnitOfWork) -> bool:
    # PostgreSQL: two conversations routed at once must not read the same cursor.
    return uow.session.get_bind().dialect.name == "postgresql"


async def do_hand_off_agent_work(uow: UnitOfWork, agent_id: int) -> int:
    """Hand an offline agent's active conversations on, by each team's setting:
    keep, queue (unassign, back to the team queue) or reassign (another agent now).
    Conversations without a team, or whose team keeps work, stay. Returns how many moved."""
    moved = 0
    for conversation in await active_work_of(uow.session, agent_id):
        if conversation.team_id is None:
            continue
        routing = await uow.session.get(TeamRouting, conversation.team_id)
        if routing is None or routing.offline_handoff == Handoff.KEEP:
            continue
        changes = SystemChanges(
            uow, conversation, {"reason": "agent_offline", "agent_id": agent_id}
        )
        await changes.set_assignee(None)
        if routing.offline_handoff == Handoff.REASSIGN:
            await do_assign_by_strategy(uow, conversation, changes)
        await changes.finish()
        moved += 1
    return moved


async def do_hand_off_offline_agents(uow: UnitOfWork, now: datetime) -> int:
    moved = 0
    for agent_id in await offline_agents_with_work(uow.session, now, HANDOFF_GRACE):
        moved += await do_hand_off_agent_work(uow, agent_id)
    return moved


# Settings, for admins --------------------------------------------------------------


async def do_save_team_routing(
    uow: UnitOfWork, *, actor: Principal, team_id: int, data: TeamRoutingIn
) -> TeamRouting:
    actor.require_admin()
    if await uow.session.get(Team, team_id) is None:
        raise NotFound(f"team {team_id} not found")
    row = await uow.session.get(TeamRouting, team_id)
    if row is None:
        row = TeamRouting(team_id=team_id)
        uow.session.add(row)
    row.strategy = data.strategy
    row.use_skills = data.use_skills
    row.offline_handoff = data.offline_handoff
    row.updated_at = datetime.now(UTC)
    _audit(uow, actor, "routing.team_saved", "team", team_id, data.model_dump(mode="json"))
    return row


async def do_save_agent_routing(
    uow: UnitOfWork, *, actor: Principal, agent_id: int, data: AgentRoutingIn
) -> AgentRouting:
    actor.require_admin()
    if await uow.session.get(Agent, agent_id) is None:
        raise NotFound(f"agent {agent_id} not found")
    row = await uow.session.get(AgentRouting, agent_id)
    if row is None:
        row = AgentRouting(agent_id=agent_id)
        uow.session.add(row)
    row.capacity = data.capacity
    row.languages = sorted({s.strip() for s in data.languages if s.strip()})
    row.categories = sorted({s.strip().lower() for s in data.categories if s.strip()})
    row.tiers = sorted({s.strip().lower() for s in data.tiers if s.strip()})
    row.updated_at = datetime.now(UTC)
    _audit(uow, actor, "routing.agent_saved", "agent", agent_id, data.model_dump(mode="json"))
    return row


async def do_set_security_team(uow: UnitOfWork, *, actor: Principal, name: str) -> Team:
    actor.require_admin()
    found = await uow.session.execute(select(Team).where(Team.name == name.strip()))
    team = found.scalars().first()
    if team is None:
        raise InvalidInput(f"there is no team named {name!r}")
    row = await uow.session.get(SiteSetting, SECURITY_TEAM_KEY)
    if row is None:
        uow.session.add(SiteSetting(key=SECURITY_TEAM_KEY, value=team.name))
    else:
        row.value = team.name
    _audit(uow, actor, "routing.security_team_set", "team", team.id, {"name": team.name})
    return team


def _audit(
    uow: UnitOfWork,
    actor: Principal,
    action: str,
    object_type: str,
    object_id: int,
    detail: dict[str, Any],
) -> None:
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )
