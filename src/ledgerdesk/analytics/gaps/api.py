"""REST routes of the help-center gaps: GET /api/v1/analytics/gaps, POST .../drafts."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status

from ledgerdesk.analytics.gaps.actions import do_create_gap_draft
from ledgerdesk.analytics.gaps.queries import MAX_DAYS, gap_report, parse_period
from ledgerdesk.analytics.gaps.schemas import DraftIn, DraftOut, GapsOut
from ledgerdesk.server.deps import Actor, ReadSession, Uow

router = APIRouter(prefix="/analytics/gaps", tags=["analytics"])


@router.get("", response_model=GapsOut)
async def get_gaps(
    actor: Actor,
    session: ReadSession,
    days: Annotated[int | None, Query(ge=1, le=MAX_DAYS)] = None,
    start: date | None = None,
    end: date | None = None,
) -> GapsOut:
    """The questions the help center did not answer in a period, grouped by meaning."""
    period = parse_period(days=days, start=start, end=end)
    return GapsOut.of(await gap_report(session, actor, period))


@router.post("/drafts", status_code=status.HTTP_201_CREATED, response_model=DraftOut)
async def create_draft(payload: DraftIn, actor: Actor, uow: Uow) -> DraftOut:
    """A draft article (never published) from a group's questions."""
    article = await do_create_gap_draft(uow, actor=actor, question_ids=payload.question_ids)
    await uow.commit()
    return DraftOut.of(article)
