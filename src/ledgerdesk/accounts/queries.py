"""Reads about agents, teams, sessions and tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.models import (
    Agent,
    AgentSession,
    ApiToken,
    SiteSetting,
    Team,
    TeamMembership,
)
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.secrets import token_digest
from ledgerdesk.errors import NotAuthenticated, NotFound

REQUIRE_2FA_KEY = "security.require_2fa"


async def get_site_setting(session: AsyncSession, key: str, default: object = None) -> object:
    row = await session.get(SiteSetting, key)
    return default if row is None else row.value


async def is_2fa_required(session: AsyncSession) -> bool:
    return bool(await get_site_setting(session, REQUIRE_2FA_KEY, False))


async def get_agent(session: AsyncSession, agent_id: int) -> Agent:
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} not found")
    return agent


async def get_agent_by_email(session: AsyncSession, email: str) -> Agent | None:
    result = await session.execute(select(Agent).where(Agent.email == email.strip().lower()))
    return result.scalar_one_or_none()


async def list_agents(session: AsyncSession) -> list[Agent]:
    return list((await session.execute(select(Agent).order_by(Agent.name))).scalars())


async def list_teams(session: AsyncSession) -> list[Team]:
    return list((await session.execute(select(Team).order_by(Team.name))).scalars())


async def team_ids_of(session: AsyncSession, agent_id: int) -> set[int]:
    result = await session.execute(
        select(TeamMembership.team_id).where(TeamMembership.agent_id == agent_id)
    )
    return set(result.scalars())


async def hidden_team_ids(session: AsyncSession, agent: Agent) -> set[int]:
    """Private teams whose conversations this agent may not see."""
    if agent.is_supervisor:
        return set()
    private = set(
        (await session.execute(select(Team.id).where(Team.is_private.is_(True)))).scalars()
    )
    if not private:
        return set()
    return private - await team_ids_of(session, agent.id)


async def find_live_session(session: AsyncSession, token: str) -> AgentSession | None:
    result = await session.execute(
        select(AgentSession).where(AgentSession.token_hash == token_digest(token))
    )
    found = result.scalar_one_or_none()
    if found is None or found.expires_at <= datetime.now(UTC):
        return None
    return found


async def authenticate_token(session: AsyncSession, token: str, ip: str | None) -> Principal:
    result = await session.execute(
        select(ApiToken).where(ApiToken.token_hash == token_digest(token))
    )
    api_token = result.scalar_one_or_none()
    now = datetime.now(UTC)
    if (
        api_token is None
        or api_token.revoked_at is not None
        or (api_token.expires_at is not None and api_token.expires_at <= now)
    ):
        raise NotAuthenticated("invalid, expired or revoked API token")
    scopes = frozenset(api_token.scopes)
    if api_token.customer_id is not None:
        return Principal(
            customer_id=api_token.customer_id, scopes=scopes, token_id=api_token.id, ip=ip
        )
    agent = await session.get(Agent, api_token.agent_id) if api_token.agent_id else None
    if agent is None or not agent.is_active:
        raise NotAuthenticated("the agent owning this token is deactivated")
    return Principal(agent=agent, scopes=scopes, token_id=api_token.id, ip=ip)


async def list_tokens_of(session: AsyncSession, agent_id: int) -> list[ApiToken]:
    result = await session.execute(
        select(ApiToken).where(ApiToken.agent_id == agent_id).order_by(ApiToken.id.desc())
    )
    return list(result.scalars())
