"""The survey table: one row per solved conversation (docs/feedback.md).

The column names are a contract: analytics (CSAT) and the help-center gaps read
``rating``, ``comment`` and ``answered_at`` directly.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledgerdesk.db.base import Base, UTCDateTime, utcnow
from ledgerdesk.db.types import BigIntId


class SurveyStatus:
    SCHEDULED = "scheduled"  # waiting for the delay after solving
    SENT = "sent"  # the customer was asked (widget card or link)
    ANSWERED = "answered"  # rating stored; changeable until changeable_until
    CANCELLED = "cancelled"  # reopened before it was sent, or surveys turned off

    ALL = (SCHEDULED, SENT, ANSWERED, CANCELLED)


class Survey(Base):
    """A customer-satisfaction survey of one conversation (at most one per conversation).

    ``nonce`` identifies the current link: the signed token carries it, so a link from
    an earlier round (before a reopen and a new solve) no longer works. ``rating`` is
    1..5 and NULL until answered; the answer can be changed until ``changeable_until``.
    """

    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
        Index("ix_surveys_answered_at", "answered_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=SurveyStatus.SCHEDULED)
    rating: Mapped[int | None] = mapped_column(Integer, default=None)
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    nonce: Mapped[str] = mapped_column(String(40))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    changeable_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
