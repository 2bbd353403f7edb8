"""Reads of surveys and of the feedback settings; the permission checks (access_*)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.models import SiteSetting
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.errors import LedgerdeskError, NotFound
from ledgerdesk.feedback.models import Survey, SurveyStatus
from ledgerdesk.feedback.schemas import FeedbackSettings
from ledgerdesk.feedback.tokens import BadToken, ExpiredToken, read_token

SETTINGS_KEY = "feedback"


class InvalidSurveyLink(LedgerdeskError):
    """A forged, changed or truncated link."""

    status_code = 403
    code = "invalid_survey_link"


class SurveyLinkGone(LedgerdeskError):
    """A genuine link that no longer works: expired, or replaced by a newer round."""

    status_code = 410
    code = "survey_link_gone"


async def feedback_settings(session: AsyncSession) -> FeedbackSettings:
    """The admin's settings over the defaults (a setting added later gets its default)."""
    row = await session.get(SiteSetting, SETTINGS_KEY)
    if row is None or not isinstance(row.value, dict):
        return FeedbackSettings()
    try:
        return FeedbackSettings.model_validate(row.value)
    except ValidationError:
        # Written by an older release with a field since removed: keep what still fits.
        known = {k: v for k, v in row.value.items() if k in FeedbackSettings.model_fields}
        try:
            return FeedbackSettings.model_validate(known)
        except ValidationError:
            return FeedbackSettings()


async def survey_of(
    session: AsyncSession, conversation_id: int, *, for_update: bool = False
) -> Survey | None:
    query = select(Survey).where(Survey.conversation_id == conversation_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def access_survey_by_token(
    session: AsyncSession, secret_key: str, token: str, *, now: datetime, write: bool = False
) -> tuple[Survey, Conversation]:
    """The survey a link points to, if the link is genuine, current and not expired."""
    try:
        content = read_token(secret_key, token, now=now)
    except BadToken as exc:
        raise InvalidSurveyLink(str(exc)) from None
    except ExpiredToken as exc:
        raise SurveyLinkGone(str(exc)) from None
    survey = await survey_of(session, content.conversation_id, for_update=write)
    conversation = await session.get(
        Conversation, content.conversation_id, with_for_update=True if write else None
    )
    if survey is None or conversation is None:
        # Signed by us, so the conversation existed: it was deleted since.
        raise SurveyLinkGone("this survey no longer exists")
    if survey.nonce != content.nonce:
        raise SurveyLinkGone(
            "this survey link was replaced by a newer one; use the latest link we sent"
        )
    return survey, conversation


async def access_customer_survey(
    session: AsyncSession, conversation: Conversation, *, write: bool = False
) -> Survey:
    """The survey of a conversation the caller already may see (access_conversation)."""
    survey = await survey_of(session, conversation.id, for_update=write)
    if survey is None or survey.status in (SurveyStatus.SCHEDULED,):
        raise NotFound(f"conversation {conversation.id} has no survey to answer")
    return survey


async def open_surveys_of_customer(
    session: AsyncSession, customer_id: int, conversation_ids: Sequence[int]
) -> list[Survey]:
    """Surveys sent to this customer and not answered yet (the widget shows their cards)."""
    if not conversation_ids:
        return []
    result = await session.execute(
        select(Survey)
        .where(
            Survey.customer_id == customer_id,
            Survey.conversation_id.in_(list(conversation_ids)),
            Survey.status == SurveyStatus.SENT,
        )
        .order_by(Survey.id)
    )
    return list(result.scalars())


async def recent_answers(session: AsyncSession, limit: int = 20) -> list[Survey]:
    result = await session.execute(
        select(Survey)
        .where(Survey.answered_at.is_not(None))
        .order_by(Survey.answered_at.desc(), Survey.id.desc())
        .limit(limit)
    )
    return list(result.scalars())
