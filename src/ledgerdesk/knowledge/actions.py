"""Every change to the knowledge base.

Each action checks permission, validates, changes rows, writes the audit log and
stages a "knowledge.article_changed" bus event, which the unit of work publishes
only after the commit. A new or changed article, and one being published, also
gets an ``assistant.embed_article`` job in the same transaction: the job computes
and stores the article's vectors (one job per article version, so a repeat is a
no-op and an edit made while a job runs gets its own).
``actor=None`` is the system itself: the ``kb import`` command and the demo seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.assistant.tasks import EMBED_ARTICLE
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.db.base import utcnow
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput
from ledgerdesk.events.bus import Event
from ledgerdesk.jobs.actions import do_enqueue_job
from ledgerdesk.knowledge import fields
from ledgerdesk.knowledge.files import ArticleFile, Bundle
from ledgerdesk.knowledge.models import (
    DRAFT,
    PUBLISHED,
    Article,
    ArticleVersion,
    ArticleVote,
    Category,
)
from ledgerdesk.knowledge.queries import find_article, require_kb_editor

TOPIC = "knowledge"
ARTICLE_CHANGED = "knowledge.article_changed"
CONTENT_FIELDS = ("title", "body", "category", "tags")
MAX_COMMENT = 2000


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def _clean(check: Any, value: object, what: str | None = None) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), details=[{"field": what, "message": str(exc)}]) from None


def _agent_id(actor: Principal | None) -> int | None:
    return actor.agent_id if actor is not None else None


def _announce(uow: UnitOfWork, article: Article, change: str) -> None:
    uow.emit(
        Event(
            ARTICLE_CHANGED,
            (TOPIC,),
            {
                "change": change,  # created, updated, published, unpublished, deleted
                "article_id": article.id,
                "slug": article.slug,
                "locale": article.locale,
                "version": article.version,
                "status": article.status,
            },
        )
    )


async def _enqueue_embedding(uow: UnitOfWork, article: Article) -> None:
    """Queue the job that stores this version's vectors (once per article version)."""
    await do_enqueue_job(
        uow,
        EMBED_ARTICLE,
        {"article_id": article.id},
        dedup_key=f"{EMBED_ARTICLE}:{article.id}:v{article.version}",
    )


def _audit(
    uow: UnitOfWork,
    actor: Principal | None,
    action: str,
    article: Article,
    detail: dict[str, Any] | None = None,
) -> None:
    do_record_audit(
        uow,
        agent_id=_agent_id(actor),
        action=action,
        object_type="kb_article",
        object_id=article.id,
        detail={"slug": article.slug, "locale": article.locale, **(detail or {})},
        ip=actor.ip if actor is not None else None,
    )


def _snapshot(uow: UnitOfWork, article: Article, actor: Principal | None) -> None:
    uow.session.add(
        ArticleVersion(
            article_id=article.id,
            version=article.version,
            title=article.title,
            body=article.body,
            category=article.category,
            tags=list(article.tags),
            agent_id=_agent_id(actor),
            created_at=article.updated_at,
        )
    )


async def do_ensure_category(uow: UnitOfWork, slug: str) -> Category:
    """The category named ``slug``, created without names when new (shown by its slug)."""
    found = await uow.session.execute(select(Category).where(Category.slug == slug))
    category = found.scalar_one_or_none()
    if category is None:
        last = await uow.session.execute(select(func.max(Category.position)))
        category = Category(slug=slug, names={}, position=(last.scalar() or 0) + 1)
        uow.session.add(category)
        await uow.session.flush()
    return category


async def do_set_category(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    slug: str,
    names: Mapping[str, str],
    position: int | None = None,
) -> Category:
    """Name a category per locale (replacing its names) and optionally place it."""
    require_kb_editor(actor)
    slug = _clean(fields.clean_category, slug, "slug")
    cleaned: dict[str, str] = {}
    for locale, name in names.items():
        tag = _clean(fields.clean_locale, locale, "names")
        text = " ".join(str(name).split())
        if not text or len(text) > 100 or "\x00" in text:
            raise InvalidInput(f"the {tag} name must be text of 1 to 100 characters")
        cleaned[tag] = text
    category = await do_ensure_category(uow, slug)
    category.names = cleaned
    if position is not None:
        category.position = position
    do_record_audit(
        uow,
        agent_id=_agent_id(actor),
        action="kb.category_named",
        object_type="kb_category",
        object_id=category.slug,
        detail={"names": cleaned},
    )
    return category


async def do_create_article(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    slug: str,
    locale: str,
    title: str,
    body: str,
    category: str,
    tags: Iterable[str] = (),
    status: str = DRAFT,
) -> Article:
    require_kb_editor(actor)
    slug = _clean(fields.clean_slug, slug, "slug")
    locale = _clean(fields.clean_locale, locale, "locale")
    status = _clean(fields.clean_status, status, "status")
    if await find_article(uow.session, slug, locale) is not None:
        raise Conflict(f"an article {slug!r} already exists in {locale}")
    category = _clean(fields.clean_category, category, "category")
    await do_ensure_category(uow, category)
    now = utcnow()
    article = Article(
        slug=slug,
        locale=locale,
        title=_clean(fields.clean_title, title, "title"),
        body=_clean(fields.clean_body, body, "body"),
        category=category,
        tags=_clean(fields.clean_tags, list(tags), "tags"),
        status=status,
        version=1,
        created_by_id=_agent_id(actor),
        updated_by_id=_agent_id(actor),
        created_at=now,
        updated_at=now,
        published_at=now if status == PUBLISHED else None,
    )
    uow.session.add(article)
    try:
        async with uow.session.begin_nested():
            await uow.session.flush()
    except IntegrityError:
        # Another writer created the same (slug, locale) first.
        raise Conflict(f"an article {slug!r} already exists in {locale}") from None
    _snapshot(uow, article, actor)
    _audit(uow, actor, "kb.article_created", article, {"status": status})
    _announce(uow, article, "created")
    await _enqueue_embedding(uow, article)
    return article


async def do_update_article(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    article: Article,
    title: str = UNSET,
    body: str = UNSET,
    category: str = UNSET,
    tags: Iterable[str] = UNSET,
    status: str = UNSET,
    expected_version: int | None = None,
) -> list[str]:
    """Change what is given; returns the names of the fields that really changed.

    A change of title, body, category or tags makes a new version (the old one stays
    in the history); ``expected_version`` refuses to overwrite someone else's edit.
    """
    require_kb_editor(actor)
    if expected_version is not None and expected_version != article.version:
        raise Conflict(
            f"the article is at version {article.version}, not {expected_version}: "
            "someone else changed it; reload and edit again"
        )
    wanted: dict[str, Any] = {}
    if title is not UNSET:
        wanted["title"] = _clean(fields.clean_title, title, "title")
    if body is not UNSET:
        wanted["body"] = _clean(fields.clean_body, body, "body")
    if category is not UNSET:
        wanted["category"] = _clean(fields.clean_category, category, "category")
    if tags is not UNSET:
        wanted["tags"] = _clean(fields.clean_tags, list(tags), "tags")
    changed = [name for name, value in wanted.items() if getattr(article, name) != value]
    if "category" in changed:
        await do_ensure_category(uow, wanted["category"])
    if changed:
        for name in changed:
            setattr(article, name, wanted[name])
        article.version += 1
        article.updated_at = utcnow()
        article.updated_by_id = _agent_id(actor)
        _snapshot(uow, article, actor)
        _audit(
            uow,
            actor,
            "kb.article_updated",
            article,
            {"fields": changed, "version": article.version},
        )
        _announce(uow, article, "updated")
    if status is not UNSET:
        status = _clean(fields.clean_status, status, "status")
        if status != article.status:
            _set_status(uow, actor, article, status)
            changed.append("status")
    published = "status" in changed and article.status == PUBLISHED
    if published or any(name in CONTENT_FIELDS for name in changed):
        await _enqueue_embedding(uow, article)
    return changed


def _set_status(uow: UnitOfWork, actor: Principal | None, article: Article, status: str) -> None:
    article.status = status
    article.updated_at = utcnow()
    article.updated_by_id = _agent_id(actor)
    if status == PUBLISHED:
        article.published_at = article.updated_at
    change = "published" if status == PUBLISHED else "unpublished"
    _audit(uow, actor, f"kb.article_{change}", article)
    _announce(uow, article, change)


async def do_publish(uow: UnitOfWork, *, actor: Principal | None, article: Article) -> bool:
    """Publish; False when it already was."""
    require_kb_editor(actor)
    if article.status == PUBLISHED:
        return False
    _set_status(uow, actor, article, PUBLISHED)
    await _enqueue_embedding(uow, article)
    return True


async def do_unpublish(uow: UnitOfWork, *, actor: Principal | None, article: Article) -> bool:
    """Back to draft (gone from the help center); False when it already was a draft."""
    require_kb_editor(actor)
    if article.status == DRAFT:
        return False
    _set_status(uow, actor, article, DRAFT)
    return True


async def do_delete_article(uow: UnitOfWork, *, actor: Principal | None, article: Article) -> None:
    """Delete with its versions and votes; the audit log keeps who did it."""
    require_kb_editor(actor)
    _audit(uow, actor, "kb.article_deleted", article, {"version": article.version})
    _announce(uow, article, "deleted")
    await uow.session.delete(article)
    await uow.session.flush()


async def do_vote(
    uow: UnitOfWork,
    *,
    article: Article,
    visitor_key: str,
    helpful: bool,
    comment: str | None = None,
) -> tuple[ArticleVote, bool]:
    """Record a visitor's answer to "was this helpful?"; a second answer replaces the first.

    Returns the vote and whether it is new. Votes come from the public, so they are
    not audited; only published articles take votes.
    """
    if article.status != PUBLISHED:
        raise InvalidInput("only published articles take votes")
    if not visitor_key or len(visitor_key) > 64:
        raise InvalidInput("a vote needs a visitor key of at most 64 characters")
    text = (comment or "").replace("\x00", "").strip() or None
    if text is not None and len(text) > MAX_COMMENT:
        raise InvalidInput(f"the comment is longer than {MAX_COMMENT} characters")
    found = await uow.session.execute(
        select(ArticleVote).where(
            ArticleVote.article_id == article.id, ArticleVote.visitor_key == visitor_key
        )
    )
    vote = found.scalar_one_or_none()
    now = utcnow()
    if vote is not None:
        vote.helpful = helpful
        if text is not None or comment is not None:
            vote.comment = text
        vote.updated_at = now
        return vote, False
    vote = ArticleVote(
        article_id=article.id,
        visitor_key=visitor_key,
        helpful=helpful,
        comment=text,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(vote)
    try:
        async with uow.session.begin_nested():
            await uow.session.flush()
    except IntegrityError:
        raise Conflict(
            "this visitor's vote was just recorded; send it again to change it"
        ) from None
    return vote, True


# Import ----------------------------------------------------------------------------


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    # file name -> the fields that changed
    updated: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    categories_named: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "categories_named": self.categories_named,
        }


def _differences(article: Article, incoming: ArticleFile) -> list[str]:
    current = {
        "title": article.title,
        "body": article.body,
        "category": article.category,
        "tags": list(article.tags),
        "status": article.status,
    }
    wanted = {
        "title": incoming.title,
        "body": incoming.body,
        "category": incoming.category,
        "tags": list(incoming.tags),
        "status": incoming.status,
    }
    return [name for name in current if current[name] != wanted[name]]


async def do_import_bundle(
    uow: UnitOfWork, *, actor: Principal | None, bundle: Bundle
) -> ImportReport:
    """Create or update every article of ``bundle`` by (slug, locale).

    All or nothing: a bundle with any problem is refused before anything is
    written, and the caller commits the whole import at once. Articles in the
    database but not in the bundle are left alone.
    """
    require_kb_editor(actor)
    if bundle.problems:
        raise InvalidInput(
            f"{len(bundle.problems)} problem(s) in the files; nothing was imported",
            details=[{"field": p.filename, "message": p.message} for p in bundle.problems],
        )
    report = ImportReport()
    for position, (slug, names) in enumerate(bundle.categories.items(), start=1):
        category = await do_ensure_category(uow, slug)
        if category.names != names or category.position != position:
            await do_set_category(uow, actor=actor, slug=slug, names=names, position=position)
            report.categories_named.append(slug)
    for incoming in bundle.articles:
        article = await find_article(uow.session, incoming.slug, incoming.locale)
        if article is None:
            await do_create_article(
                uow,
                actor=actor,
                slug=incoming.slug,
                locale=incoming.locale,
                title=incoming.title,
                body=incoming.body,
                category=incoming.category,
                tags=incoming.tags,
                status=incoming.status,
            )
            report.created.append(incoming.filename)
            continue
        changed = _differences(article, incoming)
        if not changed:
            report.unchanged.append(incoming.filename)
            continue
        await do_update_article(
            uow,
            actor=actor,
            article=article,
            title=incoming.title,
            body=incoming.body,
            category=incoming.category,
            tags=incoming.tags,
            status=incoming.status,
        )
        report.updated[incoming.filename] = changed
    return report


def article_file(article: Article) -> ArticleFile:
    return ArticleFile(
        slug=article.slug,
        locale=article.locale,
        title=article.title,
        category=article.category,
        tags=tuple(article.tags),
        body=article.body,
        status=article.status,
    )
