"""Analytics tables: one row of facts per conversation (and per agent in it), rollups.

Everything here is derived data: ``ledgerdesk analytics rebuild`` recomputes it from
the conversations, messages, events, SLA clocks and surveys. Every figure belongs to
the hour (``all``) or day (other dimensions) in which its conversation was created,
a date that never changes, so a changed conversation touches exactly one rollup
bucket per dimension.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ledgerdesk.conversations.models import Conversation
from ledgerdesk.db.base import Base, UTCDateTime
from ledgerdesk.sla.models import ConversationSla

# The refresh finds changed conversations by their updated_at, and SLA breaches noticed
# by the sweep (which need not touch the conversation) by breached_at.
Index("ix_conversations_updated_at_id", Conversation.updated_at, Conversation.id)
Index("ix_conversation_sla_breached_at", ConversationSla.breached_at)


class ConversationFacts(Base):
    """What analytics needs of one conversation, computed by analytics/facts.py."""

    __tablename__ = "analytics_conversation_facts"
    __table_args__ = (
        Index("ix_analytics_conversation_facts_created_at", "created_at"),
        Index("ix_analytics_conversation_facts_created_day", "created_day"),
        Index("ix_analytics_conversation_facts_is_open", "is_open"),
        Index("ix_analytics_conversation_facts_solved_at", "solved_at"),
        Index("ix_analytics_conversation_facts_recheck_at", "recheck_at"),
        # The backlog at a moment: open ones by age, and closed ones solved after it.
        Index(
            "ix_analytics_conversation_facts_open_created",
            "created_at",
            postgresql_where=text("is_open"),
            sqlite_where=text("is_open"),
        ),
        Index(
            "ix_analytics_conversation_facts_closed_solved",
            "solved_at",
            "created_at",
            postgresql_where=text("NOT is_open"),
            sqlite_where=text("NOT is_open"),
        ),
    )

    conversation_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_hour: Mapped[datetime] = mapped_column(UTCDateTime)
    created_day: Mapped[datetime] = mapped_column(UTCDateTime)
    hour_of_day: Mapped[int] = mapped_column(Integer)  # 0-23, UTC
    weekday: Mapped[int] = mapped_column(Integer)  # 0 Monday .. 6 Sunday, UTC
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(20), default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    priority: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    inbox_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    team_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    assignee_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    is_open: Mapped[bool] = mapped_column(Boolean)
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    first_response_s: Mapped[float | None] = mapped_column(Float, default=None)
    first_response_bh_s: Mapped[float | None] = mapped_column(Float, default=None)
    next_response_n: Mapped[int] = mapped_column(Integer, default=0)
    next_response_s: Mapped[float] = mapped_column(Float, default=0.0)
    next_response_bh_s: Mapped[float] = mapped_column(Float, default=0.0)
    resolution_s: Mapped[float | None] = mapped_column(Float, default=None)
    resolution_bh_s: Mapped[float | None] = mapped_column(Float, default=None)
    solved_ever: Mapped[bool] = mapped_column(Boolean, default=False)
    reopens: Mapped[int] = mapped_column(Integer, default=0)
    sla_met: Mapped[int] = mapped_column(Integer, default=0)
    sla_missed: Mapped[int] = mapped_column(Integer, default=0)
    csat_rating: Mapped[int | None] = mapped_column(Integer, default=None)
    assistant_involved: Mapped[bool] = mapped_column(Boolean, default=False)
    assistant_resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    handoff_reason: Mapped[str | None] = mapped_column(String(60), default=None)
    agent_replies: Mapped[int] = mapped_column(Integer, default=0)
    # When the facts change with time alone (the assistant's 24 hours pass).
    recheck_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The conversation's updated_at these facts were computed from: the refresh's overlap
    # window skips conversations whose facts are already current.
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AgentFacts(Base):
    """One agent's part in one conversation: replies, waits they ended, effort, CSAT."""

    __tablename__ = "analytics_agent_facts"
    __table_args__ = (Index("ix_analytics_agent_facts_created_day", "created_day"),)

    conversation_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    agent_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_day: Mapped[datetime] = mapped_column(UTCDateTime)
    handled: Mapped[bool] = mapped_column(Boolean, default=False)  # wrote a public reply
    is_assignee: Mapped[bool] = mapped_column(Boolean, default=False)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    first_response_s: Mapped[float | None] = mapped_column(Float, default=None)
    first_response_bh_s: Mapped[float | None] = mapped_column(Float, default=None)
    response_n: Mapped[int] = mapped_column(Integer, default=0)
    response_s: Mapped[float] = mapped_column(Float, default=0.0)
    response_bh_s: Mapped[float] = mapped_column(Float, default=0.0)
    time_spent_s: Mapped[float] = mapped_column(Float, default=0.0)
    csat_rating: Mapped[int | None] = mapped_column(Integer, default=None)


class Rollup(Base):
    """Sums over the facts of the conversations created in one bucket, per dimension value.

    ``dim`` "all" has hourly buckets (for hour-of-day and weekday charts); the others
    (channel, language, category, priority, team, handoff, agent) daily buckets.
    """

    __tablename__ = "analytics_rollups"

    dim: Mapped[str] = mapped_column(String(20), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    conversations: Mapped[int] = mapped_column(Integer, default=0)
    first_response_n: Mapped[int] = mapped_column(Integer, default=0)
    first_response_s: Mapped[float] = mapped_column(Float, default=0.0)
    first_response_bh_s: Mapped[float] = mapped_column(Float, default=0.0)
    next_response_n: Mapped[int] = mapped_column(Integer, default=0)
    next_response_s: Mapped[float] = mapped_column(Float, default=0.0)
    next_response_bh_s: Mapped[float] = mapped_column(Float, default=0.0)
    resolved_n: Mapped[int] = mapped_column(Integer, default=0)
    resolution_s: Mapped[float] = mapped_column(Float, default=0.0)
    resolution_bh_s: Mapped[float] = mapped_column(Float, default=0.0)
    solved_ever_n: Mapped[int] = mapped_column(Integer, default=0)
    reopened_n: Mapped[int] = mapped_column(Integer, default=0)
    sla_met: Mapped[int] = mapped_column(Integer, default=0)
    sla_total: Mapped[int] = mapped_column(Integer, default=0)
    csat_n: Mapped[int] = mapped_column(Integer, default=0)
    csat_good: Mapped[int] = mapped_column(Integer, default=0)
    assistant_n: Mapped[int] = mapped_column(Integer, default=0)
    assistant_resolved_n: Mapped[int] = mapped_column(Integer, default=0)
    handoff_n: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    time_spent_s: Mapped[float] = mapped_column(Float, default=0.0)


class AnalyticsState(Base):
    """The refresh's watermarks (one row, name "refresh")."""

    __tablename__ = "analytics_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    conversations_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    breaches_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
