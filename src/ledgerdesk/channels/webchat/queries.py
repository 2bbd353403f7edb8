"""Reads of the web chat channel: inboxes by widget key, what a visitor may see, presence."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.models import Agent, Role, TeamMembership
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.channels.webchat.models import (
    AgentPresence,
    PresenceStatus,
    WebchatAttachment,
    WebchatToken,
)
from ledgerdesk.channels.webchat.origins import origin_allowed
from ledgerdesk.conversations.models import Conversation, Inbox, Message
from ledgerdesk.customers.models import Customer
from ledgerdesk.errors import InvalidInput, NotFound, PermissionDenied
from ledgerdesk.realtime.payloads import customer_conversation_payload, message_payload
from ledgerdesk.safety.actions import PLATFORM_AUTHORS
from ledgerdesk.safety.queries import anti_phishing_code_of

CHANNEL = "webchat"
# An agent counts as online with an open console or real-time connection seen this recently.
ONLINE_WINDOW = timedelta(seconds=60)
RECENT_CONVERSATIONS = 5
MESSAGES_PER_CONVERSATION = 100


async def inbox_by_widget_key(session: AsyncSession, widget_key: str) -> Inbox:
    result = await session.execute(
        select(Inbox).where(Inbox.widget_key == widget_key, Inbox.channel == CHANNEL)
    )
    inbox = result.scalar_one_or_none()
    if inbox is None:
        raise NotFound("no web chat inbox has this key; check data-inbox in the embed snippet")
    return inbox


async def access_webchat_inbox(session: AsyncSession, principal: Principal, inbox_id: int) -> Inbox:
    """A web chat inbox, for its settings: admins only."""
    principal.require_admin()
    inbox = await session.get(Inbox, inbox_id)
    if inbox is None or inbox.channel != CHANNEL or inbox.widget_key is None:
        raise NotFound(f"web chat inbox {inbox_id} not found")
    return inbox


async def inbox_of_token(session: AsyncSession, token_id: int | None) -> WebchatToken | None:
    """Which web chat inbox issued this customer token (None: not a widget token)."""
    if token_id is None:
        return None
    return await session.get(WebchatToken, token_id)


async def origin_allowed_by_any_inbox(session: AsyncSession, origin: str) -> bool:
    """For CORS preflights, which carry no body or token to name the inbox: may any web
    chat inbox be embedded on this origin? The actual request is checked exactly."""
    result = await session.execute(
        select(Inbox.allowed_origins).where(Inbox.channel == CHANNEL, Inbox.widget_key.is_not(None))
    )
    return any(origin_allowed(origin, allowed) for allowed in result.scalars())


async def visitor_snapshot(session: AsyncSession, customer_id: int) -> list[dict[str, Any]]:
    """The customer's recent web chat conversations with their public messages, newest first,
    in the shapes the real-time stream uses (so the widget handles one format)."""
    conversations = (
        await session.execute(
            select(Conversation)
            .where(Conversation.customer_id == customer_id, Conversation.channel == CHANNEL)
            .order_by(Conversation.id.desc())
            .limit(RECENT_CONVERSATIONS)
        )
    ).scalars()
    snapshot = []
    # Safety: platform-written messages show the customer's anti-phishing code.
    code = await anti_phishing_code_of(session, customer_id)
    for conversation in conversations:
        newest = (
            await session.execute(
                select(Message)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.is_internal.is_(False),
                )
                .order_by(Message.id.desc())
                .limit(MESSAGES_PER_CONVERSATION)
            )
        ).scalars()
        messages = sorted(newest, key=lambda message: message.id)
        snapshot.append(
            {
                **customer_conversation_payload(conversation),
                "messages": [
                    message_payload(
                        message,
                        anti_phishing_code=(
                            code if message.author_kind in PLATFORM_AUTHORS else None
                        ),
                    )
                    for message in messages
                ],
            }
        )
    return snapshot


async def agents_online(session: AsyncSession, inbox: Inbox, now: datetime) -> bool:
    """Is anyone who answers this inbox online? Active agents who may reply, seen within
    the last minute; members of the inbox's team when it has one."""
    statement = (
        select(AgentPresence.agent_id)
        .join(Agent, Agent.id == AgentPresence.agent_id)
        .where(
            AgentPresence.status == PresenceStatus.ONLINE,
            AgentPresence.last_seen_at > now - ONLINE_WINDOW,
            Agent.is_active.is_(True),
            Agent.role != Role.VIEWER,
        )
        .limit(1)
    )
    if inbox.default_team_id is not None:
        members = select(TeamMembership.agent_id).where(
            TeamMembership.team_id == inbox.default_team_id
        )
        statement = statement.where(AgentPresence.agent_id.in_(members))
    return (await session.execute(statement)).first() is not None


async def effective_presence(
    session: AsyncSession, agent_ids: list[int], now: datetime
) -> dict[int, str]:
    """What each agent really is: their chosen status while connected (seen within the
    last minute), else offline."""
    if not agent_ids:
        return {}
    rows = await session.execute(
        select(AgentPresence.agent_id, AgentPresence.status).where(
            AgentPresence.agent_id.in_(agent_ids),
            AgentPresence.last_seen_at > now - ONLINE_WINDOW,
        )
    )
    seen = {agent_id: status for agent_id, status in rows.all()}
    return {agent_id: seen.get(agent_id, PresenceStatus.OFFLINE.value) for agent_id in agent_ids}


async def access_attachment(
    session: AsyncSession, principal: Principal, sha256: str
) -> WebchatAttachment:
    """The upload record, if this principal may fetch the file: the customer who uploaded
    it (or a customer it was merged into), or an agent."""
    principal.require_scope("conversations:read")
    statement = select(WebchatAttachment).where(WebchatAttachment.sha256 == sha256)
    if principal.is_customer:
        merged = select(Customer.id).where(Customer.merged_into_id == principal.customer_id)
        statement = statement.where(
            or_(
                WebchatAttachment.customer_id == principal.customer_id,
                WebchatAttachment.customer_id.in_(merged),
            )
        )
    elif principal.agent is None:
        raise PermissionDenied("only the visitor who sent a file, or an agent, may fetch it")
    found = (await session.execute(statement.order_by(WebchatAttachment.id).limit(1))).scalar()
    if found is None:
        raise NotFound("no such attachment")
    return found


async def uploaded_by(
    session: AsyncSession, customer_id: int, sha256s: list[str]
) -> dict[str, WebchatAttachment]:
    if not sha256s:
        return {}
    result = await session.execute(
        select(WebchatAttachment).where(
            WebchatAttachment.customer_id == customer_id,
            WebchatAttachment.sha256.in_(sha256s),
        )
    )
    return {row.sha256: row for row in result.scalars()}


ATTACHMENT_URL = re.compile(r"^/widget/v1/attachments/([0-9a-f]{64})$")


async def visitor_attachments(
    session: AsyncSession, customer_id: int, attachments: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A visitor's ``send`` may only carry files that visitor uploaded; the stored
    metadata (name, type, size) replaces whatever the frame claimed."""
    wanted: list[str] = []
    for attachment in attachments:
        match = ATTACHMENT_URL.match(str(attachment.get("url") or ""))
        if match is None:
            raise InvalidInput(
                "attachments must be files uploaded to /widget/v1/attachments first; "
                "send the metadata that upload returned"
            )
        wanted.append(match.group(1))
    found = await uploaded_by(session, customer_id, wanted)
    missing = [sha for sha in wanted if sha not in found]
    if missing:
        raise InvalidInput("an attachment was not uploaded by this visitor; upload it first")
    return [
        {
            "filename": found[sha].filename,
            "content_type": found[sha].content_type,
            "size": found[sha].size,
            "url": f"/widget/v1/attachments/{sha}",
        }
        for sha in wanted
    ]
