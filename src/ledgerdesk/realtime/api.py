"""The real-time WebSocket endpoint, for the console, the widget and API clients."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.queries import authenticate_token
from ledgerdesk.channels.webchat.origins import origin_allowed
from ledgerdesk.channels.webchat.queries import inbox_of_token
from ledgerdesk.conversations.models import Inbox
from ledgerdesk.errors import NotAuthenticated
from ledgerdesk.monitoring.metrics import websocket_open
from ledgerdesk.realtime.connection import CLOSE_UNAUTHENTICATED, Closing, RealtimeConnection
from ledgerdesk.realtime.hub import StreamHub
from ledgerdesk.server.deps import load_browser_session
from ledgerdesk.server.state import AppState

router = APIRouter()


def _same_origin(websocket: WebSocket, state: AppState) -> bool:
    """Cookies ride along on cross-site WebSocket requests, so the Origin must be ours."""
    origin = websocket.headers.get("origin")
    if not origin:
        return True  # not a browser
    parsed = urlsplit(origin)
    allowed = {urlsplit(state.settings.public_url).netloc, websocket.headers.get("host", "")}
    return parsed.netloc in allowed


async def _check_visitor_origin(
    session: AsyncSession, websocket: WebSocket, principal: Principal
) -> None:
    """A widget's token works only from the sites its inbox allows, as over HTTP; a
    customer token made through the API is for servers, which send no Origin."""
    origin = websocket.headers.get("origin")
    binding = await inbox_of_token(session, principal.token_id)
    if binding is None:
        allowed = origin is None
    else:
        inbox = await session.get(Inbox, binding.inbox_id)
        allowed = inbox is not None and origin_allowed(origin, inbox.allowed_origins)
    if not allowed:
        raise Closing(CLOSE_UNAUTHENTICATED, "this site may not use this chat")


async def authenticate(websocket: WebSocket, token: str | None) -> Principal:
    state: AppState = websocket.app.state.ledgerdesk
    client = websocket.client.host if websocket.client else None
    async with state.db.sessionmaker() as session:
        if token:
            try:
                principal = await authenticate_token(session, token, client)
            except NotAuthenticated as exc:
                raise Closing(CLOSE_UNAUTHENTICATED, exc.message[:120]) from None
            if principal.customer_id is not None:
                await _check_visitor_origin(session, websocket, principal)
            return principal
        if not _same_origin(websocket, state):
            raise Closing(CLOSE_UNAUTHENTICATED, "cross-origin console connections are refused")
        found = await load_browser_session(session, websocket)
    if found is None or found[0].stage != "active":
        raise Closing(CLOSE_UNAUTHENTICATED, "log in, or send a token in the hello frame")
    return Principal(agent=found[1], ip=client)


def stream_hub(websocket: WebSocket, state: AppState) -> StreamHub:
    """This process's one reader of the stream (made with the first connection)."""
    hub: StreamHub | None = getattr(websocket.app.state, "realtime_hub", None)
    if hub is None:
        hub = StreamHub(state.db, state.bus)
        websocket.app.state.realtime_hub = hub
    return hub


@router.websocket("/api/v1/realtime")
async def realtime(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.ledgerdesk
    with websocket_open():  # the connections gauge of /metrics
        await RealtimeConnection(websocket, state, authenticate, stream_hub(websocket, state)).run()
