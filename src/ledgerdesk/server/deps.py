"""FastAPI dependencies: the unit of work and the principal behind a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from ledgerdesk.accounts.actions import do_touch_token
from ledgerdesk.accounts.models import Agent, AgentSession
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.queries import authenticate_token, find_live_session
from ledgerdesk.accounts.secrets import constant_time_equal, token_digest
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import NotAuthenticated, PermissionDenied
from ledgerdesk.server.state import AppState

SESSION_COOKIE = "ld_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


def app_state(request: HTTPConnection) -> AppState:
    """The application's state, for a route or dependency that has the request anyway:
    one dependency fewer for FastAPI to solve on the busiest routes."""
    state: AppState = request.app.state.ledgerdesk
    return state


# Dependencies are coroutines even when they do not await: FastAPI runs a plain
# function in a worker thread, a thread hop on every request.
async def get_state(request: Request) -> AppState:
    return app_state(request)


State = Annotated[AppState, Depends(get_state)]


@asynccontextmanager
async def unit_of_work(state: AppState) -> AsyncIterator[UnitOfWork]:
    """A writing unit of work; the caller commits it when the change is complete."""
    async with state.db.writer() as session, UnitOfWork(session, state.bus) as uow:
        yield uow


async def get_uow(state: State) -> AsyncIterator[UnitOfWork]:
    """``unit_of_work`` as a dependency. The busiest routes (creating a conversation,
    posting a message) open it themselves: FastAPI's machinery for a ``yield``
    dependency (an exit stack, a shielded exit) showed in their profile."""
    async with unit_of_work(state) as uow:
        yield uow


async def get_read_session(state: State) -> AsyncIterator[AsyncSession]:
    async with state.db.sessionmaker() as session:
        yield session


Uow = Annotated[UnitOfWork, Depends(get_uow)]
ReadSession = Annotated[AsyncSession, Depends(get_read_session)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def load_browser_session(
    session: AsyncSession, request: HTTPConnection
) -> tuple[AgentSession, Agent] | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        return None
    agent_session = await find_live_session(session, token)
    if agent_session is None:
        return None
    agent = await session.get(Agent, agent_session.agent_id)
    if agent is None or not agent.is_active:
        return None
    return agent_session, agent


def _bearer_token(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
        raise NotAuthenticated("use 'Authorization: Bearer <token>'")
    return token.strip()


def cached_principal(request: Request, state: AppState) -> Principal | None:
    """The principal of a recently seen API token, without touching the database."""
    authorization = request.headers.get("authorization")
    if not authorization:
        return None
    return state.principals.get(token_digest(_bearer_token(authorization)), client_ip(request))


async def resolve_principal(request: Request, session: AsyncSession, state: AppState) -> Principal:
    authorization = request.headers.get("authorization")
    ip = client_ip(request)
    if authorization:
        token = _bearer_token(authorization)
        digest = token_digest(token)
        cached = state.principals.get(digest, ip)
        if cached is not None:
            return cached
        principal = await authenticate_token(session, token, ip)
        state.principals.put(digest, principal)
        _touch_token(state, principal)
        return principal
    found = await load_browser_session(session, request)
    if found is None:
        raise NotAuthenticated("log in or send an API token")
    agent_session, agent = found
    if agent_session.stage != "active":
        raise NotAuthenticated("finish logging in with your second factor")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not constant_time_equal(sent, agent_session.csrf_token):
            raise PermissionDenied(f"missing or wrong {CSRF_HEADER} header for a cookie session")
    return Principal(agent=agent, ip=ip)


def _touch_token(state: AppState, principal: Principal) -> None:
    """Record "last used", to the nearest few minutes so reads do not all become writes.

    It runs as a task of its own: the request never waits for the write lock for it.
    """
    if principal.token_id is None:
        return
    last = state.token_touches.get(principal.token_id)
    now = datetime.now(UTC)
    if last is not None and now - last < TOKEN_TOUCH_INTERVAL:
        return
    state.token_touches[principal.token_id] = now
    token_id = principal.token_id

    async def touch() -> None:
        async with state.db.writer() as session, UnitOfWork(session) as uow:
            await do_touch_token(uow, token_id)
            await uow.commit()

    state.spawn(touch())


async def get_principal(request: Request) -> Principal:
    state = app_state(request)
    # Most API calls come from a token seen a moment ago: no session at all for those.
    cached = cached_principal(request, state)
    if cached is not None:
        return cached
    # A short session of its own: the route's session (often a writer) opens later.
    async with state.db.sessionmaker() as session:
        return await resolve_principal(request, session, state)


Actor = Annotated[Principal, Depends(get_principal)]
