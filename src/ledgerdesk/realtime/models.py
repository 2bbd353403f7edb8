from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ledgerdesk.db.base import Base, UTCDateTime, utcnow
from ledgerdesk.db.types import BigIntId, JSONType, NullableJSONType


class StreamEvent(Base):
    """One entry of the real-time stream, written in the transaction of the change.

    Ids increase in commit order (see outbox.py), so a client that remembers the
    last id it saw can resume after a reconnect and miss nothing. Agents who may
    see the entry's team read ``data``; the customer it concerns reads
    ``customer_data``, a narrower view, and only when there is one (an internal
    note has none).
    """

    __tablename__ = "stream_events"
    __table_args__ = (
        Index("ix_stream_events_customer_id_id", "customer_id", "id"),
        # Never reuse an id on SQLite, even after old entries are pruned: a client
        # resuming from id N must not mistake a new entry for one it has seen.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    conversation_id: Mapped[int | None] = mapped_column(BigIntId, default=None)
    customer_id: Mapped[int | None] = mapped_column(BigIntId, default=None)
    team_id: Mapped[int | None] = mapped_column(BigIntId, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    customer_data: Mapped[dict[str, Any] | None] = mapped_column(NullableJSONType, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
