"""API shapes for agents, teams and tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ledgerdesk.accounts.models import Agent, ApiToken, Role, Team
from ledgerdesk.server.types import DbId, Email, Label, Name

UiLanguage = Literal["en", "zh_Hans"]
Scope = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class AgentOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    language: str
    is_active: bool
    totp_enabled: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, agent: Agent) -> AgentOut:
        return cls(
            id=agent.id,
            email=agent.email,
            name=agent.name,
            role=agent.role,
            language=agent.language,
            is_active=agent.is_active,
            totp_enabled=agent.totp_enabled,
            created_at=agent.created_at,
            last_login_at=agent.last_login_at,
        )


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    name: Name
    password: str = Field(min_length=10, max_length=200)
    role: Role = Role.AGENT
    language: UiLanguage = "en"


class AgentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    role: Role | None = None
    language: UiLanguage | None = None
    is_active: bool | None = None


class MeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    language: UiLanguage | None = None


class TeamOut(BaseModel):
    id: int
    name: str
    is_private: bool
    member_ids: list[int]

    @classmethod
    def of(cls, team: Team, member_ids: list[int]) -> TeamOut:
        return cls(id=team.id, name=team.name, is_private=team.is_private, member_ids=member_ids)


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Label
    is_private: bool = False


class MemberAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: DbId


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Label
    scopes: list[Scope] = Field(min_length=1, max_length=10)
    customer_id: DbId | None = Field(
        default=None, description="make a customer token (admins only)"
    )
    expires_at: datetime | None = Field(default=None, description="UTC when no zone is given")

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        except OverflowError:
            raise ValueError("expires_at is out of range") from None
        if value <= datetime.now(UTC):
            raise ValueError("expires_at must be in the future")
        return value


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    agent_id: int | None
    customer_id: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            scopes=token.scopes,
            agent_id=token.agent_id,
            customer_id=token.customer_id,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )


class NewTokenOut(TokenOut):
    token: str = Field(description="shown once; only a hash is stored")


class SecurityPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    require_2fa: bool
