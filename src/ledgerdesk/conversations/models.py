from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledgerdesk.db.base import Base, UTCDateTime, utcnow
from ledgerdesk.db.types import BigIntId, JSONType, NullableJSONType


class Inbox(Base):
    """Where conversations arrive: one web chat widget, one mailbox, one Telegram bot..."""

    __tablename__ = "inboxes"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    default_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Web chat (channels/webchat): the public key in the embed snippet (never the id),
    # the sites allowed to embed the widget (empty: any site, unsafe in production),
    # the identity-verification secret encrypted with the server key (AppState.box),
    # and a greeting per language ({"en": "...", "zh-Hans": "..."}).
    widget_key: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    allowed_origins: Mapped[list[str]] = mapped_column(JSONType, default=list)
    identity_secret_encrypted: Mapped[str | None] = mapped_column(String(300), default=None)
    greetings: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # Web chat assistant (migration 0011, channels/webchat/assistant.py): the assistant
    # answers a customer's message before an agent does.
    assistant_first: Mapped[bool] = mapped_column(Boolean, default=True)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_status_id", "status", "id"),
        Index("ix_conversations_assignee_status_id", "assignee_id", "status", "id"),
        Index("ix_conversations_team_status_id", "team_id", "status", "id"),
        Index("ix_conversations_customer_id_id", "customer_id", "id"),
    )

    # The id is the conversation number people quote ("ticket #1042").
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    channel: Mapped[str] = mapped_column(String(20))
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inboxes.id"), default=None, index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(20), default="new")
    priority: Mapped[str] = mapped_column(String(20), default="normal")
    language: Mapped[str | None] = mapped_column(String(20), default=None)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), default=None)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # A sorted copy of this conversation's rows in conversation_tags, kept by the
    # actions, so showing a conversation or a page of them needs no second query.
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    # Safety (migration 0007): what the scanner found in this conversation's messages.
    risk_flags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Web chat assistant (migration 0011): None (never spoke), active, handed_off, resolved;
    # it answers only while None or active.
    assistant_state: Mapped[str | None] = mapped_column(String(20), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ConversationTag(Base):
    __tablename__ = "conversation_tags"
    __table_args__ = (Index("ix_conversation_tags_tag_conversation_id", "tag", "conversation_id"),)

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(60), primary_key=True)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # The same message delivered twice by a channel is stored once.
        UniqueConstraint("channel", "channel_message_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    author_kind: Mapped[str] = mapped_column(String(20))  # customer, agent, assistant, system
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), default=None)
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(20))
    channel_message_id: Mapped[str | None] = mapped_column(String(200), default=None)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Safety (migration 0007): an agent's public reply carries its Ed25519 signature
    # token (safety/signing.py) and the key's id; safety_flags lists the kinds of what
    # the scanner found (None: not scanned).
    signature: Mapped[str | None] = mapped_column(String(2000), default=None)
    signing_key_id: Mapped[str | None] = mapped_column(String(40), default=None)
    safety_flags: Mapped[list[str] | None] = mapped_column(NullableJSONType, default=None)


class ConversationEvent(Base):
    """Append-only history of every change to a conversation: who, what, when."""

    __tablename__ = "conversation_events"
    __table_args__ = (Index("ix_conversation_events_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    actor_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
