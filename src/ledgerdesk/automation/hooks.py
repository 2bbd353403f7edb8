"""The calls the conversation actions make, one per place: after a conversation is
created, a message is added, or a person changes a conversation.

Each runs inside the caller's unit of work: security routing, the rules of the
trigger, the team's routing strategy, and the webhook deliveries of the event.
The first two are fast (a few indexed reads when no rule matches); webhook calls
themselves happen later, in jobs.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledgerdesk.automation.engine import do_run_rules
from ledgerdesk.automation.schemas import Trigger
from ledgerdesk.automation.webhooks import do_enqueue_webhooks
from ledgerdesk.conversations.models import Conversation, Message
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.realtime.payloads import conversation_payload, message_payload
from ledgerdesk.routing.actions import do_route_conversation, do_secure_conversation


async def do_automation_on_created(
    uow: UnitOfWork, conversation: Conversation, message: Message
) -> None:
    """A new conversation: webhooks, rules (which may assign or escalate), then routing
    for whatever is still unassigned (security cases first)."""
    await do_enqueue_webhooks(
        uow,
        "conversation.created",
        lambda: {
            "conversation": conversation_payload(conversation),
            "message": message_payload(message),
        },
    )
    await do_run_rules(uow, conversation, Trigger.CONVERSATION_CREATED, message=message)
    await do_route_conversation(uow, conversation)


async def do_automation_on_message(
    uow: UnitOfWork, conversation: Conversation, message: Message
) -> None:
    """A message was added: webhooks for it; for a customer's public message, security
    routing (a secret may just have been shared) and the message.received rules."""
    kind = "note.created" if message.is_internal else "message.created"
    await do_enqueue_webhooks(
        uow,
        kind,
        lambda: {
            "conversation": conversation_payload(conversation),
            "message": message_payload(message),
        },
    )
    if message.author_kind != "customer" or message.is_internal:
        return
    await do_secure_conversation(uow, conversation)
    await do_run_rules(uow, conversation, Trigger.MESSAGE_RECEIVED, message=message)


async def do_automation_on_updated(
    uow: UnitOfWork, conversation: Conversation, changes: Iterable[str]
) -> None:
    """A person changed the conversation: webhooks, then the conversation.updated rules."""
    changed = sorted(changes)
    await do_enqueue_webhooks(
        uow,
        "conversation.updated",
        lambda: {"conversation": conversation_payload(conversation), "changes": changed},
    )
    await do_run_rules(uow, conversation, Trigger.CONVERSATION_UPDATED)
