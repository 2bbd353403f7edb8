"""Reading the help-center gaps of a period, with the permission check."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.analytics.gaps.cluster import FloatArray, Group, Item, group_questions
from ledgerdesk.analytics.gaps.embed import MODEL_NAME, from_bytes
from ledgerdesk.analytics.gaps.models import GapQuestion
from ledgerdesk.assistant.dense import DIM
from ledgerdesk.errors import InvalidInput, PermissionDenied
from ledgerdesk.knowledge.models import Article

DEFAULT_DAYS = 30
MAX_DAYS = 366
# The most recent questions of a period that are clustered: clustering needs n²
# distances (2,000 questions: 32 MB, about a second). The page says when it cut.
MAX_QUESTIONS = 2000
MAX_GROUPS = 100


def access_gaps(principal: Principal) -> None:
    """Supervisors and admins: the gaps show customers' questions across all teams."""
    agent = principal.require_agent()
    principal.require_scope("conversations:read")
    if not agent.is_supervisor:
        raise PermissionDenied("only supervisors and admins see the help-center gaps")


@dataclass(frozen=True)
class Period:
    start: date  # first day, inclusive
    end: date  # last day, inclusive

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def parse_period(
    *, days: int | None, start: date | None, end: date | None, today: date | None = None
) -> Period:
    """The period asked for: ``start``..``end`` (UTC days), or the last ``days`` days."""
    today = today or datetime.now(UTC).date()
    if start is not None or end is not None:
        if start is None or end is None:
            raise InvalidInput("give both start and end (YYYY-MM-DD), or days")
        if days is not None:
            raise InvalidInput("give either start and end, or days, not both")
        if end < start:
            raise InvalidInput("end must not be before start")
        if (end - start).days + 1 > MAX_DAYS:
            raise InvalidInput(f"a period is at most {MAX_DAYS} days")
        return Period(start, end)
    count = DEFAULT_DAYS if days is None else days
    if not 1 <= count <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}")
    return Period(today - timedelta(days=count - 1), today)


@dataclass
class GapReport:
    period: Period
    total: int  # questions in the period
    pending: int  # of which the vectors are not computed yet
    clustered: int  # questions grouped (at most MAX_QUESTIONS, the most recent)
    groups: list[Group]
    drafts: dict[int, Article]  # draft articles made from groups, by id


def _item(row: GapQuestion) -> Item:
    return Item(
        id=row.id,
        text=row.text,
        locale=row.locale,
        source=row.source,
        occurred_at=row.occurred_at,
        conversation_id=row.conversation_id,
        article_id=row.article_id,
        draft_article_id=row.draft_article_id,
    )


def vectors_of(rows: list[GapQuestion]) -> tuple[list[Item], FloatArray]:
    """The rows with a current vector, as items and one matrix."""
    items: list[Item] = []
    vectors: list[FloatArray] = []
    for row in rows:
        vector = from_bytes(row.embedding) if row.embedding_model == MODEL_NAME else None
        if vector is not None:
            items.append(_item(row))
            vectors.append(vector)
    matrix = np.vstack(vectors) if vectors else np.zeros((0, DIM), dtype=np.float32)
    return items, matrix.astype(np.float32)


async def gap_report(
    session: AsyncSession, principal: Principal, period: Period, *, max_groups: int = MAX_GROUPS
) -> GapReport:
    access_gaps(principal)
    in_period = (GapQuestion.occurred_at >= period.since, GapQuestion.occurred_at < period.until)
    total = int(
        await session.scalar(select(func.count()).select_from(GapQuestion).where(*in_period)) or 0
    )
    ready = (GapQuestion.embedding.is_not(None), GapQuestion.embedding_model == MODEL_NAME)
    rows = list(
        (
            await session.execute(
                select(GapQuestion)
                .where(*in_period, *ready)
                .order_by(GapQuestion.occurred_at.desc(), GapQuestion.id.desc())
                .limit(MAX_QUESTIONS)
            )
        ).scalars()
    )
    items, matrix = vectors_of(rows)
    # About a second of CPU at the cap: off the event loop, so other requests go on.
    groups = (await asyncio.to_thread(group_questions, items, matrix))[:max_groups]
    ready_count = int(
        await session.scalar(
            select(func.count()).select_from(GapQuestion).where(*in_period, *ready)
        )
        or 0
    )
    draft_ids = {g.draft_article_id for g in groups if g.draft_article_id is not None}
    drafts: dict[int, Article] = {}
    if draft_ids:
        found = await session.execute(select(Article).where(Article.id.in_(draft_ids)))
        drafts = {article.id: article for article in found.scalars()}
    return GapReport(period, total, total - ready_count, len(items), groups, drafts)


async def questions_by_id(session: AsyncSession, ids: list[int]) -> list[GapQuestion]:
    found = await session.execute(
        select(GapQuestion).where(GapQuestion.id.in_(ids)).order_by(GapQuestion.id)
    )
    return list(found.scalars())
