"""An agent's chosen presence: online, away or offline.

This is what the agent says about themselves in the console's top bar. Whether
they are actually connected is a separate fact (the chat widget's presence
tracking); the two are combined where both are known.
"""

from __future__ import annotations

from enum import StrEnum

from ledgerdesk.accounts.models import Agent
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import InvalidInput, NotFound


class Presence(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


async def do_set_presence(uow: UnitOfWork, *, actor: Principal, status: str) -> Agent:
    """Set the acting agent's own presence. Not audited: it changes many times a day."""
    acting = actor.require_agent()
    if status not in set(Presence):
        raise InvalidInput(f"presence must be one of: {', '.join(Presence)}")
    agent = await uow.session.get(Agent, acting.id)
    if agent is None or not agent.is_active:
        raise NotFound(f"agent {acting.id} not found")
    agent.presence_status = status
    return agent
