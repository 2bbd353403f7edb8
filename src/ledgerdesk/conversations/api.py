"""REST routes for conversations, messages and history. Thin: parse, call, commit, shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import StringConstraints

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.conversations.actions import (
    UNSET,
    do_add_message,
    do_create_conversation,
)
from ledgerdesk.conversations.actions import do_update_conversation as _update
from ledgerdesk.conversations.queries import (
    ConversationFilter,
    access_conversation,
    list_conversations,
    list_events,
    list_messages,
)
from ledgerdesk.conversations.schemas import (
    Channel,
    ConversationCreate,
    ConversationOut,
    ConversationPage,
    ConversationUpdate,
    EventOut,
    MessageCreate,
    MessageOut,
)
from ledgerdesk.conversations.status import Priority, Status
from ledgerdesk.customers.actions import do_find_or_create_customer
from ledgerdesk.customers.models import Customer, IdentityKind
from ledgerdesk.customers.queries import access_customer
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import InvalidInput
from ledgerdesk.server.deps import Actor, ReadSession, Uow, app_state, unit_of_work
from ledgerdesk.server.lean_route import lean
from ledgerdesk.server.types import DbId, PathId, Tag
from ledgerdesk.sla.actions import new_conversation_clocks
from ledgerdesk.sla.queries import sla_for

router = APIRouter(prefix="/conversations", tags=["conversations"])

Assignee = Annotated[str, StringConstraints(pattern=r"^(me|none|[1-9][0-9]{0,17})$")]


async def _customer_for_new_conversation(
    uow: UnitOfWork, actor: Principal, payload: ConversationCreate
) -> Customer:
    if actor.is_customer:
        assert actor.customer_id is not None
        if payload.customer is not None and payload.customer.id not in (None, actor.customer_id):
            raise InvalidInput("a customer token opens conversations for its own customer only")
        return await access_customer(uow.session, actor, actor.customer_id)
    if payload.customer is None:
        raise InvalidInput("customer is required: give its id or email")
    if payload.customer.id is not None:
        return await access_customer(uow.session, actor, payload.customer.id)
    assert payload.customer.email is not None
    actor.require_scope("customers:write")
    return await do_find_or_create_customer(
        uow,
        kind=IdentityKind.EMAIL,
        value=payload.customer.email,
        name=payload.customer.name,
        language=payload.language,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConversationOut)
@lean
async def create_conversation(
    payload: ConversationCreate, actor: Actor, request: Request, response: Response
) -> ConversationOut:
    """Open a conversation with its first customer message. Idempotent per channel_message_id."""
    async with unit_of_work(app_state(request)) as uow:
        return await _create_conversation(uow, payload, actor, response)


async def _create_conversation(
    uow: UnitOfWork, payload: ConversationCreate, actor: Principal, response: Response
) -> ConversationOut:
    customer = await _customer_for_new_conversation(uow, actor, payload)
    conversation, created = await do_create_conversation(
        uow,
        actor=actor,
        customer=customer,
        body=payload.body,
        subject=payload.subject,
        channel=payload.channel,
        inbox_id=payload.inbox_id,
        priority=payload.priority,
        language=payload.language,
        team_id=payload.team_id,
        assignee_id=payload.assignee_id,
        tags=payload.tags,
        custom_fields=payload.custom_fields,
        channel_message_id=payload.channel_message_id,
        attachments=[a.model_dump() for a in payload.attachments],
    )
    if created:
        # The clocks it started, as they were made: reading them back cost a SELECT.
        started_clocks = new_conversation_clocks(uow, actor, conversation.id)
        await uow.commit()
        return ConversationOut.of(conversation, started_clocks())
    # A resend is answered only to someone who may see what the first one opened.
    await access_conversation(uow.session, actor, conversation.id)
    # The clocks are read inside the transaction: after the commit the same read would
    # open a second transaction (on SQLite a second BEGIN IMMEDIATE) just for them.
    clocks = await sla_for(uow.session, actor, conversation.id)
    await uow.commit()
    response.status_code = status.HTTP_200_OK
    return ConversationOut.of(conversation, clocks)


@router.get("", response_model=ConversationPage)
async def get_conversations(
    actor: Actor,
    session: ReadSession,
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    assignee: Assignee | None = None,
    team_id: DbId | None = None,
    inbox_id: DbId | None = None,
    customer_id: DbId | None = None,
    channel: Channel | None = None,
    tag: Tag | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> ConversationPage:
    """Newest first, with a stable cursor: pass next_cursor to get the following page."""
    if q is not None and "\x00" in q:
        raise InvalidInput("q must not contain NUL characters")
    filters = ConversationFilter(
        statuses=[s.value for s in status_ or []],
        priorities=[p.value for p in priority or []],
        assignee=assignee,
        team_id=team_id,
        inbox_id=inbox_id,
        customer_id=customer_id,
        channel=channel,
        tag=tag.strip().lower() if tag else None,
        query=q,
    )
    rows, next_cursor = await list_conversations(
        session, actor, filters, cursor=cursor, limit=limit
    )
    return ConversationPage(
        items=[ConversationOut.of(row) for row in rows],
        next_cursor=next_cursor,
    )


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: PathId, actor: Actor, session: ReadSession
) -> ConversationOut:
    conversation = await access_conversation(session, actor, conversation_id)
    return ConversationOut.of(conversation, await sla_for(session, actor, conversation.id))


@router.patch("/{conversation_id}", response_model=ConversationOut)
async def update_conversation(
    conversation_id: PathId, payload: ConversationUpdate, actor: Actor, uow: Uow
) -> ConversationOut:
    """Change status, priority, assignee, team, subject, tags or custom fields.

    Send ``"assignee_id": null`` to unassign; leave a field out to keep it.
    """
    conversation = await access_conversation(uow.session, actor, conversation_id, write=True)
    given = payload.model_fields_set
    await _update(
        uow,
        actor=actor,
        conversation=conversation,
        status=payload.status,
        priority=payload.priority,
        assignee_id=payload.assignee_id if "assignee_id" in given else UNSET,
        team_id=payload.team_id if "team_id" in given else UNSET,
        subject=payload.subject,
        tags=payload.tags,
        add_tags=payload.add_tags,
        remove_tags=payload.remove_tags,
        custom_fields=payload.custom_fields,
    )
    clocks = await sla_for(uow.session, actor, conversation.id)  # before the commit, as above
    await uow.commit()
    return ConversationOut.of(conversation, clocks)


@router.post(
    "/{conversation_id}/messages", status_code=status.HTTP_201_CREATED, response_model=MessageOut
)
@lean
async def post_message(
    conversation_id: PathId,
    payload: MessageCreate,
    actor: Actor,
    request: Request,
    response: Response,
) -> MessageOut:
    """A public reply (``internal: false``) or an internal note.

    Idempotent per channel_message_id: a resend returns the stored message with 200.
    """
    async with unit_of_work(app_state(request)) as uow:
        conversation = await access_conversation(uow.session, actor, conversation_id, write=True)
        message, created = await do_add_message(
            uow,
            actor=actor,
            conversation=conversation,
            body=payload.body,
            internal=payload.internal,
            channel_message_id=payload.channel_message_id,
            attachments=[a.model_dump() for a in payload.attachments],
        )
        await uow.commit()
    if not created:
        response.status_code = status.HTTP_200_OK
    return MessageOut.of(message)


@router.get("/{conversation_id}/messages", response_model=list[MessageOut])
async def get_messages(
    conversation_id: PathId,
    actor: Actor,
    session: ReadSession,
    after_id: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[MessageOut]:
    """Oldest first; customers do not see internal notes."""
    conversation = await access_conversation(session, actor, conversation_id)
    messages = await list_messages(session, actor, conversation, after_id=after_id, limit=limit)
    return [MessageOut.of(message) for message in messages]


@router.get("/{conversation_id}/events", response_model=list[EventOut])
async def get_events(conversation_id: PathId, actor: Actor, session: ReadSession) -> list[EventOut]:
    """The append-only history of changes: who changed what, and when."""
    actor.require_agent()
    conversation = await access_conversation(session, actor, conversation_id)
    return [EventOut.of(event) for event in await list_events(session, conversation)]
