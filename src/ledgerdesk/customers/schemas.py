"""API shapes for customers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ledgerdesk.customers.models import Customer, CustomerIdentity, IdentityKind, Tier
from ledgerdesk.server.types import DbId, Language, Name, ShortText, Text


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: IdentityKind
    value: ShortText


class IdentityOut(BaseModel):
    id: int
    kind: str
    value: str
    verified: bool

    @classmethod
    def of(cls, identity: CustomerIdentity) -> IdentityOut:
        return cls(
            id=identity.id, kind=identity.kind, value=identity.value, verified=identity.verified
        )


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name = ""
    email: ShortText | None = None
    language: Language | None = None
    tier: Tier = Tier.STANDARD
    identities: list[IdentityIn] = Field(default_factory=list, max_length=20)


class CustomerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    language: Language | None = None
    tier: Tier | None = None
    notes: Text | None = Field(default=None, max_length=20_000)


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    other_id: DbId = Field(description="the customer absorbed into this one")


class CustomerOut(BaseModel):
    id: int
    name: str
    email: str | None
    language: str | None
    tier: str
    notes: str
    merged_into_id: int | None
    created_at: datetime
    identities: list[IdentityOut]

    @classmethod
    def of(cls, customer: Customer, identities: list[CustomerIdentity]) -> CustomerOut:
        return cls(
            id=customer.id,
            name=customer.name,
            email=customer.email,
            language=customer.language,
            tier=customer.tier,
            notes=customer.notes,
            merged_into_id=customer.merged_into_id,
            created_at=customer.created_at,
            identities=[IdentityOut.of(identity) for identity in identities],
        )


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    next_cursor: int | None
