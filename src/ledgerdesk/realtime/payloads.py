"""What the stream says about messages and conversations (JSON-safe dictionaries)."""

from __future__ import annotations

from typing import Any

from ledgerdesk.conversations.models import Conversation, Message


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "author_kind": message.author_kind,
        "agent_id": message.agent_id,
        "customer_id": message.customer_id,
        "internal": message.is_internal,
        "body": message.body,
        "channel": message.channel,
        # The sender's own id for the message (a client_id, an email's Message-ID...).
        "client_id": message.channel_message_id,
        "attachments": message.attachments,
        "created_at": message.created_at.isoformat(),
    }


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    """The agent-side view of a conversation's state."""
    return {
        "id": conversation.id,
        "subject": conversation.subject,
        "status": conversation.status,
        "priority": conversation.priority,
        "channel": conversation.channel,
        "inbox_id": conversation.inbox_id,
        "customer_id": conversation.customer_id,
        "assignee_id": conversation.assignee_id,
        "team_id": conversation.team_id,
        "tags": conversation.tags,
        "language": conversation.language,
        "message_count": conversation.message_count,
        "updated_at": conversation.updated_at.isoformat(),
        "last_message_at": (
            conversation.last_message_at.isoformat() if conversation.last_message_at else None
        ),
    }


def customer_conversation_payload(conversation: Conversation) -> dict[str, Any]:
    """What the customer may know: no assignee, team, tags or internal fields."""
    return {
        "id": conversation.id,
        "subject": conversation.subject,
        "status": conversation.status,
        "updated_at": conversation.updated_at.isoformat(),
    }
