"""API shapes for routing settings."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ledgerdesk.routing.strategy import Handoff, Strategy

Skill = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class TeamRoutingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strategy: Strategy = Strategy.MANUAL
    use_skills: bool = False
    offline_handoff: Handoff = Handoff.KEEP


class TeamRoutingOut(TeamRoutingIn):
    team_id: int


class AgentRoutingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    capacity: Annotated[int, Field(ge=1, le=1000)] = 10
    languages: Annotated[list[Skill], Field(max_length=30)] = []
    categories: Annotated[list[Skill], Field(max_length=50)] = []
    tiers: Annotated[list[Skill], Field(max_length=10)] = []


class AgentRoutingOut(AgentRoutingIn):
    agent_id: int


class SecurityTeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class SecurityTeamOut(BaseModel):
    team: str | None
    team_id: int | None
