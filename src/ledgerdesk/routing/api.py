"""REST routes for routing settings: agents read, admins write."""

from __future__ import annotations

from fastapi import APIRouter

from ledgerdesk.accounts.models import Agent, Team
from ledgerdesk.errors import NotFound
from ledgerdesk.routing.actions import (
    do_save_agent_routing,
    do_save_team_routing,
    do_set_security_team,
)
from ledgerdesk.routing.models import AgentRouting, TeamRouting
from ledgerdesk.routing.queries import security_team
from ledgerdesk.routing.schemas import (
    AgentRoutingIn,
    AgentRoutingOut,
    SecurityTeamIn,
    SecurityTeamOut,
    TeamRoutingIn,
    TeamRoutingOut,
)
from ledgerdesk.server.deps import Actor, ReadSession, Uow
from ledgerdesk.server.types import PathId

router = APIRouter(prefix="/routing", tags=["routing"])


def _team_out(team_id: int, row: TeamRouting | None) -> TeamRoutingOut:
    if row is None:
        return TeamRoutingOut(team_id=team_id)
    return TeamRoutingOut(
        team_id=team_id,
        strategy=row.strategy,
        use_skills=row.use_skills,
        offline_handoff=row.offline_handoff,
    )


def _agent_out(agent_id: int, row: AgentRouting | None) -> AgentRoutingOut:
    if row is None:
        return AgentRoutingOut(agent_id=agent_id)
    return AgentRoutingOut(
        agent_id=agent_id,
        capacity=row.capacity,
        languages=row.languages,
        categories=row.categories,
        tiers=row.tiers,
    )


@router.get("/teams/{team_id}", response_model=TeamRoutingOut)
async def get_team_routing(team_id: PathId, actor: Actor, session: ReadSession) -> TeamRoutingOut:
    actor.require_agent()
    if await session.get(Team, team_id) is None:
        raise NotFound(f"team {team_id} not found")
    return _team_out(team_id, await session.get(TeamRouting, team_id))


@router.put("/teams/{team_id}", response_model=TeamRoutingOut)
async def put_team_routing(
    team_id: PathId, payload: TeamRoutingIn, actor: Actor, uow: Uow
) -> TeamRoutingOut:
    row = await do_save_team_routing(uow, actor=actor, team_id=team_id, data=payload)
    await uow.commit()
    return _team_out(team_id, row)


@router.get("/agents/{agent_id}", response_model=AgentRoutingOut)
async def get_agent_routing(
    agent_id: PathId, actor: Actor, session: ReadSession
) -> AgentRoutingOut:
    actor.require_agent()
    if await session.get(Agent, agent_id) is None:
        raise NotFound(f"agent {agent_id} not found")
    return _agent_out(agent_id, await session.get(AgentRouting, agent_id))


@router.put("/agents/{agent_id}", response_model=AgentRoutingOut)
async def put_agent_routing(
    agent_id: PathId, payload: AgentRoutingIn, actor: Actor, uow: Uow
) -> AgentRoutingOut:
    row = await do_save_agent_routing(uow, actor=actor, agent_id=agent_id, data=payload)
    await uow.commit()
    return _agent_out(agent_id, row)


@router.get("/security-team", response_model=SecurityTeamOut)
async def get_security_team(actor: Actor, session: ReadSession) -> SecurityTeamOut:
    actor.require_agent()
    team = await security_team(session)
    return SecurityTeamOut(team=team.name if team else None, team_id=team.id if team else None)


@router.put("/security-team", response_model=SecurityTeamOut)
async def put_security_team(payload: SecurityTeamIn, actor: Actor, uow: Uow) -> SecurityTeamOut:
    team = await do_set_security_team(uow, actor=actor, name=payload.team)
    await uow.commit()
    return SecurityTeamOut(team=team.name, team_id=team.id)
