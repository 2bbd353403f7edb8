"""Tables of verified support: official channels, the scam denylist, agent signing keys.

The safety columns on other tables (``messages.signature``, ``messages.safety_flags``,
``conversations.risk_flags``, ``customers.anti_phishing_code``) live with their models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledgerdesk.db.base import Base, UTCDateTime, utcnow
from ledgerdesk.db.types import BigIntId


class ChannelKind(StrEnum):
    DOMAIN = "domain"  # the domain and every subdomain
    EMAIL = "email"
    TELEGRAM = "telegram"
    X = "x"
    DISCORD = "discord"
    PHONE = "phone"
    WEBSITE = "website"  # one page and below on a shared host: medium.com/@exchange


class DenylistKind(StrEnum):
    ADDRESS = "address"
    DOMAIN = "domain"


class OfficialChannel(Base):
    """A channel an admin declared genuine; ``value`` is normalised (see safety/verify.py)."""

    __tablename__ = "official_channels"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(300))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DenylistEntry(Base):
    """A scam address or domain; a conversation that mentions one is flagged."""

    __tablename__ = "denylist_entries"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(300))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigningKey(Base):
    """An Ed25519 key that signs agent replies. The private half is encrypted with the
    server key (SecretBox); retired keys stay so that old signatures still verify."""

    __tablename__ = "signing_keys"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(100))  # raw 32 bytes, base64
    private_key_encrypted: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
