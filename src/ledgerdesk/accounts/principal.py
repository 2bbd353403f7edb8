"""Who is making a request: an agent (browser session or token) or a customer token."""

from __future__ import annotations

from dataclasses import dataclass

from ledgerdesk.accounts.models import Agent
from ledgerdesk.errors import PermissionDenied

AGENT_SCOPES = frozenset(
    {
        "conversations:read",
        "conversations:write",
        "customers:read",
        "customers:write",
        "agents:read",
        "analytics:read",
        "admin",
    }
)
CUSTOMER_SCOPES = frozenset({"conversations:read", "conversations:write"})


@dataclass(frozen=True, slots=True)
class Principal:
    agent: Agent | None = None
    customer_id: int | None = None
    # None means a browser session: everything the agent's role allows.
    scopes: frozenset[str] | None = None
    token_id: int | None = None
    ip: str | None = None

    @property
    def is_customer(self) -> bool:
        return self.customer_id is not None

    @property
    def agent_id(self) -> int | None:
        return self.agent.id if self.agent is not None else None

    def require_scope(self, scope: str) -> None:
        if self.scopes is not None and scope not in self.scopes:
            raise PermissionDenied(f"this token lacks the '{scope}' scope")

    def require_agent(self) -> Agent:
        if self.agent is None:
            raise PermissionDenied("only agents may do this")
        return self.agent

    def require_admin(self) -> Agent:
        agent = self.require_agent()
        self.require_scope("admin")
        if agent.role != "admin":
            raise PermissionDenied("only admins may do this")
        return agent
