"""The console page /analytics/gaps and its "create a draft article" form."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from ledgerdesk.analytics.gaps.actions import do_create_gap_draft, parse_question_ids
from ledgerdesk.analytics.gaps.models import ARTICLE_VOTE, HANDOFF, LOW_RATING
from ledgerdesk.analytics.gaps.queries import MAX_DAYS, access_gaps, gap_report, parse_period
from ledgerdesk.analytics.gaps.schemas import article_api_url, conversation_url
from ledgerdesk.errors import LedgerdeskError
from ledgerdesk.knowledge.models import Article
from ledgerdesk.server.deps import ReadSession, Uow
from ledgerdesk.web import i18n
from ledgerdesk.web.deps import User, sidebar
from ledgerdesk.web.rendering import render

router = APIRouter(include_in_schema=False)
PAGE = "/analytics/gaps"
PRESETS = (7, 30, 90)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _back(params: dict[str, str]) -> Response:
    query = urlencode({key: value for key, value in params.items() if value})
    return RedirectResponse(PAGE + (f"?{query}" if query else ""), status_code=303)


@router.get(PAGE)
async def gaps_page(
    request: Request,
    user: User,
    session: ReadSession,
    days: Annotated[int | None, Query(ge=1, le=MAX_DAYS)] = None,
    start: date | None = None,
    end: date | None = None,
    created: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    error: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    access_gaps(user.principal)
    period = parse_period(days=days, start=start, end=end)
    report = await gap_report(session, user.principal, period)
    created_article = await session.get(Article, created) if created else None
    context = {
        **await sidebar(session, user),
        "view": "analytics",
        "report": report,
        "presets": PRESETS,
        "custom": start is not None,
        "period_params": urlencode(
            {"start": period.start.isoformat(), "end": period.end.isoformat()}
        ),
        "conversation_url": conversation_url,
        "article_api_url": article_api_url,
        "created": created_article,
        "source_names": {
            HANDOFF: i18n.gettext("assistant hand-off"),
            LOW_RATING: i18n.gettext("low rating"),
            ARTICLE_VOTE: i18n.gettext("“not helpful” vote"),
        },
        "error": error,
    }
    return render(request, "analytics_gaps/index.html", context)


@router.post(PAGE + "/drafts")
async def create_draft(
    user: User,
    uow: Uow,
    question_ids: Annotated[str, Form(max_length=40_000)],
    start: Annotated[str, Form(max_length=10)] = "",
    end: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    # Only to go back to the same period: two dates, or nothing (the default period).
    period = {"start": start, "end": end} if _DATE.match(start) and _DATE.match(end) else {}
    try:
        ids = parse_question_ids(question_ids)
        article = await do_create_gap_draft(uow, actor=user.principal, question_ids=ids)
        await uow.commit()
    except LedgerdeskError as exc:
        await uow.rollback()
        if exc.status_code in (401, 403):
            raise
        return _back({**period, "error": exc.message})
    return _back({**period, "created": str(article.id)})
