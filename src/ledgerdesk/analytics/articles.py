"""Help-center article feedback: the "was this helpful?" votes of a period.

Votes are few next to conversations (one per visitor and article), so they are read
straight from ``kb_article_votes`` by the time of the visitor's latest answer, with
no rollup. A visitor who changes their answer counts once, in the period of the change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.knowledge.models import Article, ArticleVote

if TYPE_CHECKING:
    from ledgerdesk.analytics.queries import DateRange

WORST_ARTICLES = 10


async def _totals(session: AsyncSession, period: DateRange) -> tuple[int, int]:
    row = (
        await session.execute(
            select(
                func.count(ArticleVote.id),
                func.coalesce(func.sum(case((ArticleVote.helpful.is_(True), 1), else_=0)), 0),
            ).where(ArticleVote.updated_at >= period.start, ArticleVote.updated_at < period.end)
        )
    ).one()
    return int(row[0]), int(row[1])


def _share(helpful: int, votes: int) -> float | None:
    return helpful / votes if votes else None


async def article_feedback(session: AsyncSession, period: DateRange) -> dict[str, Any]:
    """Votes in the period and the previous one, and the articles most often found
    unhelpful (with their share of helpful answers), worst first."""
    votes, helpful = await _totals(session, period)
    before_votes, before_helpful = await _totals(session, period.previous())
    share, before_share = _share(helpful, votes), _share(before_helpful, before_votes)
    unhelpful = func.sum(case((ArticleVote.helpful.is_(False), 1), else_=0))
    rows = (
        await session.execute(
            select(
                Article.id,
                Article.slug,
                Article.locale,
                Article.title,
                func.count(ArticleVote.id),
                unhelpful,
            )
            .join(Article, Article.id == ArticleVote.article_id)
            .where(ArticleVote.updated_at >= period.start, ArticleVote.updated_at < period.end)
            .group_by(Article.id, Article.slug, Article.locale, Article.title)
            .having(unhelpful > 0)
            .order_by(unhelpful.desc(), func.count(ArticleVote.id).desc(), Article.id)
            .limit(WORST_ARTICLES)
        )
    ).all()
    return {
        "range": period.as_dict(),
        "votes": votes,
        "helpful": helpful,
        "helpful_share": share,
        "previous": {
            "votes": before_votes,
            "helpful": before_helpful,
            "helpful_share": before_share,
        },
        "change": share - before_share if share is not None and before_share is not None else None,
        "least_helpful": [
            {
                "article_id": article_id,
                "slug": slug,
                "locale": locale,
                "title": title,
                "votes": int(count),
                "not_helpful": int(bad),
                "helpful_share": (int(count) - int(bad)) / int(count),
            }
            for article_id, slug, locale, title, count, bad in rows
        ],
    }
