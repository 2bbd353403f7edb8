"""What the stream says about messages and conversations (JSON-safe dictionaries)."""

from __future__ import annotations

from typing import Any

from ledgerdesk.conversations.models import Conversation, Message


def message_payload(message: Message, *, anti_phishing_code: str | None = None) -> dict[str, Any]:
    """``anti_phishing_code`` only in the customer's copy of platform-written messages."""
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
        # Safety: the Ed25519 signature token of an agent's reply (safety/signing.py).
        "signature": message.signature,
        "signing_key_id": message.signing_key_id,
        "anti_phishing_code": anti_phishing_code,
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
