"""Keeping an agent's presence row fresh from their open connections, cheaply.

A connection calls ``touch_agent_presence`` when it is ready and on each heartbeat;
this process writes at most once per ``THROTTLE_SECONDS`` per agent, well inside the
60-second online window. A failed write is logged and never breaks the connection.
"""

from __future__ import annotations

import logging
import time

from ledgerdesk.accounts.models import Agent
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.channels.webchat.actions import do_touch_presence
from ledgerdesk.channels.webchat.models import PresenceStatus
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.server.state import AppState

log = logging.getLogger(__name__)

THROTTLE_SECONDS = 20.0


async def touch_agent_presence(
    state: AppState,
    principal: Principal | None,
    status: str | None = None,
    *,
    force: bool = False,
) -> None:
    """Record that the agent is connected, with the status they chose in the console
    (``status`` None reads it: a connection proves connectivity, not availability)."""
    if principal is None or principal.agent is None:
        return  # customers have no presence
    agent_id = principal.agent.id
    touches = state.webchat.presence_touches
    now = time.monotonic()
    last = touches.get(agent_id)
    if not force and last is not None and now - last < THROTTLE_SECONDS:
        return
    touches[agent_id] = now
    try:
        async with state.db.writer() as session, UnitOfWork(session) as uow:
            if status is None:
                agent = await session.get(Agent, agent_id)
                status = agent.presence_status if agent is not None else PresenceStatus.OFFLINE
            await do_touch_presence(uow, agent_id, status, state.webchat.clock())
            await uow.commit()
    except Exception:
        touches.pop(agent_id, None)  # try again on the next heartbeat
        log.exception("could not record the presence of agent %s", agent_id)
