"""Routing tables: a strategy per team, and each agent's capacity and skills."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ledgerdesk.db.base import Base, UTCDateTime, utcnow
from ledgerdesk.db.types import JSONType


class TeamRouting(Base):
    """How a team's new conversations find an agent (an inbox routes by its default team).

    ``strategy``: manual (stay in the team queue), round_robin or least_loaded;
    ``use_skills`` narrows the candidates to agents whose skills fit first.
    ``offline_handoff``: what happens to an agent's open work when they go offline:
    keep, queue (back to the team, unassigned) or reassign (to another agent now).
    ``last_agent_id`` is the round-robin cursor.
    """

    __tablename__ = "team_routing"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    strategy: Mapped[str] = mapped_column(String(20), default="manual")
    use_skills: Mapped[bool] = mapped_column(Boolean, default=False)
    offline_handoff: Mapped[str] = mapped_column(String(20), default="keep")
    last_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), default=None
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgentRouting(Base):
    """An agent's capacity (open conversations at once) and skills; empty lists match all."""

    __tablename__ = "agent_routing"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    capacity: Mapped[int] = mapped_column(Integer, default=10)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    tiers: Mapped[list[str]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
