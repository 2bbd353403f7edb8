"""What a real-time client's frames do: send a message, say it is typing."""

from __future__ import annotations

from typing import Any

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.conversations.actions import do_add_message, do_create_conversation
from ledgerdesk.conversations.queries import access_conversation, find_message_by_channel_id
from ledgerdesk.customers.queries import access_customer
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import InvalidInput
from ledgerdesk.events.bus import Event
from ledgerdesk.realtime.frames import Send, Typing
from ledgerdesk.server.state import AppState

CHANNEL = "webchat"


async def handle_send(state: AppState, principal: Principal, frame: Send) -> dict[str, Any]:
    """Store the message (once per client_id) and return the ack frame."""
    attachments = [a.model_dump() for a in frame.attachments]
    async with state.db.writer() as session, UnitOfWork(session, state.bus) as uow:
        if frame.conversation_id is None:
            if principal.customer_id is None:
                raise InvalidInput("agents must name the conversation they write in")
            customer = await access_customer(uow.session, principal, principal.customer_id)
            conversation, created = await do_create_conversation(
                uow,
                actor=principal,
                customer=customer,
                body=frame.body,
                subject=frame.subject,
                channel=CHANNEL,
                channel_message_id=frame.client_id,
                attachments=attachments,
            )
            first = await find_message_by_channel_id(uow.session, CHANNEL, frame.client_id)
            message_id = first.id if first is not None else None
        else:
            conversation = await access_conversation(
                uow.session, principal, frame.conversation_id, write=True
            )
            message, created = await do_add_message(
                uow,
                actor=principal,
                conversation=conversation,
                body=frame.body,
                internal=frame.internal,
                channel=CHANNEL,
                channel_message_id=frame.client_id,
                attachments=attachments,
            )
            message_id = message.id
        await uow.commit()
    return {
        "type": "ack",
        "client_id": frame.client_id,
        "conversation_id": conversation.id,
        "message_id": message_id,
        "duplicate": not created,
    }


async def handle_typing(state: AppState, principal: Principal, frame: Typing) -> None:
    """Tell the other side (and other agents) that someone is typing; nothing is stored."""
    async with state.db.sessionmaker() as session:
        conversation = await access_conversation(session, principal, frame.conversation_id)
    is_customer = principal.customer_id is not None
    topics = ["typing:agents"]
    if not is_customer and not frame.internal:
        topics.append(f"typing:customer:{conversation.customer_id}")
    sender = f"customer:{principal.customer_id}" if is_customer else f"agent:{principal.agent_id}"
    await state.bus.publish(
        Event(
            "typing",
            tuple(topics),
            {
                "conversation_id": conversation.id,
                "customer_id": conversation.customer_id,
                "team_id": conversation.team_id,
                "typing": frame.typing,
                "sender": sender,
                "sender_kind": "customer" if is_customer else "agent",
                "name": None if is_customer or principal.agent is None else principal.agent.name,
            },
        )
    )
