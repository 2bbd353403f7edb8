"""Knowledge base tables: categories, articles (one row per slug and locale), versions, votes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledgerdesk.db.base import Base, UTCDateTime, utcnow
from ledgerdesk.db.types import BigIntId, JSONType

DRAFT = "draft"
PUBLISHED = "published"
STATUSES = (DRAFT, PUBLISHED)


class Category(Base):
    """A group of articles; articles name it by slug, its names are per locale."""

    __tablename__ = "kb_categories"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # {"en": "Deposits", "zh-Hans": "充值"}; a locale without a name shows the English one.
    names: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Article(Base):
    __tablename__ = "kb_articles"
    __table_args__ = (
        UniqueConstraint("slug", "locale"),
        Index("ix_kb_articles_locale_status", "locale", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120))
    # A canonical BCP-47 tag ("en", "zh-Hans", "pt-BR"), see knowledge/locales.py.
    locale: Mapped[str] = mapped_column(String(35))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)  # Markdown
    category: Mapped[str] = mapped_column(ForeignKey("kb_categories.slug"), index=True)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(20), default=DRAFT)
    # Counts saved changes of title, body, category or tags; starts at 1.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Written by the assistant's embedding job: float32 bytes of the vector, the model
    # that made it, and the article version it was made from (stale when < version).
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    embedding_model: Mapped[str | None] = mapped_column(String(100), default=None)
    embedded_version: Mapped[int | None] = mapped_column(Integer, default=None)

    @property
    def is_published(self) -> bool:
        return self.status == PUBLISHED


class ArticleVersion(Base):
    """Every saved version of an article's content, the current one included: who, when."""

    __tablename__ = "kb_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(80))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def snapshot(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "body": self.body,
            "category": self.category,
            "tags": list(self.tags),
        }


class ArticleVote(Base):
    """One "was this helpful?" answer per visitor and article; the visitor may change it."""

    __tablename__ = "kb_article_votes"
    __table_args__ = (UniqueConstraint("article_id", "visitor_key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    # An HMAC of the visitor's cookie (or of a customer id): never the cookie itself.
    visitor_key: Mapped[str] = mapped_column(String(64))
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
