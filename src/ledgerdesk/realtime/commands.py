"""What a real-time client's frames do: send a message, say it is typing."""

from __future__ import annotations

from typing import Any

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.channels.webchat.assistant import do_assistant_on_customer_message
from ledgerdesk.channels.webchat.queries import inbox_of_token, visitor_attachments
from ledgerdesk.conversations.actions import do_add_message, do_create_conversation
from ledgerdesk.conversations.queries import access_conversation, find_message_by_channel_id
from ledgerdesk.customers.queries import access_customer
from ledgerdesk.errors import InvalidInput
from ledgerdesk.events.bus import Event
from ledgerdesk.realtime.frames import Send, Typing
from ledgerdesk.server.deps import unit_of_work
from ledgerdesk.server.state import AppState

CHANNEL = "webchat"


async def _rate_limited(
    state: AppState, principal: Principal, frame: Send
) -> dict[str, Any] | None:
    """A visitor sending too fast gets an error frame that says when to try again.

    A resend of a message that was already stored is answered with its ack, not
    refused: it was accepted before, and the widget must learn so.
    """
    limit = state.webchat.sends
    wait = await limit.retry_after(f"customer:{principal.customer_id}", principal.ip)
    if wait is None:
        return None
    async with state.db.sessionmaker() as session:
        stored = await find_message_by_channel_id(session, CHANNEL, frame.client_id)
    if stored is not None and stored.customer_id == principal.customer_id:
        return {
            "type": "ack",
            "client_id": frame.client_id,
            "conversation_id": stored.conversation_id,
            "message_id": stored.id,
            "duplicate": True,
        }
    return {
        "type": "error",
        "client_id": frame.client_id,
        "code": "rate_limited",
        "error": limit.refusal(wait),
        "retry_after": wait,
    }


async def handle_send(state: AppState, principal: Principal, frame: Send) -> dict[str, Any]:
    """Store the message (once per client_id) and return the ack frame."""
    if principal.customer_id is not None:
        refusal = await _rate_limited(state, principal, frame)
        if refusal is not None:
            return refusal
    attachments = [a.model_dump() for a in frame.attachments]
    async with unit_of_work(state) as uow:
        if principal.customer_id is not None and attachments:
            attachments = await visitor_attachments(uow.session, principal.customer_id, attachments)
        if frame.conversation_id is None:
            if principal.customer_id is None:
                raise InvalidInput("agents must name the conversation they write in")
            customer = await access_customer(uow.session, principal, principal.customer_id)
            # A widget's token names its inbox, so the conversation reaches the inbox's team.
            widget = await inbox_of_token(uow.session, principal.token_id)
            conversation, created = await do_create_conversation(
                uow,
                actor=principal,
                customer=customer,
                body=frame.body,
                subject=frame.subject,
                channel=CHANNEL,
                inbox_id=widget.inbox_id if widget is not None else None,
                channel_message_id=frame.client_id,
                attachments=attachments,
            )
            message = await find_message_by_channel_id(uow.session, CHANNEL, frame.client_id)
            message_id = message.id if message is not None else None
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
                # An agent's reply goes out on the conversation's own channel (email...).
                channel=CHANNEL if principal.customer_id is not None else None,
                channel_message_id=frame.client_id,
                attachments=attachments,
            )
            message_id = message.id
        if created and message is not None and principal.customer_id is not None:
            # The assistant answers first where the inbox wants it (channels/webchat/assistant.py).
            await do_assistant_on_customer_message(uow, conversation, message)
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
