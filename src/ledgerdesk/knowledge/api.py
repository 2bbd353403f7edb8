"""REST routes for the knowledge base (agents). Thin: parse, call, commit, shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from ledgerdesk.db.base import utcnow
from ledgerdesk.errors import InvalidInput
from ledgerdesk.knowledge import fields
from ledgerdesk.knowledge.actions import (
    UNSET,
    do_create_article,
    do_delete_article,
    do_publish,
    do_set_category,
    do_unpublish,
    do_update_article,
)
from ledgerdesk.knowledge.queries import (
    ArticleFilter,
    access_article,
    all_articles,
    list_articles,
    list_categories,
    list_versions,
    require_kb_reader,
    vote_stats,
)
from ledgerdesk.knowledge.schemas import (
    ArticleCreate,
    ArticleOut,
    ArticlePage,
    ArticleStatus,
    ArticleUpdate,
    ArticleUpdated,
    CategoryOut,
    CategoryUpdate,
    KnowledgeExport,
    VersionOut,
    VoteStatsOut,
)
from ledgerdesk.server.deps import Actor, ReadSession, Uow
from ledgerdesk.server.types import PathId, Tag

router = APIRouter(prefix="/kb", tags=["knowledge base"])


def _locale(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return fields.clean_locale(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), details=[{"field": "locale", "message": str(exc)}]) from None


@router.get("/articles", response_model=ArticlePage)
async def get_articles(
    actor: Actor,
    session: ReadSession,
    locale: Annotated[str | None, Query(max_length=35)] = None,
    category: Annotated[str | None, Query(max_length=80)] = None,
    status_: Annotated[ArticleStatus | None, Query(alias="status")] = None,
    slug: Annotated[str | None, Query(max_length=120)] = None,
    tag: Tag | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> ArticlePage:
    """Drafts and published articles, newest first; filter by locale, category, status, tag."""
    require_kb_reader(actor)
    if q is not None and "\x00" in q:
        raise InvalidInput("q must not contain NUL characters")
    where = ArticleFilter(
        locale=_locale(locale), category=category, status=status_, slug=slug, tag=tag, q=q
    )
    rows, next_cursor = await list_articles(session, where, cursor, limit)
    return ArticlePage(items=[ArticleOut.of(row) for row in rows], next_cursor=next_cursor)


@router.post("/articles", status_code=status.HTTP_201_CREATED, response_model=ArticleOut)
async def create_article(payload: ArticleCreate, actor: Actor, uow: Uow) -> ArticleOut:
    article = await do_create_article(
        uow,
        actor=actor,
        slug=payload.slug,
        locale=payload.locale,
        title=payload.title,
        body=payload.body,
        category=payload.category,
        tags=payload.tags,
        status=payload.status,
    )
    await uow.commit()
    return ArticleOut.of(article)


@router.get("/articles/{article_id}", response_model=ArticleOut)
async def get_article(article_id: PathId, actor: Actor, session: ReadSession) -> ArticleOut:
    return ArticleOut.of(await access_article(session, actor, article_id))


@router.patch("/articles/{article_id}", response_model=ArticleUpdated)
async def update_article(
    article_id: PathId, payload: ArticleUpdate, actor: Actor, uow: Uow
) -> ArticleUpdated:
    """Change some fields; send ``version`` to refuse overwriting a newer edit (409)."""
    article = await access_article(uow.session, actor, article_id)
    given = payload.model_dump(exclude_unset=True)
    for name, value in given.items():
        if value is None and name != "version":
            raise InvalidInput(
                f"{name} cannot be null", details=[{"field": name, "message": "null"}]
            )
    changed = await do_update_article(
        uow,
        actor=actor,
        article=article,
        title=given.get("title", UNSET),
        body=given.get("body", UNSET),
        category=given.get("category", UNSET),
        tags=given.get("tags", UNSET),
        status=given.get("status", UNSET),
        expected_version=payload.version,
    )
    await uow.commit()
    return ArticleUpdated(article=ArticleOut.of(article), changed=changed)


@router.delete("/articles/{article_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_article(article_id: PathId, actor: Actor, uow: Uow) -> Response:
    article = await access_article(uow.session, actor, article_id)
    await do_delete_article(uow, actor=actor, article=article)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/articles/{article_id}/publish", response_model=ArticleOut)
async def publish_article(article_id: PathId, actor: Actor, uow: Uow) -> ArticleOut:
    article = await access_article(uow.session, actor, article_id)
    await do_publish(uow, actor=actor, article=article)
    await uow.commit()
    return ArticleOut.of(article)


@router.post("/articles/{article_id}/unpublish", response_model=ArticleOut)
async def unpublish_article(article_id: PathId, actor: Actor, uow: Uow) -> ArticleOut:
    article = await access_article(uow.session, actor, article_id)
    await do_unpublish(uow, actor=actor, article=article)
    await uow.commit()
    return ArticleOut.of(article)


@router.get("/articles/{article_id}/versions", response_model=list[VersionOut])
async def get_versions(article_id: PathId, actor: Actor, session: ReadSession) -> list[VersionOut]:
    """Every saved version, newest first, with who saved it and when."""
    await access_article(session, actor, article_id)
    return [VersionOut.of(row) for row in await list_versions(session, article_id)]


@router.get("/articles/{article_id}/votes", response_model=VoteStatsOut)
async def get_votes(article_id: PathId, actor: Actor, session: ReadSession) -> VoteStatsOut:
    """ "Was this helpful?" counts and the latest comments."""
    await access_article(session, actor, article_id)
    return VoteStatsOut.of(await vote_stats(session, article_id))


@router.get("/categories", response_model=list[CategoryOut])
async def get_categories(actor: Actor, session: ReadSession) -> list[CategoryOut]:
    require_kb_reader(actor)
    return [CategoryOut.of(category) for category in await list_categories(session)]


@router.put("/categories/{slug}", response_model=CategoryOut)
async def put_category(
    slug: Annotated[str, Path(max_length=80)], payload: CategoryUpdate, actor: Actor, uow: Uow
) -> CategoryOut:
    """Name a category per locale (the names given replace the old ones)."""
    category = await do_set_category(
        uow, actor=actor, slug=slug, names=payload.names, position=payload.position
    )
    await uow.commit()
    return CategoryOut.of(category)


@router.get("/export", response_model=KnowledgeExport)
async def export_all(actor: Actor, session: ReadSession) -> KnowledgeExport:
    """Every article (drafts included) and category as one JSON document."""
    require_kb_reader(actor)
    return KnowledgeExport(
        exported_at=utcnow(),
        categories=[CategoryOut.of(c) for c in await list_categories(session)],
        articles=[ArticleOut.of(a) for a in await all_articles(session)],
    )
