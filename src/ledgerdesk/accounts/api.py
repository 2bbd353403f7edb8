"""REST routes for agents, teams, the current agent, tokens and the security policy."""

from __future__ import annotations

from datetime import UTC

from fastapi import APIRouter, status
from sqlalchemy import select

from ledgerdesk.accounts.actions import (
    do_add_team_member,
    do_create_agent,
    do_create_api_token,
    do_create_team,
    do_revoke_api_token,
    do_set_2fa_required,
    do_update_agent,
)
from ledgerdesk.accounts.models import Agent, Team, TeamMembership
from ledgerdesk.accounts.queries import get_agent, is_2fa_required, list_agents, list_tokens_of
from ledgerdesk.accounts.schemas import (
    AgentCreate,
    AgentOut,
    AgentUpdate,
    MemberAdd,
    MeUpdate,
    NewTokenOut,
    SecurityPolicy,
    TeamCreate,
    TeamOut,
    TokenCreate,
    TokenOut,
)
from ledgerdesk.errors import InvalidInput, NotFound
from ledgerdesk.server.deps import Actor, ReadSession, Uow
from ledgerdesk.server.types import PathId

router = APIRouter(tags=["agents"])


@router.get("/me", response_model=AgentOut)
async def me(actor: Actor) -> AgentOut:
    return AgentOut.of(actor.require_agent())


@router.patch("/me", response_model=AgentOut)
async def update_me(payload: MeUpdate, actor: Actor, uow: Uow) -> AgentOut:
    agent = await get_agent(uow.session, actor.require_agent().id)
    await do_update_agent(
        uow, actor=actor, agent=agent, name=payload.name, language=payload.language
    )
    await uow.commit()
    return AgentOut.of(agent)


@router.get("/agents", response_model=list[AgentOut])
async def agents(actor: Actor, session: ReadSession) -> list[AgentOut]:
    actor.require_agent()
    actor.require_scope("agents:read")
    return [AgentOut.of(agent) for agent in await list_agents(session)]


@router.post("/agents", status_code=status.HTTP_201_CREATED, response_model=AgentOut)
async def create_agent(payload: AgentCreate, actor: Actor, uow: Uow) -> AgentOut:
    agent = await do_create_agent(
        uow,
        actor=actor,
        email=payload.email,
        name=payload.name,
        password=payload.password,
        role=payload.role,
        language=payload.language,
    )
    await uow.commit()
    return AgentOut.of(agent)


@router.get("/agents/{agent_id}", response_model=AgentOut)
async def agent_detail(agent_id: PathId, actor: Actor, session: ReadSession) -> AgentOut:
    actor.require_agent()
    actor.require_scope("agents:read")
    return AgentOut.of(await get_agent(session, agent_id))


@router.patch("/agents/{agent_id}", response_model=AgentOut)
async def update_agent(agent_id: PathId, payload: AgentUpdate, actor: Actor, uow: Uow) -> AgentOut:
    agent = await get_agent(uow.session, agent_id)
    await do_update_agent(
        uow,
        actor=actor,
        agent=agent,
        name=payload.name,
        role=payload.role,
        language=payload.language,
        is_active=payload.is_active,
    )
    await uow.commit()
    return AgentOut.of(agent)


async def _team_out(session: ReadSession, team: Team) -> TeamOut:
    result = await session.execute(
        select(TeamMembership.agent_id).where(TeamMembership.team_id == team.id)
    )
    return TeamOut.of(team, sorted(result.scalars()))


@router.get("/teams", response_model=list[TeamOut])
async def teams(actor: Actor, session: ReadSession) -> list[TeamOut]:
    actor.require_agent()
    actor.require_scope("agents:read")
    rows = (await session.execute(select(Team).order_by(Team.name))).scalars()
    return [await _team_out(session, team) for team in rows]


@router.post("/teams", status_code=status.HTTP_201_CREATED, response_model=TeamOut)
async def create_team(payload: TeamCreate, actor: Actor, uow: Uow) -> TeamOut:
    team = await do_create_team(uow, actor=actor, name=payload.name, is_private=payload.is_private)
    await uow.commit()
    return TeamOut.of(team, [])


@router.post("/teams/{team_id}/members", response_model=TeamOut)
async def add_member(team_id: PathId, payload: MemberAdd, actor: Actor, uow: Uow) -> TeamOut:
    team = await uow.session.get(Team, team_id)
    if team is None:
        raise NotFound(f"team {team_id} not found")
    agent = await uow.session.get(Agent, payload.agent_id)
    if agent is None:
        raise InvalidInput(f"agent {payload.agent_id} does not exist")
    await do_add_team_member(uow, actor=actor, team=team, agent=agent)
    await uow.commit()
    return await _team_out(uow.session, team)


@router.get("/tokens", response_model=list[TokenOut])
async def tokens(actor: Actor, session: ReadSession) -> list[TokenOut]:
    agent = actor.require_agent()
    return [TokenOut.of(token) for token in await list_tokens_of(session, agent.id)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=NewTokenOut)
async def create_token(payload: TokenCreate, actor: Actor, uow: Uow) -> NewTokenOut:
    """Create a token for yourself, or (admins) for a customer. The value is shown once."""
    owner = await get_agent(uow.session, actor.require_agent().id)
    expires_at = payload.expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    value, token = await do_create_api_token(
        uow,
        actor=actor,
        name=payload.name,
        scopes=payload.scopes,
        agent=owner if payload.customer_id is None else None,
        customer_id=payload.customer_id,
        expires_at=expires_at,
    )
    await uow.commit()
    return NewTokenOut(token=value, **TokenOut.of(token).model_dump())


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: PathId, actor: Actor, uow: Uow) -> None:
    await do_revoke_api_token(uow, actor=actor, token_id=token_id)
    await uow.commit()


@router.get("/security", response_model=SecurityPolicy)
async def security_policy(actor: Actor, session: ReadSession) -> SecurityPolicy:
    actor.require_agent()
    return SecurityPolicy(require_2fa=await is_2fa_required(session))


@router.put("/security", response_model=SecurityPolicy)
async def set_security_policy(payload: SecurityPolicy, actor: Actor, uow: Uow) -> SecurityPolicy:
    await do_set_2fa_required(uow, actor=actor, required=payload.require_2fa)
    await uow.commit()
    return payload
