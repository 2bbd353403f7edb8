"""SLA tables: business calendars, policies, and the clocks running on conversations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ledgerdesk.db.base import Base, UTCDateTime, utcnow
from ledgerdesk.db.types import BigIntId, JSONType


class SlaCalendar(Base):
    """Working hours in a time zone. ``week`` maps "mon".."sun" to [["09:00", "12:30"], ...];
    ``holidays`` is a list of {"date", "name", "periods"} (empty periods: closed all day)."""

    __tablename__ = "sla_calendars"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    week: Mapped[dict[str, list[list[str]]]] = mapped_column(JSONType, default=dict)
    holidays: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Any update moves it (sla/cache.py tells a changed configuration by it).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SlaPolicy(Base):
    """Targets for the conversations its conditions select; the first match by position wins.

    ``conditions`` holds lists under "priorities", "tiers", "channels", "inbox_ids" (a
    missing or empty list matches anything). ``escalations`` is a list of actions run
    on a breach: {"type": "notify"}, {"type": "reassign", "team_id"?, "agent_id"?},
    {"type": "raise_priority", "to"?}. Without a calendar the clock runs 24/7 (UTC).
    """

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # A removed policy is archived, not deleted: running clocks still name it.
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    conditions: Mapped[dict[str, list[Any]]] = mapped_column(JSONType, default=dict)
    first_response_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    next_response_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("sla_calendars.id"), default=None)
    warn_share: Mapped[float] = mapped_column(Float, default=0.8)
    escalations: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Any update moves it (sla/cache.py tells a changed configuration by it).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ConversationSla(Base):
    """One clock: a metric of one conversation under one policy.

    Rows are history: a stopped clock keeps its verdict (``met``), and each customer
    message after an agent's reply starts a new next_response row, so analytics can
    count the share met. At most one clock per metric and conversation is unstopped.

    ``next_check_at`` is when the sweep must look at the clock next (its warning time,
    then its due time); NULL when paused, stopped or breached. The sweep is a range
    scan on its partial index and never reads the other rows.
    """

    __tablename__ = "conversation_sla"
    __table_args__ = (
        Index(
            "ix_conversation_sla_next_check_at",
            "next_check_at",
            postgresql_where=text("next_check_at IS NOT NULL"),
            sqlite_where=text("next_check_at IS NOT NULL"),
        ),
        Index("ix_conversation_sla_conversation_id_metric", "conversation_id", "metric"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(20))  # first_response, next_response, resolution
    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id"))
    # The target as it was when the clock started (editing a policy changes new clocks).
    target_seconds: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    warn_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Business time spent paused so far, in microseconds (exact, unlike a float).
    paused_us: Mapped[int] = mapped_column(BigInteger, default=0)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # True met, False missed, None cancelled (the policy changed) or still running.
    met: Mapped[bool | None] = mapped_column(Boolean, default=None)
