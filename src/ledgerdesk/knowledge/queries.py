"""Reads of the knowledge base, and who may read or edit it (``access_*``, ``require_*``).

Agents of every role read drafts; admins and supervisors edit; the public help
center sees published articles only; a customer token has no business here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.models import Agent
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.conversations.queries import decode_cursor, encode_cursor
from ledgerdesk.errors import NotFound, PermissionDenied
from ledgerdesk.knowledge.locales import DEFAULT_LOCALE, best_locale
from ledgerdesk.knowledge.models import (
    PUBLISHED,
    Article,
    ArticleVersion,
    ArticleVote,
    Category,
)

EDITOR_ROLES = ("admin", "supervisor")


def require_kb_reader(actor: Principal | None) -> Agent | None:
    """The agent reading the knowledge base (None for the system itself)."""
    if actor is None:
        return None
    if actor.is_customer:
        raise PermissionDenied("customers read the public help center, not the agent API")
    return actor.require_agent()


def require_kb_editor(actor: Principal | None) -> Agent | None:
    """The agent changing the knowledge base; admins and supervisors only."""
    agent = require_kb_reader(actor)
    if agent is not None and agent.role not in EDITOR_ROLES:
        raise PermissionDenied("only admins and supervisors edit the knowledge base")
    return agent


async def access_article(
    session: AsyncSession, actor: Principal | None, article_id: int
) -> Article:
    require_kb_reader(actor)
    article = await session.get(Article, article_id)
    if article is None:
        raise NotFound(f"article {article_id} not found")
    return article


async def find_article(session: AsyncSession, slug: str, locale: str) -> Article | None:
    found = await session.execute(
        select(Article).where(Article.slug == slug, Article.locale == locale)
    )
    return found.scalar_one_or_none()


@dataclass(frozen=True)
class ArticleFilter:
    locale: str | None = None
    category: str | None = None
    status: str | None = None
    slug: str | None = None
    tag: str | None = None
    q: str | None = None


async def list_articles(
    session: AsyncSession, where: ArticleFilter, cursor: str | None, limit: int
) -> tuple[list[Article], str | None]:
    """Newest first by id, paged with an opaque cursor like every list of the API."""
    statement = select(Article).order_by(Article.id.desc())
    if where.locale is not None:
        statement = statement.where(Article.locale == where.locale)
    if where.category is not None:
        statement = statement.where(Article.category == where.category)
    if where.status is not None:
        statement = statement.where(Article.status == where.status)
    if where.slug is not None:
        statement = statement.where(Article.slug == where.slug)
    if where.q:
        pattern = "%" + where.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(Article.title.ilike(pattern, escape="\\"))
    if cursor is not None:
        statement = statement.where(Article.id < decode_cursor(cursor))
    if where.tag is None:
        rows = list((await session.execute(statement.limit(limit + 1))).scalars())
    else:
        # Tags live in a JSON list; a knowledge base is small enough to filter them here.
        wanted = where.tag.casefold()
        found = (await session.execute(statement)).scalars()
        rows = [a for a in found if any(t.casefold() == wanted for t in a.tags)]
        rows = rows[: limit + 1]
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def list_versions(session: AsyncSession, article_id: int) -> list[ArticleVersion]:
    found = await session.execute(
        select(ArticleVersion)
        .where(ArticleVersion.article_id == article_id)
        .order_by(ArticleVersion.version.desc())
    )
    return list(found.scalars())


@dataclass(frozen=True)
class VoteStats:
    helpful: int
    not_helpful: int
    comments: list[ArticleVote] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.helpful + self.not_helpful


async def vote_stats(session: AsyncSession, article_id: int, comments: int = 20) -> VoteStats:
    counts = dict(
        (
            await session.execute(
                select(ArticleVote.helpful, func.count())
                .where(ArticleVote.article_id == article_id)
                .group_by(ArticleVote.helpful)
            )
        ).all()
    )
    recent = await session.execute(
        select(ArticleVote)
        .where(ArticleVote.article_id == article_id, ArticleVote.comment.is_not(None))
        .order_by(ArticleVote.updated_at.desc(), ArticleVote.id.desc())
        .limit(comments)
    )
    return VoteStats(counts.get(True, 0), counts.get(False, 0), list(recent.scalars()))


async def list_categories(session: AsyncSession) -> list[Category]:
    found = await session.execute(select(Category).order_by(Category.position, Category.slug))
    return list(found.scalars())


async def all_articles(session: AsyncSession) -> list[Article]:
    found = await session.execute(select(Article).order_by(Article.slug, Article.locale))
    return list(found.scalars())


# The public help center: published articles only ------------------------------


async def published_locales(session: AsyncSession) -> list[str]:
    found = await session.execute(
        select(Article.locale).where(Article.status == PUBLISHED).distinct()
    )
    locales = sorted(found.scalars())
    # English first: it is the language every other one falls back to.
    return sorted(locales, key=lambda tag: tag != DEFAULT_LOCALE)


@dataclass(frozen=True)
class Shown:
    """An article as the help center shows it to a reader of ``wanted`` locale."""

    article: Article
    fallback: bool  # True when it is another language's version (no ``wanted`` one exists)


def pick_versions(articles: Sequence[Article], wanted: str) -> list[Shown]:
    """One version per slug: the reader's language, else English, else any."""
    by_slug: dict[str, dict[str, Article]] = {}
    for article in articles:
        by_slug.setdefault(article.slug, {})[article.locale] = article
    shown = []
    for versions in by_slug.values():
        own = best_locale([wanted], versions)
        chosen = own or best_locale([DEFAULT_LOCALE], versions) or sorted(versions)[0]
        shown.append(Shown(versions[chosen], fallback=own is None))
    return shown


async def published_article(session: AsyncSession, slug: str, locale: str) -> Shown:
    found = await session.execute(
        select(Article).where(Article.slug == slug, Article.status == PUBLISHED)
    )
    shown = pick_versions(list(found.scalars()), locale)
    if not shown:
        raise NotFound("there is no such article in the help center")
    return shown[0]


async def published_articles(
    session: AsyncSession, locale: str, category: str | None = None
) -> list[Shown]:
    statement = select(Article).where(Article.status == PUBLISHED)
    if category is not None:
        statement = statement.where(Article.category == category)
    shown = pick_versions(list((await session.execute(statement)).scalars()), locale)
    return sorted(shown, key=lambda item: (item.fallback, item.article.title.casefold()))


async def other_versions(session: AsyncSession, slug: str) -> list[str]:
    """The locales an article is published in (for the language switch)."""
    found = await session.execute(
        select(Article.locale).where(Article.slug == slug, Article.status == PUBLISHED)
    )
    return sorted(found.scalars(), key=lambda tag: (tag != DEFAULT_LOCALE, tag))


def category_name(category: Category | None, slug: str, locale: str) -> str:
    """The category's name in ``locale``, else English, else its slug made readable."""
    names = category.names if category is not None else {}
    chosen = best_locale([locale, DEFAULT_LOCALE], names)
    if chosen is not None:
        return names[chosen]
    return slug.replace("-", " ").capitalize()
