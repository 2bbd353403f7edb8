"""API shapes of verified support."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ledgerdesk.safety.models import (
    ChannelKind,
    DenylistEntry,
    DenylistKind,
    OfficialChannel,
    SigningKey,
)
from ledgerdesk.server.types import ShortText, Text

Note = ShortText


class Advice(BaseModel):
    en: str
    zh_hans: str = Field(alias="zh-Hans")
    model_config = ConfigDict(populate_by_name=True)


class ChannelMatch(BaseModel):
    kind: str
    value: str
    note: str


class VerifyOut(BaseModel):
    query: str
    kind: str
    normalised: str
    official: bool
    match: ChannelMatch | None
    lookalike_of: str | None = Field(description="the official domain it imitates, if any")
    known_scam: bool = Field(description="on the admins' scam denylist")
    advice: Advice


class MessageCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text = Field(min_length=1, max_length=60_000)


class MessageCheckOut(BaseModel):
    valid: bool
    reason: str
    agent: str | None
    conversation: int | None
    message_id: int | None
    created_at: str | None
    key_id: str | None
    advice: Advice


class PublicKeyOut(BaseModel):
    key_id: str
    algorithm: str = "Ed25519"
    public_key: str = Field(description="the raw 32-byte public key, base64")
    created_at: datetime
    retired_at: datetime | None
    active: bool

    @classmethod
    def of(cls, key: SigningKey) -> PublicKeyOut:
        return cls(
            key_id=key.key_id,
            public_key=key.public_key,
            created_at=key.created_at,
            retired_at=key.retired_at,
            active=key.retired_at is None,
        )


class PublicKeysOut(BaseModel):
    format: str = Field(
        default=(
            "token ldsig1.<base64url JSON header {k,c,m,a,t}>.<base64url Ed25519 signature> "
            'over the UTF-8 JSON array ["ledgerdesk-agent-reply-v1", k, c, m, a, t, body]'
        )
    )
    keys: list[PublicKeyOut]


class OfficialChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ChannelKind
    value: ShortText = Field(min_length=1)
    note: Note = ""


class OfficialChannelOut(BaseModel):
    id: int
    kind: str
    value: str
    note: str
    created_by_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, row: OfficialChannel) -> OfficialChannelOut:
        return cls(
            id=row.id,
            kind=row.kind,
            value=row.value,
            note=row.note,
            created_by_id=row.created_by_id,
            created_at=row.created_at,
        )


class DenylistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: DenylistKind
    value: ShortText = Field(min_length=1)
    note: Note = ""


class DenylistOut(BaseModel):
    id: int
    kind: str
    value: str
    note: str
    created_by_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, row: DenylistEntry) -> DenylistOut:
        return cls(
            id=row.id,
            kind=row.kind,
            value=row.value,
            note=row.note,
            created_by_id=row.created_by_id,
            created_at=row.created_at,
        )


class AntiPhishingCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Text = Field(min_length=1, max_length=100)


class AntiPhishingCodeOut(BaseModel):
    code: str | None
    note: str = (
        "Every message we send you (chat, email, Telegram) shows this code. A message that "
        "claims to be from us without it is phishing."
    )
