"""Tables of the help-center gaps: the collected questions and the collector's watermarks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledgerdesk.db.base import Base, UTCDateTime, utcnow
from ledgerdesk.db.types import BigIntId

# Where a question comes from; ``source_id`` is that table's row id.
HANDOFF = "handoff"  # assistant_turns
LOW_RATING = "low_rating"  # surveys
ARTICLE_VOTE = "article_vote"  # kb_article_votes
SOURCES = (HANDOFF, LOW_RATING, ARTICLE_VOTE)


class GapQuestion(Base):
    """One question the help center did not answer, with its e5 vector once computed.

    The text is copied from the message (already stripped of secrets by the safety
    checks when it was stored) so that the page needs no joins; deleting the
    conversation or the article deletes the row.
    """

    __tablename__ = "helpcenter_gap_questions"
    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        Index("ix_helpcenter_gap_questions_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[int] = mapped_column(BigInteger)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True, default=None
    )
    # The article voted "not helpful" (votes only).
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True, default=None
    )
    text: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(35))
    # The hand-off reason, "rating:<n>" or "not_helpful".
    reason: Mapped[str] = mapped_column(String(60))
    # When it happened: the hand-off, the rating, the vote. The period filters on it.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # float32 bytes of the e5 query vector, and the model that made it (None: not yet).
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    embedding_model: Mapped[str | None] = mapped_column(String(100), default=None)
    # The draft article made from this question's group, if any.
    draft_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="SET NULL"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GapWatermark(Base):
    """How far the collector has read each source: a time and the last id at that time."""

    __tablename__ = "helpcenter_gap_watermarks"

    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
