"""API shapes for the knowledge base."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ledgerdesk.knowledge.models import Article, ArticleVersion, ArticleVote, Category
from ledgerdesk.knowledge.queries import VoteStats
from ledgerdesk.server.types import Label, Language, Tag, Text

ArticleStatus = Literal["draft", "published"]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=120)]
CategorySlug = Annotated[str, StringConstraints(min_length=1, max_length=80)]
Title = Annotated[Text, StringConstraints(min_length=1, max_length=300)]
ArticleBody = Annotated[Text, StringConstraints(min_length=1, max_length=200_000)]


class ArticleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: Slug
    locale: Language
    title: Title
    body: ArticleBody
    category: CategorySlug
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    status: ArticleStatus = "draft"


class ArticleUpdate(BaseModel):
    """Only the fields given change; ``version`` (optional) guards against lost edits."""

    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    body: ArticleBody | None = None
    category: CategorySlug | None = None
    tags: list[Tag] | None = Field(default=None, max_length=30)
    status: ArticleStatus | None = None
    version: int | None = Field(default=None, ge=1)


class ArticleOut(BaseModel):
    id: int
    slug: str
    locale: str
    title: str
    body: str
    category: str
    tags: list[str]
    status: str
    version: int
    created_by_id: int | None
    updated_by_id: int | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    embedding_model: str | None
    embedded_version: int | None
    url: str

    @classmethod
    def of(cls, article: Article) -> ArticleOut:
        return cls(
            id=article.id,
            slug=article.slug,
            locale=article.locale,
            title=article.title,
            body=article.body,
            category=article.category,
            tags=list(article.tags),
            status=article.status,
            version=article.version,
            created_by_id=article.created_by_id,
            updated_by_id=article.updated_by_id,
            created_at=article.created_at,
            updated_at=article.updated_at,
            published_at=article.published_at,
            embedding_model=article.embedding_model,
            embedded_version=article.embedded_version,
            url=f"/help/{article.locale}/a/{article.slug}",
        )


class ArticlePage(BaseModel):
    items: list[ArticleOut]
    next_cursor: str | None


class ArticleUpdated(BaseModel):
    article: ArticleOut
    changed: list[str]


class VersionOut(BaseModel):
    version: int
    title: str
    body: str
    category: str
    tags: list[str]
    agent_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, row: ArticleVersion) -> VersionOut:
        return cls(
            version=row.version,
            title=row.title,
            body=row.body,
            category=row.category,
            tags=list(row.tags),
            agent_id=row.agent_id,
            created_at=row.created_at,
        )


class VoteCommentOut(BaseModel):
    helpful: bool
    comment: str
    updated_at: datetime

    @classmethod
    def of(cls, vote: ArticleVote) -> VoteCommentOut:
        return cls(helpful=vote.helpful, comment=vote.comment or "", updated_at=vote.updated_at)


class VoteStatsOut(BaseModel):
    helpful: int
    not_helpful: int
    total: int
    helpful_ratio: float | None
    comments: list[VoteCommentOut]

    @classmethod
    def of(cls, stats: VoteStats) -> VoteStatsOut:
        return cls(
            helpful=stats.helpful,
            not_helpful=stats.not_helpful,
            total=stats.total,
            helpful_ratio=round(stats.helpful / stats.total, 4) if stats.total else None,
            comments=[VoteCommentOut.of(vote) for vote in stats.comments],
        )


class CategoryOut(BaseModel):
    slug: str
    names: dict[str, str]
    position: int

    @classmethod
    def of(cls, category: Category) -> CategoryOut:
        return cls(slug=category.slug, names=dict(category.names), position=category.position)


class CategoryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    names: dict[Language, Label] = Field(max_length=50)
    position: int | None = Field(default=None, ge=0, le=100_000)


class KnowledgeExport(BaseModel):
    """Every article and category, as JSON (``ledgerdesk kb export`` writes files)."""

    exported_at: datetime
    categories: list[CategoryOut]
    articles: list[ArticleOut]
