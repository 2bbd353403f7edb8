"""What every console route needs: the logged-in agent, the sidebar, the inbox filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.models import Agent, AgentSession
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.queries import list_teams, team_ids_of
from ledgerdesk.accounts.secrets import constant_time_equal
from ledgerdesk.conversations.queries import ConversationFilter
from ledgerdesk.conversations.status import Status
from ledgerdesk.errors import LedgerdeskError
from ledgerdesk.server.deps import ReadSession, load_browser_session
from ledgerdesk.web import i18n


class LoginRequired(Exception):
    """Raised by console dependencies; answered with a redirect to the login page."""

    def __init__(self, next_url: str, to: str = "/login") -> None:
        self.next_url = next_url
        self.to = to


@dataclass
class ConsoleUser:
    agent: Agent
    session: AgentSession

    @property
    def principal(self) -> Principal:
        return Principal(agent=self.agent)


async def console_user(request: Request, session: ReadSession) -> ConsoleUser:
    found = await load_browser_session(session, request)
    if found is None:
        raise LoginRequired(request.url.path)
    agent_session, agent = found
    if agent_session.stage != "active":
        raise LoginRequired(request.url.path, to="/login/2fa")
    i18n.set_language(agent.language)
    if request.method == "POST":
        form = await request.form()
        sent = str(form.get("csrf_token") or request.headers.get("x-csrf-token") or "")
        if not sent or not constant_time_equal(sent, agent_session.csrf_token):
            raise LedgerdeskError("this form has expired; reload the page and try again")
    return ConsoleUser(agent, agent_session)


User = Annotated[ConsoleUser, Depends(console_user)]


def safe_next(next_url: str | None) -> str:
    # Only local paths: an attacker-supplied next= must not send agents off-site.
    if next_url and next_url.startswith("/") and not next_url.startswith(("//", "/\\")):
        return next_url
    return "/inbox"


async def sidebar(session: AsyncSession, user: ConsoleUser) -> dict[str, Any]:
    """What the layout around every console page shows."""
    member_of = await team_ids_of(session, user.agent.id)
    teams = [t for t in await list_teams(session) if t.id in member_of or user.agent.is_supervisor]
    return {"user": user.agent, "csrf_token": user.session.csrf_token, "my_teams": teams}


@dataclass(frozen=True)
class InboxView:
    """The inbox's view and filters, as the page and its live row refresh both read them."""

    view: str
    team_id: int | None
    status: str
    priority: str | None
    query: str | None

    def conversation_filter(self) -> ConversationFilter:
        statuses: list[str]
        if self.status == "unresolved":
            statuses = [Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD]
        elif self.status == "any":
            statuses = []
        else:
            statuses = [self.status]
        return ConversationFilter(
            statuses=statuses,
            priorities=[self.priority] if self.priority else [],
            assignee={"mine": "me", "unassigned": "none"}.get(self.view),
            team_id=self.team_id if self.view == "team" else None,
            query=self.query,
        )

    def params(self) -> dict[str, str]:
        params = {
            "view": self.view,
            "status": self.status,
            "priority": self.priority or "",
            "q": self.query or "",
        }
        if self.team_id:
            params["team_id"] = str(self.team_id)
        return params


async def inbox_view(
    view: Annotated[str, Query(pattern="^(mine|unassigned|all|team)$")] = "all",
    team_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    status: Annotated[
        str, Query(pattern="^(unresolved|new|open|pending|on_hold|solved|closed|any)$")
    ] = "unresolved",
    # The filter form sends "priority=" for "any".
    priority: Annotated[str | None, Query(pattern="^(low|normal|high|urgent)?$")] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> InboxView:
    query = (q or "").replace("\x00", "").strip() or None
    return InboxView(view, team_id, status, priority or None, query)


Inbox = Annotated[InboxView, Depends(inbox_view)]
