"""The console's knowledge-base editor: /kb (the list) and /kb/{slug}/{locale} (one article).

Thin like api.py: the permission checks and validation are the knowledge actions'
and queries' (every agent reads, admins and supervisors edit). A refused save shows
the form again with what was typed, so nothing is lost.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledgerdesk.errors import Conflict, InvalidInput, NotFound
from ledgerdesk.knowledge import fields
from ledgerdesk.knowledge.actions import do_publish, do_unpublish, do_update_article
from ledgerdesk.knowledge.models import PUBLISHED, STATUSES, Article
from ledgerdesk.knowledge.queries import (
    EDITOR_ROLES,
    ArticleFilter,
    find_article,
    list_articles,
    list_categories,
    list_versions,
    require_kb_editor,
    require_kb_reader,
)
from ledgerdesk.knowledge.rendering import render_markdown
from ledgerdesk.server.deps import ReadSession, Uow
from ledgerdesk.web.deps import ConsoleUser, User, sidebar
from ledgerdesk.web.rendering import link_policy, render

router = APIRouter(include_in_schema=False)
PAGE = "/kb"
PAGE_SIZE = 50


def editor_url(slug: str, locale: str) -> str:
    return f"{PAGE}/{quote(slug, safe='')}/{quote(locale, safe='')}"


def help_center_url(article: Article) -> str:
    return f"/help/{quote(article.locale, safe='')}/a/{quote(article.slug, safe='')}"


def _locale(value: str) -> str:
    try:
        return fields.clean_locale(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), details=[{"field": "locale", "message": str(exc)}]) from None


async def _article(session: Any, slug: str, locale: str) -> Article:
    article = await find_article(session, slug, _locale(locale))
    if article is None:
        raise NotFound(f"there is no article {slug!r} in {locale}")
    return article


def _preview(request: Request, body: str, locale: str) -> str:
    return render_markdown(body, link_policy(request), out_url=f"/help/{locale}/out")


def _can_edit(user: ConsoleUser) -> bool:
    return user.agent.role in EDITOR_ROLES


@router.get(PAGE)
async def kb_list(
    request: Request,
    user: User,
    session: ReadSession,
    status: Annotated[str | None, Query(max_length=20)] = None,
    locale: Annotated[str | None, Query(max_length=35)] = None,
    category: Annotated[str | None, Query(max_length=80)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    require_kb_reader(user.principal)
    if status and status not in STATUSES:
        raise InvalidInput(f"status must be one of: {', '.join(STATUSES)}")
    query = (q or "").replace("\x00", "").strip() or None
    where = ArticleFilter(
        locale=_locale(locale) if locale else None,
        category=category or None,
        status=status or None,
        q=query,
    )
    rows, next_cursor = await list_articles(session, where, cursor, PAGE_SIZE)
    params = {"status": status or "", "locale": locale or "", "category": category or ""}
    params["q"] = query or ""
    context = {
        **await sidebar(session, user),
        "view": "kb",
        "articles": rows,
        "categories": await list_categories(session),
        "statuses": STATUSES,
        "filters": params,
        "next_url": (
            PAGE + "?" + urlencode({**params, "cursor": next_cursor}) if next_cursor else None
        ),
        "editor_url": editor_url,
        "can_edit": _can_edit(user),
    }
    return render(request, "kb_editor/list.html", context)


async def _edit_page(
    request: Request,
    user: ConsoleUser,
    session: Any,
    article: Article,
    *,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    shown = form or {
        "title": article.title,
        "body": article.body,
        "category": article.category,
        "tags": ", ".join(article.tags),
        "version": article.version,
    }
    context = {
        **await sidebar(session, user),
        "view": "kb",
        "article": article,
        "form": shown,
        "preview": _preview(request, str(shown["body"]), article.locale),
        "versions": await list_versions(session, article.id),
        "categories": await list_categories(session),
        "action": editor_url(article.slug, article.locale),
        "help_center_url": help_center_url(article) if article.status == PUBLISHED else None,
        "can_edit": _can_edit(user),
        "error": error,
        "notice": notice,
    }
    return render(request, "kb_editor/edit.html", context, status_code=status_code)


@router.get(PAGE + "/{slug}/{locale}")
async def kb_edit(
    request: Request,
    user: User,
    session: ReadSession,
    slug: str,
    locale: str,
    saved: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    require_kb_reader(user.principal)
    article = await _article(session, slug, locale)
    notices = {
        "saved": "saved",
        "unchanged": "unchanged",
        "published": "published",
        "unpublished": "unpublished",
    }
    return await _edit_page(request, user, session, article, notice=notices.get(saved or ""))


@router.post(PAGE + "/{slug}/{locale}")
async def kb_save(
    request: Request,
    user: User,
    uow: Uow,
    slug: str,
    locale: str,
    title: Annotated[str, Form(max_length=1000)] = "",
    body: Annotated[str, Form(max_length=200_000)] = "",
    category: Annotated[str, Form(max_length=200)] = "",
    tags: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
) -> Response:
    require_kb_editor(user.principal)
    article = await _article(uow.session, slug, locale)
    form: dict[str, Any] = {"title": title, "body": body, "category": category, "tags": tags}
    form["version"] = version or article.version
    try:
        changed = await do_update_article(
            uow,
            actor=user.principal,
            article=article,
            title=title,
            body=body,
            category=category,
            tags=[tag.strip() for tag in tags.split(",") if tag.strip()],
            expected_version=version,
        )
        await uow.commit()
    except (InvalidInput, Conflict) as exc:
        await uow.rollback()
        # Reloaded after the rollback, so the page shows the stored version beside
        # the text the editor typed (kept in the form).
        article = await _article(uow.session, slug, locale)
        return await _edit_page(
            request,
            user,
            uow.session,
            article,
            form=form,
            error=exc.message,
            status_code=exc.status_code,
        )
    done = "saved" if changed else "unchanged"
    return RedirectResponse(
        editor_url(article.slug, article.locale) + f"?saved={done}", status_code=303
    )


@router.post(PAGE + "/{slug}/{locale}/preview")
async def kb_preview(
    request: Request,
    user: User,
    slug: str,
    locale: str,
    body: Annotated[str, Form(max_length=200_000)] = "",
) -> Response:
    """The Markdown as the help center would show it (sanitised), for htmx."""
    require_kb_reader(user.principal)
    return HTMLResponse(_preview(request, body, _locale(locale)))


async def _set_published(
    user: ConsoleUser, uow: Any, slug: str, locale: str, publish: bool
) -> Response:
    require_kb_editor(user.principal)
    article = await _article(uow.session, slug, locale)
    if publish:
        await do_publish(uow, actor=user.principal, article=article)
    else:
        await do_unpublish(uow, actor=user.principal, article=article)
    await uow.commit()
    done = "published" if publish else "unpublished"
    return RedirectResponse(
        editor_url(article.slug, article.locale) + f"?saved={done}", status_code=303
    )


@router.post(PAGE + "/{slug}/{locale}/publish")
async def kb_publish(user: User, uow: Uow, slug: str, locale: str) -> Response:
    return await _set_published(user, uow, slug, locale, True)


@router.post(PAGE + "/{slug}/{locale}/unpublish")
async def kb_unpublish(user: User, uow: Uow, slug: str, locale: str) -> Response:
    return await _set_published(user, uow, slug, locale, False)
