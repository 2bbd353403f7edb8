"""API shapes of the help-center gaps."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from ledgerdesk.analytics.gaps.cluster import Group, Item
from ledgerdesk.analytics.gaps.queries import MAX_QUESTIONS, GapReport
from ledgerdesk.knowledge.models import Article
from ledgerdesk.server.types import DbId


def conversation_url(conversation_id: int) -> str:
    return f"/conversations/{conversation_id}"


def article_api_url(article_id: int) -> str:
    return f"/api/v1/kb/articles/{article_id}"


class ExampleOut(BaseModel):
    id: int
    text: str
    locale: str
    source: str
    occurred_at: datetime
    conversation_id: int | None
    article_id: int | None
    url: str | None  # the conversation in the console

    @classmethod
    def of(cls, item: Item) -> ExampleOut:
        return cls(
            id=item.id,
            text=item.text,
            locale=item.locale,
            source=item.source,
            occurred_at=item.occurred_at,
            conversation_id=item.conversation_id,
            article_id=item.article_id,
            url=conversation_url(item.conversation_id) if item.conversation_id else None,
        )


class DraftOut(BaseModel):
    id: int
    slug: str
    locale: str
    title: str
    status: str
    url: str

    @classmethod
    def of(cls, article: Article) -> DraftOut:
        return cls(
            id=article.id,
            slug=article.slug,
            locale=article.locale,
            title=article.title,
            status=article.status,
            url=article_api_url(article.id),
        )


class GroupOut(BaseModel):
    count: int
    suggested_title: str
    locale: str
    languages: dict[str, int]
    sources: dict[str, int]
    first_at: datetime
    last_at: datetime
    examples: list[ExampleOut]
    question_ids: list[int]
    draft: DraftOut | None

    @classmethod
    def of(cls, group: Group, drafts: dict[int, Article]) -> GroupOut:
        draft = drafts.get(group.draft_article_id) if group.draft_article_id else None
        return cls(
            count=group.count,
            suggested_title=group.title,
            locale=group.locale,
            languages=group.languages,
            sources=group.sources,
            first_at=group.first_at,
            last_at=group.last_at,
            examples=[ExampleOut.of(item) for item in group.examples],
            question_ids=group.question_ids,
            draft=DraftOut.of(draft) if draft is not None else None,
        )


class PeriodOut(BaseModel):
    start: date
    end: date
    days: int


class GapsOut(BaseModel):
    period: PeriodOut
    questions: int  # in the period
    pending: int  # not analysed yet (vectors still being computed)
    clustered: int  # grouped: the most recent, at most MAX_QUESTIONS
    groups: list[GroupOut]

    @classmethod
    def of(cls, report: GapReport) -> GapsOut:
        period = report.period
        return cls(
            period=PeriodOut(start=period.start, end=period.end, days=period.days),
            questions=report.total,
            pending=report.pending,
            clustered=report.clustered,
            groups=[GroupOut.of(group, report.drafts) for group in report.groups],
        )


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question_ids: list[DbId] = Field(min_length=1, max_length=MAX_QUESTIONS)
