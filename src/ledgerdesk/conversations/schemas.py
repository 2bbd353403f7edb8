"""API shapes for conversations and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.conversations.status import Priority, Status
from ledgerdesk.server.types import (
    Body,
    ChannelMessageId,
    CustomFields,
    DbId,
    Language,
    Name,
    ShortText,
    Tag,
)
from ledgerdesk.sla.schemas import SlaClockOut

Channel = Literal["webchat", "email", "telegram", "discord", "api"]


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: ShortText
    content_type: ShortText
    size: int = Field(ge=0, le=100 * 1024 * 1024)
    url: ShortText | None = None


class CustomerRef(BaseModel):
    """Who the conversation is with: an existing customer id, or an email to find or create."""

    model_config = ConfigDict(extra="forbid")
    id: DbId | None = None
    email: ShortText | None = None
    name: Name = ""

    @model_validator(mode="after")
    def _one_way(self) -> CustomerRef:
        if (self.id is None) == (self.email is None):
            raise ValueError("give the customer's id or email, not both")
        return self


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer: CustomerRef | None = None
    subject: ShortText = ""
    body: Body
    channel: Channel = "api"
    inbox_id: DbId | None = None
    priority: Priority = Priority.NORMAL
    language: Language | None = None
    team_id: DbId | None = None
    assignee_id: DbId | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    custom_fields: CustomFields = Field(default_factory=dict)
    channel_message_id: ChannelMessageId | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status | None = None
    priority: Priority | None = None
    assignee_id: DbId | None = None
    team_id: DbId | None = None
    subject: ShortText | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    add_tags: list[Tag] = Field(default_factory=list, max_length=50)
    remove_tags: list[Tag] = Field(default_factory=list, max_length=50)
    custom_fields: CustomFields | None = None


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: Body = ""
    internal: bool = False
    channel_message_id: ChannelMessageId | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)


class MessageOut(BaseModel):
    id: int
    conversation_id: int
    author_kind: str
    agent_id: int | None
    customer_id: int | None
    internal: bool
    body: str
    channel: str
    channel_message_id: str | None
    attachments: list[dict[str, Any]]
    created_at: datetime
    # Safety: the reply's signature token (safety/signing.py) and what the scanner found.
    signature: str | None = None
    signing_key_id: str | None = None
    safety_flags: list[str] | None = None

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls(
            id=message.id,
            conversation_id=message.conversation_id,
            author_kind=message.author_kind,
            agent_id=message.agent_id,
            customer_id=message.customer_id,
            internal=message.is_internal,
            body=message.body,
            channel=message.channel,
            channel_message_id=message.channel_message_id,
            attachments=message.attachments,
            created_at=message.created_at,
            signature=message.signature,
            signing_key_id=message.signing_key_id,
            safety_flags=message.safety_flags,
        )


class ConversationOut(BaseModel):
    id: int
    number: int
    subject: str
    channel: str
    inbox_id: int | None
    customer_id: int
    status: str
    priority: str
    language: str | None
    assignee_id: int | None
    team_id: int | None
    tags: list[str]
    custom_fields: dict[str, Any]
    message_count: int
    # Safety: kinds of risk found in this conversation (seed phrase, scam script...).
    risk_flags: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None
    first_response_at: datetime | None
    solved_at: datetime | None
    # SLA clocks (sla/): filled where one conversation is shown, empty in lists.
    sla: list[SlaClockOut] = Field(default_factory=list)

    @classmethod
    def of(
        cls, conversation: Conversation, sla: list[SlaClockOut] | None = None
    ) -> ConversationOut:
        return cls(
            id=conversation.id,
            number=conversation.id,
            subject=conversation.subject,
            channel=conversation.channel,
            inbox_id=conversation.inbox_id,
            customer_id=conversation.customer_id,
            status=conversation.status,
            priority=conversation.priority,
            language=conversation.language,
            assignee_id=conversation.assignee_id,
            team_id=conversation.team_id,
            tags=conversation.tags,
            custom_fields=conversation.custom_fields,
            message_count=conversation.message_count,
            risk_flags=conversation.risk_flags or [],
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            last_message_at=conversation.last_message_at,
            first_response_at=conversation.first_response_at,
            solved_at=conversation.solved_at,
            sla=sla or [],
        )


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None


class EventOut(BaseModel):
    id: int
    kind: str
    actor_kind: str
    actor_agent_id: int | None
    actor_customer_id: int | None
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, event: ConversationEvent) -> EventOut:
        return cls(
            id=event.id,
            kind=event.kind,
            actor_kind=event.actor_kind,
            actor_agent_id=event.actor_agent_id,
            actor_customer_id=event.actor_customer_id,
            data=event.data,
            created_at=event.created_at,
        )
