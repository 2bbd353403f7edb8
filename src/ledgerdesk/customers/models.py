from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledgerdesk.db.base import Base, UTCDateTime, utcnow
from ledgerdesk.db.types import BigIntId


class IdentityKind(StrEnum):
    EMAIL = "email"
    WEBCHAT = "webchat"
    TELEGRAM = "telegram"
    DISCORD = "discord"
    PLATFORM_USER = "platform_user"
    WALLET_ADDRESS = "wallet_address"
    PHONE = "phone"


class Tier(StrEnum):
    STANDARD = "standard"
    VIP = "vip"


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254), default=None, index=True)
    language: Mapped[str | None] = mapped_column(String(20), default=None)
    tier: Mapped[str] = mapped_column(String(20), default=Tier.STANDARD)
    notes: Mapped[str] = mapped_column(Text, default="")
    # After a merge the absorbed customer points at the survivor and is hidden.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id"), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Safety (migration 0007): a code the customer chose; every message the platform
    # sends them shows it, so a message without it is not from us.
    anti_phishing_code: Mapped[str | None] = mapped_column(String(40), default=None)


class CustomerIdentity(Base):
    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    value: Mapped[str] = mapped_column(String(300))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
