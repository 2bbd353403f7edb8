"""The public help center: server-rendered pages for everyone, no login.

    /help                          picks a language (?lang=, cookie, Accept-Language)
    /help/{locale}/                categories and their articles
    /help/{locale}/c/{category}    one category
    /help/{locale}/a/{slug}        one article (another language's, said so, if needed)
    /help/{locale}/search?q=       search that reads Chinese and English
    /help/{locale}/a/{slug}/vote   "was this helpful?" (POST, rate-limited per address)
    /help/{locale}/out?u=          the warning page in front of outside links

Only published articles are ever shown. Article bodies are Markdown rendered
without raw HTML and then sanitised (knowledge/rendering.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from babel.dates import format_date
from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from ledgerdesk.accounts.ratelimit import RateLimiter, RateLimits
from ledgerdesk.errors import InvalidInput, LedgerdeskError, NotFound, PermissionDenied, RateLimited
from ledgerdesk.knowledge.actions import do_vote
from ledgerdesk.knowledge.locales import (
    DEFAULT_LOCALE,
    accept_language,
    best_locale,
    canonical_locale,
    display_name,
    is_locale,
    ui_language,
)
from ledgerdesk.knowledge.models import Category
from ledgerdesk.knowledge.queries import (
    category_name,
    list_categories,
    other_versions,
    published_article,
    published_articles,
    published_locales,
)
from ledgerdesk.knowledge.rendering import render_markdown
from ledgerdesk.knowledge.search import search_articles
from ledgerdesk.server.deps import ReadSession, State, client_ip, unit_of_work
from ledgerdesk.web import i18n, links
from ledgerdesk.web.rendering import link_policy, render

router = APIRouter(prefix="/help", include_in_schema=False)

LANGUAGE_COOKIE = "ld_help_lang"
VISITOR_COOKIE = "ld_visitor"
VOTES_PER_MINUTE = 20


def is_help_page(request: Request) -> bool:
    return request.url.path == "/help" or request.url.path.startswith("/help/")


def install(app: FastAPI, limits: RateLimits | None = None) -> None:
    app.state.kb_vote_limiter = (limits or RateLimits()).limiter("kb-votes", VOTES_PER_MINUTE, 60.0)
    app.include_router(router)


def _page_locale(raw: str) -> str:
    try:
        return canonical_locale(raw)
    except ValueError:
        raise NotFound(f"the help center has no language {raw[:40]!r}") from None


def _redirect_if_not_canonical(request: Request, raw: str, locale: str) -> Response | None:
    if raw == locale:
        return None
    path = request.url.path.replace(f"/help/{raw}", f"/help/{locale}", 1)
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(path + query, status_code=308)


async def _context(request: Request, session: Any, locale: str) -> dict[str, Any]:
    """What every help center page shows: the language switch, the search box."""
    i18n.set_language(ui_language(locale))
    available = await published_locales(session)
    if DEFAULT_LOCALE not in available:
        available.insert(0, DEFAULT_LOCALE)
    return {
        "locale": locale,
        "locale_name": display_name(locale),
        "languages": [(tag, display_name(tag)) for tag in available],
        "q": "",
    }


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    response = render(request, template, context, status)
    locale = context.get("locale")
    if isinstance(locale, str) and request.cookies.get(LANGUAGE_COOKIE) != locale:
        # Remember the last language read, for the next visit to /help.
        response.set_cookie(
            LANGUAGE_COOKIE, locale, max_age=365 * 86400, samesite="lax", httponly=True
        )
    return response


def _categories_by_slug(categories: list[Category]) -> dict[str, Category]:
    return {category.slug: category for category in categories}


@router.get("")
async def help_root(
    request: Request,
    session: ReadSession,
    lang: Annotated[str | None, Query(max_length=35)] = None,
) -> Response:
    """Send the visitor to the help center in the best language we have for them."""
    available = await published_locales(session) or [DEFAULT_LOCALE]
    wanted = [lang or "", request.cookies.get(LANGUAGE_COOKIE, "")[:35]]
    wanted += accept_language(request.headers.get("accept-language"))
    chosen = best_locale([tag for tag in wanted if tag], available)
    return RedirectResponse(f"/help/{chosen or DEFAULT_LOCALE}/", status_code=303)


@router.get("/{raw_locale}")
async def locale_without_slash(raw_locale: str) -> Response:
    return RedirectResponse(f"/help/{quote(raw_locale[:35], safe='')}/", status_code=308)


@router.get("/{raw_locale}/")
async def home(request: Request, session: ReadSession, raw_locale: str) -> Response:
    locale = _page_locale(raw_locale)
    if (redirect := _redirect_if_not_canonical(request, raw_locale, locale)) is not None:
        return redirect
    context = await _context(request, session, locale)
    categories = await list_categories(session)
    shown = await published_articles(session, locale)
    groups: dict[str, list[Any]] = {}
    for item in shown:
        groups.setdefault(item.article.category, []).append(item)
    order = {category.slug: (category.position, category.slug) for category in categories}
    by_slug = _categories_by_slug(categories)
    sections = [
        {
            "slug": slug,
            "name": category_name(by_slug.get(slug), slug, locale),
            "articles": items[:6],
            "count": len(items),
        }
        for slug, items in sorted(groups.items(), key=lambda kv: order.get(kv[0], (1 << 30, kv[0])))
    ]
    return _page(request, "helpcenter/home.html", {**context, "sections": sections})


@router.get("/{raw_locale}/c/{category}")
async def category_page(
    request: Request, session: ReadSession, raw_locale: str, category: str
) -> Response:
    locale = _page_locale(raw_locale)
    if (redirect := _redirect_if_not_canonical(request, raw_locale, locale)) is not None:
        return redirect
    context = await _context(request, session, locale)
    shown = await published_articles(session, locale, category[:80])
    if not shown:
        raise NotFound(i18n.gettext("This category has no articles."))
    by_slug = _categories_by_slug(await list_categories(session))
    name = category_name(by_slug.get(category), category, locale)
    return _page(
        request,
        "helpcenter/category.html",
        {**context, "category": category, "category_name": name, "articles": shown},
    )


def _visitor_key(state_secret: str, token: str) -> str:
    return hmac.new(
        state_secret.encode(), f"kb-visitor:{token}".encode(), hashlib.sha256
    ).hexdigest()


@router.get("/{raw_locale}/a/{slug}")
async def article_page(
    request: Request,
    session: ReadSession,
    raw_locale: str,
    slug: str,
    voted: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    locale = _page_locale(raw_locale)
    if (redirect := _redirect_if_not_canonical(request, raw_locale, locale)) is not None:
        return redirect
    context = await _context(request, session, locale)
    shown = await published_article(session, slug[:120], locale)
    article = shown.article
    by_slug = _categories_by_slug(await list_categories(session))
    related = [
        item
        for item in await published_articles(session, locale, article.category)
        if item.article.slug != article.slug
    ][:5]
    versions = await other_versions(session, article.slug)
    body = render_markdown(article.body, link_policy(request), out_url=f"/help/{locale}/out")
    context.update(
        {
            "article": article,
            "fallback": shown.fallback,
            "article_language": display_name(article.locale),
            "body_html": body,
            "category_name": category_name(by_slug.get(article.category), article.category, locale),
            "related": related,
            "versions": [(tag, display_name(tag)) for tag in versions],
            "updated": format_date(article.updated_at, "medium", locale=i18n.current_language()),
            "voted": voted in ("yes", "no"),
        }
    )
    return _page(request, "helpcenter/article.html", context)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


@router.post("/{raw_locale}/a/{slug}/vote")
async def vote(
    request: Request,
    state: State,
    raw_locale: str,
    slug: str,
    helpful: Annotated[str, Form(max_length=5)],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """One vote per visitor and article (a cookie tells visitors apart); a new one replaces it."""
    locale = _page_locale(raw_locale)
    i18n.set_language(ui_language(locale))
    if not _same_origin(request):
        raise PermissionDenied(
            i18n.gettext("Votes are only accepted from the help center's own pages.")
        )
    if helpful not in ("yes", "no"):
        raise InvalidInput("helpful must be yes or no")
    limiter: RateLimiter = request.app.state.kb_vote_limiter
    wait = await limiter.hit(client_ip(request) or "unknown")
    if wait is not None:
        raise RateLimited(
            i18n.gettext("Too many votes from your address; try again in a minute."),
            retry_after=wait,
        )
    token = request.cookies.get(VISITOR_COOKIE, "")
    if not (16 <= len(token) <= 64) or not token.replace("-", "").replace("_", "").isalnum():
        token = secrets.token_urlsafe(18)
    async with unit_of_work(state) as uow:
        shown = await published_article(uow.session, slug[:120], locale)
        await do_vote(
            uow,
            article=shown.article,
            visitor_key=_visitor_key(state.secret_key, token),
            helpful=helpful == "yes",
            comment=comment,
        )
        await uow.commit()
    response = RedirectResponse(
        f"/help/{locale}/a/{quote(slug[:120])}?voted={helpful}#feedback", status_code=303
    )
    response.set_cookie(
        VISITOR_COOKIE,
        token,
        max_age=365 * 86400,
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
    )
    return response


@router.get("/{raw_locale}/search")
async def search_page(
    request: Request,
    session: ReadSession,
    raw_locale: str,
    q: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    locale = _page_locale(raw_locale)
    if (redirect := _redirect_if_not_canonical(request, raw_locale, locale)) is not None:
        return redirect
    context = await _context(request, session, locale)
    query = q.replace("\x00", "").strip()
    hits = await search_articles(session, query, locale, limit=20) if query else []
    by_slug = _categories_by_slug(await list_categories(session))
    results = [
        {
            "hit": hit,
            "category_name": category_name(by_slug.get(hit.category), hit.category, locale),
            "language": display_name(hit.locale),
        }
        for hit in hits
    ]
    return _page(request, "helpcenter/search.html", {**context, "q": query, "results": results})


@router.get("/{raw_locale}/out")
async def outside_link(
    request: Request,
    session: ReadSession,
    raw_locale: str,
    u: Annotated[str, Query(min_length=1, max_length=4096)],
) -> Response:
    """Say where an outside link really goes before the visitor opens it."""
    locale = _page_locale(raw_locale)
    context = await _context(request, session, locale)
    link = links.parse_link(u, link_policy(request))
    if link.href is None:
        raise InvalidInput(i18n.gettext("This address cannot be opened."))
    response = _page(
        request,
        "helpcenter/out.html",
        {**context, "link": link, "shown": links.visible_text(u)},
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def error_response(request: Request, exc: Exception) -> Response | None:
    """Help center errors as help center pages (in the page's language)."""
    if not isinstance(exc, LedgerdeskError):
        return None
    parts = request.url.path.split("/")
    locale = DEFAULT_LOCALE
    if len(parts) > 2 and is_locale(parts[2]):
        locale = canonical_locale(parts[2])
    i18n.set_language(ui_language(locale))
    context = {
        "locale": locale,
        "locale_name": display_name(locale),
        "languages": [],
        "q": "",
        "message": exc.message,
        "status": exc.status_code,
    }
    response = render(request, "helpcenter/error.html", context, exc.status_code)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response
