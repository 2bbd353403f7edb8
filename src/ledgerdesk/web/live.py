"""The console's live parts: HTML fragments for the real-time view, "viewing" pings,
presence, and the warning page in front of unverified links.

console.js hears *that* something changed over the WebSocket and fetches the
changed piece here, rendered by the same template macro as the full page. So
escaping, sanitising and permission checks stay on the server, in one place:
every fragment goes through ``access_conversation`` like the page does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.models import Agent
from ledgerdesk.accounts.presence import do_set_presence
from ledgerdesk.accounts.queries import list_agents, list_teams
from ledgerdesk.channels.webchat.actions import do_touch_presence
from ledgerdesk.channels.webchat.queries import effective_presence
from ledgerdesk.conversations.models import Conversation, Message
from ledgerdesk.conversations.queries import access_conversation, list_conversations
from ledgerdesk.conversations.status import ALLOWED_TRANSITIONS, Priority, Status
from ledgerdesk.customers.models import Customer
from ledgerdesk.errors import InvalidInput, NotFound
from ledgerdesk.events.bus import Event, EventBus
from ledgerdesk.server.deps import ReadSession, State, Uow
from ledgerdesk.server.types import PathId
from ledgerdesk.web import i18n, links
from ledgerdesk.web.deps import ConsoleUser, Inbox, User, safe_next, sidebar
from ledgerdesk.web.rendering import link_policy, render

router = APIRouter(include_in_schema=False)

# The bus topic that RealtimeConnection forwards to agents as "typing" frames.
AGENTS_TYPING_TOPIC = "typing:agents"
FRAGMENT_HEADERS = {"Cache-Control": "no-store"}


# Contexts shared by the full pages and their fragments -----------------------------


async def inbox_rows_context(session: AsyncSession, rows: list[Conversation]) -> dict[str, Any]:
    customer_ids = {row.customer_id for row in rows}
    customers: dict[int, Customer] = {}
    if customer_ids:
        found = await session.execute(select(Customer).where(Customer.id.in_(customer_ids)))
        customers = {c.id: c for c in found.scalars()}
    return {"customers": customers, "agents": {a.id: a for a in await list_agents(session)}}


async def conversation_state_context(
    session: AsyncSession,
    user: ConsoleUser,
    conversation: Conversation,
    now: datetime | None = None,
) -> dict[str, Any]:
    agents = {a.id: a for a in await list_agents(session)}
    assignable = [a for a in agents.values() if a.is_active and a.can_reply]
    current = Status(conversation.status)
    return {
        "conversation": conversation,
        "agents": agents,
        "assignable": assignable,
        "presence": await effective_presence(
            session, [a.id for a in assignable], now or datetime.now(UTC)
        ),
        "teams": await list_teams(session),
        "tags": conversation.tags,
        "next_statuses": [current, *sorted(ALLOWED_TRANSITIONS[current])],
        "priorities": list(Priority),
        "can_write": user.agent.can_reply,
    }


def _fragment(request: Request, template: str, context: dict[str, Any]) -> Response:
    response = render(request, template, context)
    response.headers.update(FRAGMENT_HEADERS)
    return response


# Fragments --------------------------------------------------------------------------


@router.get("/inbox/rows/{conversation_id}")
async def inbox_row(
    request: Request,
    conversation_id: PathId,
    user: User,
    session: ReadSession,
    filters: Inbox,
) -> Response:
    """One inbox row as the page with these filters shows it; 204 if it is not in the view."""
    await access_conversation(session, user.principal, conversation_id)
    only_this = replace(filters.conversation_filter(), ids=[conversation_id])
    rows, _ = await list_conversations(session, user.principal, only_this, cursor=None, limit=1)
    if not rows:
        return Response(status_code=204, headers=FRAGMENT_HEADERS)
    context = await inbox_rows_context(session, rows)
    return _fragment(request, "fragments/inbox_row.html", {**context, "row": rows[0]})


@router.get("/conversations/{conversation_id}/messages/{message_id}")
async def message_item(
    request: Request,
    conversation_id: PathId,
    message_id: PathId,
    user: User,
    session: ReadSession,
) -> Response:
    """One message of the thread, rendered (escaped, links checked) as the page does."""
    conversation = await access_conversation(session, user.principal, conversation_id)
    message = await session.get(Message, message_id)
    if message is None or message.conversation_id != conversation.id:
        raise NotFound(f"message {message_id} not found in conversation {conversation_id}")
    context = {
        "message": message,
        "customer": await session.get(Customer, conversation.customer_id),
        "agents": {a.id: a for a in await list_agents(session)},
    }
    return _fragment(request, "fragments/message.html", context)


@router.get("/conversations/{conversation_id}/state")
async def conversation_state(
    request: Request, conversation_id: PathId, user: User, session: ReadSession
) -> Response:
    """The status and priority badges, the properties form and the tags, by element id."""
    conversation = await access_conversation(session, user.principal, conversation_id)
    context = await conversation_state_context(session, user, conversation)
    return _fragment(
        request,
        "fragments/conversation_state.html",
        {**context, "csrf_token": user.session.csrf_token},
    )


# "Viewing" --------------------------------------------------------------------------


def viewing_event(
    agent: Agent, conversation: Conversation, *, viewing: bool, typing: bool
) -> Event:
    """An ephemeral "this agent has the conversation open" note for other agents.

    It rides on the agents' typing topic, in the shape RealtimeConnection forwards
    as a typing frame; ``typing`` is the sender's real typing state, so a receiver
    that does not know "viewing" yet reads nothing false. Never stored.
    """
    return Event(
        "typing",
        (AGENTS_TYPING_TOPIC,),
        {
            "conversation_id": conversation.id,
            "customer_id": conversation.customer_id,
            "team_id": conversation.team_id,
            "typing": typing,
            "viewing": viewing,
            "sender": f"agent:{agent.id}",
            "sender_kind": "agent",
            "name": agent.name,
        },
    )


async def announce_viewing(
    bus: EventBus, agent: Agent, conversation: Conversation, *, viewing: bool, typing: bool
) -> None:
    await bus.publish(viewing_event(agent, conversation, viewing=viewing, typing=typing))


@router.post("/conversations/{conversation_id}/viewing")
async def conversation_viewing(
    conversation_id: PathId,
    user: User,
    state: State,
    session: ReadSession,
    viewing: Annotated[bool, Form()] = True,
    typing: Annotated[bool, Form()] = False,
) -> Response:
    """console.js calls this on opening a conversation, every 20 s, and on leaving it."""
    conversation = await access_conversation(session, user.principal, conversation_id)
    await announce_viewing(state.bus, user.agent, conversation, viewing=viewing, typing=typing)
    return Response(status_code=204)


# Presence ---------------------------------------------------------------------------


@router.post("/presence")
async def set_presence(
    request: Request,
    state: State,
    user: User,
    uow: Uow,
    status: Annotated[str, Form(max_length=20)],
    next: Annotated[str, Form(max_length=500)] = "/inbox",
) -> Response:
    await do_set_presence(uow, actor=user.principal, status=status)
    # The widget's "is anyone online" follows the choice at once, not at the next
    # heartbeat (same transaction: this request already holds the writer).
    await do_touch_presence(uow, user.agent.id, status, state.webchat.clock())
    await uow.commit()
    if request.headers.get("x-requested-with") == "fetch":
        return Response(status_code=204)
    return RedirectResponse(safe_next(next), status_code=303)


# The warning page in front of unverified links --------------------------------------


def _warning_texts(link: links.Link) -> list[str]:
    texts = {
        links.LOOKALIKE: i18n.gettext(
            "The address borrows the name of %(domain)s, but it is not that site."
        )
        % {"domain": link.lookalike_of or ""},
        links.CREDENTIALS: i18n.gettext(
            "The address has a user name in front of “@”. Only what follows it counts: "
            "it opens %(host)s."
        )
        % {"host": link.host},
        links.INTERNATIONAL: i18n.gettext(
            "The address is written with international letters, which can imitate the "
            "letters of a well-known name."
        ),
        links.INVISIBLE: i18n.gettext(
            "The address contains invisible or direction-changing characters (shown as "
            "[U+…] above)."
        ),
        links.BACKSLASH: i18n.gettext(
            "The address contains a backslash; browsers and people read such addresses differently."
        ),
        links.IP_ADDRESS: i18n.gettext("The address is a bare IP address, not a named site."),
        links.INSECURE: i18n.gettext("The connection to this site is not encrypted (http)."),
    }
    order = [
        links.LOOKALIKE,
        links.CREDENTIALS,
        links.INTERNATIONAL,
        links.INVISIBLE,
        links.BACKSLASH,
        links.IP_ADDRESS,
        links.INSECURE,
    ]
    return [texts[code] for code in order if code in link.warnings]


@router.get("/out")
async def outbound_link(
    request: Request,
    user: User,
    session: ReadSession,
    u: Annotated[str, Query(min_length=1, max_length=4096)],
) -> Response:
    """Show where an unverified link really goes before anyone opens it."""
    link = links.parse_link(u, link_policy(request))
    if link.href is None:
        raise InvalidInput(
            "only http and https addresses with a valid host name can be opened from the console"
        )
    context = {
        **await sidebar(session, user),
        "link": link,
        "shown": links.visible_text(u),
        "warnings": _warning_texts(link),
    }
    response = render(request, "out.html", context)
    response.headers.update({**FRAGMENT_HEADERS, "Referrer-Policy": "no-referrer"})
    return response
