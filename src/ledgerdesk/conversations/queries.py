"""Reads about conversations, with the permission checks (``access_*``) that guard them."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.models import Team
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.queries import hidden_team_ids, team_ids_of
from ledgerdesk.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationTag,
    Message,
)
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.load import load_now, rows_of
from ledgerdesk.errors import InvalidInput, NotFound, PermissionDenied

MAX_ID = 2**63 - 1

# What session.get(..., with_for_update=True) runs, built once: every reply and chat
# message reads its conversation this way, and building the statement (its cache key)
# cost about as much as running it. Fresh values even if the session holds the row.
_LOCKED_CONVERSATION = (
    select(Conversation)
    .where(Conversation.id == bindparam("conversation_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
# The same read, locking too, straight on the driver (db/load.py). SQLite renders no
# FOR UPDATE (its writers are serialised); PostgreSQL needs it.
_CONVERSATION_ROW = (
    rows_of(Conversation)
    .where(Conversation.__table__.c.id == bindparam("conversation_id"))
    .with_for_update()
)


async def access_conversation(
    session: AsyncSession, principal: Principal, conversation_id: int, *, write: bool = False
) -> Conversation:
    """The conversation if this principal may see it (and change it, with ``write``).

    Refusals to see are "not found", so ids of hidden conversations leak nothing.
    """
    principal.require_scope("conversations:write" if write else "conversations:read")
    if write:
        # A writer locks the row (PostgreSQL; SQLite writers are serialised already), so
        # concurrent replies cannot lose each other's message_count or status changes.
        found = await load_now(
            session,
            Conversation,
            _CONVERSATION_ROW,
            _LOCKED_CONVERSATION,
            {"conversation_id": conversation_id},
        )
        conversation = found[0] if found else None
    else:
        conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    if principal.is_customer:
        if conversation.customer_id != principal.customer_id:
            raise NotFound(f"conversation {conversation_id} not found")
        return conversation
    agent = principal.require_agent()
    if conversation.team_id is not None and not agent.is_supervisor:
        team = await session.get(Team, conversation.team_id)
        if (
            team is not None
            and team.is_private
            and team.id not in await team_ids_of(session, agent.id)
        ):
            raise NotFound(f"conversation {conversation_id} not found")
    if write and not agent.can_reply:
        raise PermissionDenied("viewers cannot reply to or change conversations")
    return conversation


@dataclass
class ConversationFilter:
    statuses: Sequence[str] = ()
    priorities: Sequence[str] = ()
    assignee: str | None = None  # an agent id, "me" or "none"
    team_id: int | None = None
    inbox_id: int | None = None
    customer_id: int | None = None
    channel: str | None = None
    tag: str | None = None
    query: str | None = None
    ids: Sequence[int] = ()  # only these conversations (the console's live row refresh)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"c1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, _, value = raw.partition(":")
        last_id = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("cursor is not valid; pass next_cursor from a previous page") from None
    if version != "c1" or not 0 < last_id <= MAX_ID:
        raise InvalidInput("cursor is not valid; pass next_cursor from a previous page")
    return last_id


async def _visibility(
    session: AsyncSession, principal: Principal, statement: Select[Conversation]
) -> Select[Conversation]:
    if principal.is_customer:
        return statement.where(Conversation.customer_id == principal.customer_id)
    agent = principal.require_agent()
    hidden = await hidden_team_ids(session, agent)
    if hidden:
        statement = statement.where(
            or_(Conversation.team_id.is_(None), Conversation.team_id.not_in(hidden))
        )
    return statement


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_conversations(
    session: AsyncSession,
    principal: Principal,
    filters: ConversationFilter,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[Conversation], str | None]:
    """Newest first, paged by id: inserts during paging can neither skip nor repeat rows."""
    principal.require_scope("conversations:read")
    statement = await _visibility(session, principal, select(Conversation))
    if filters.ids:
        statement = statement.where(Conversation.id.in_(filters.ids))
    if filters.statuses:
        statement = statement.where(Conversation.status.in_(filters.statuses))
    if filters.priorities:
        statement = statement.where(Conversation.priority.in_(filters.priorities))
    if filters.assignee == "me":
        statement = statement.where(Conversation.assignee_id == principal.agent_id)
    elif filters.assignee == "none":
        statement = statement.where(Conversation.assignee_id.is_(None))
    elif filters.assignee is not None:
        statement = statement.where(Conversation.assignee_id == int(filters.assignee))
    if filters.team_id is not None:
        statement = statement.where(Conversation.team_id == filters.team_id)
    if filters.inbox_id is not None:
        statement = statement.where(Conversation.inbox_id == filters.inbox_id)
    if filters.customer_id is not None:
        statement = statement.where(Conversation.customer_id == filters.customer_id)
    if filters.channel is not None:
        statement = statement.where(Conversation.channel == filters.channel)
    if filters.tag is not None:
        tagged = select(ConversationTag.conversation_id).where(ConversationTag.tag == filters.tag)
        statement = statement.where(Conversation.id.in_(tagged))
    if filters.query:
        text = filters.query.strip().lstrip("#")
        pattern = like_pattern(text)
        matching_customers = select(Customer.id).where(
            or_(
                Customer.name.ilike(pattern, escape="\\"),
                Customer.email.ilike(pattern, escape="\\"),
            )
        )
        conditions: list[ColumnElement[bool]] = [
            Conversation.subject.ilike(pattern, escape="\\"),
            Conversation.customer_id.in_(matching_customers),
        ]
        if text.isascii() and text.isdigit() and int(text) <= MAX_ID:
            conditions.append(Conversation.id == int(text))
        statement = statement.where(or_(*conditions))
    if cursor is not None:
        statement = statement.where(Conversation.id < decode_cursor(cursor))
    statement = statement.order_by(Conversation.id.desc()).limit(limit + 1)
    rows = list((await session.execute(statement)).scalars())
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def list_messages(
    session: AsyncSession,
    principal: Principal,
    conversation: Conversation,
    *,
    after_id: int | None = None,
    limit: int = 500,
) -> list[Message]:
    statement = select(Message).where(Message.conversation_id == conversation.id)
    if principal.is_customer:
        statement = statement.where(Message.is_internal.is_(False))
    if after_id is not None:
        statement = statement.where(Message.id > after_id)
    statement = statement.order_by(Message.id).limit(limit)
    return list((await session.execute(statement)).scalars())


async def list_events(
    session: AsyncSession, conversation: Conversation, *, limit: int = 1000
) -> list[ConversationEvent]:
    result = await session.execute(
        select(ConversationEvent)
        .where(ConversationEvent.conversation_id == conversation.id)
        .order_by(ConversationEvent.id)
        .limit(limit)
    )
    return list(result.scalars())


# Built once: every web chat send and every ingested email asks.
_MESSAGE_BY_CHANNEL_ID = select(Message).where(
    Message.channel == bindparam("channel"),
    Message.channel_message_id == bindparam("channel_message_id"),
)


async def find_message_by_channel_id(
    session: AsyncSession, channel: str, channel_message_id: str
) -> Message | None:
    result = await session.execute(
        _MESSAGE_BY_CHANNEL_ID, {"channel": channel, "channel_message_id": channel_message_id}
    )
    return result.scalar_one_or_none()
