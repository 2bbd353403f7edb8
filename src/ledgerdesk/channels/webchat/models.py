"""Tables of the web chat channel: widget tokens, uploaded attachments, agent presence,
the assistant's turns."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledgerdesk.db.base import Base, UTCDateTime, utcnow
from ledgerdesk.db.types import BigIntId, JSONType


class PresenceStatus(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class AgentPresence(Base):
    """When an agent was last seen with an open console or real-time connection.

    Kept in the database, not in one process's memory, so every web process answers
    "is anyone online?" the same way. A row older than the online window counts as
    offline whatever its status says (a process that died cannot say goodbye).
    """

    __tablename__ = "agent_presence"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(10), default=PresenceStatus.ONLINE)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebchatToken(Base):
    """Which web chat inbox issued a customer token: its origin allowlist applies to it."""

    __tablename__ = "webchat_tokens"

    token_id: Mapped[int] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"), index=True)
    # True when the session proved a platform user id (identity verification).
    verified_user: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebchatAttachment(Base):
    """An uploaded file: the bytes live in the attachment store under their SHA-256,
    this row says who uploaded them (and so who may fetch them back)."""

    __tablename__ = "webchat_attachments"
    # Also the index for "who uploaded this hash?" (sha256 leads).
    __table_args__ = (UniqueConstraint("sha256", "customer_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssistantTurn(Base):
    """One answer of the assistant to one customer message (channels/webchat/assistant.py).

    The unique question id makes the reply job idempotent: a second run finds the
    turn and stores nothing. Sources, confidence and the hand-off decision are kept
    here for the console and for analytics; the answer text is the message.
    """

    __tablename__ = "assistant_turns"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    question_message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    # None when the assistant stayed silent (an agent had already replied).
    answer_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    # [{"slug", "locale", "title", "url", "score"}], best first.
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    handoff: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(60), default=None)
    locale: Mapped[str] = mapped_column(String(20), default="en")
    # The customer's verdict: helped, human (None: not given).
    feedback: Mapped[str | None] = mapped_column(String(20), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
