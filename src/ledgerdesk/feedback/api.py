"""Routes of the feedback package. Thin: parse, check access, call an action, commit.

- ``/api/v1/feedback/settings``: admins read and change the settings (JSON);
- ``/api/v1/feedback/surveys/{token}``: a survey link's JSON twin (no login: the
  signed token is the credential);
- ``/api/v1/feedback/conversations/{id}/survey``: the team sees a conversation's survey;
- ``/survey/{token}``: the public, bilingual page behind the link (GET form, POST answer);
- ``/admin/feedback``: the admins' console page.

The widget's answer comes through ``/widget/v1/survey`` (channels/webchat/api.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.conversations.models import Conversation
from ledgerdesk.conversations.queries import access_conversation
from ledgerdesk.errors import InvalidInput, LedgerdeskError, NotFound, RateLimited
from ledgerdesk.feedback.actions import clean_comment, do_answer_survey, do_update_feedback_settings
from ledgerdesk.feedback.models import Survey, SurveyStatus
from ledgerdesk.feedback.queries import (
    access_survey_by_token,
    feedback_settings,
    recent_answers,
    survey_of,
)
from ledgerdesk.feedback.schemas import (
    MAX_COMMENT_CHARS,
    FeedbackSettings,
    SurveyAnswerIn,
    SurveyOut,
    SurveyRow,
)
from ledgerdesk.server.deps import Actor, ReadSession, State, Uow, client_ip
from ledgerdesk.server.state import AppState
from ledgerdesk.server.types import PathId
from ledgerdesk.web import i18n
from ledgerdesk.web.deps import User, sidebar
from ledgerdesk.web.rendering import render

router = APIRouter(prefix="/feedback", tags=["feedback"])
pages = APIRouter(include_in_schema=False)
ADMIN_PAGE = "/admin/feedback"
MAX_TOKEN_CHARS = 200


def _now() -> datetime:
    return datetime.now(UTC)


async def _check_rate(request: Request, state: AppState) -> None:
    """Answers per address: the link is the credential, so a script could replay it."""
    limiter = state.rate_limits.limiter(
        "survey-answers:ip", state.settings.survey_answers_per_minute_per_ip, 60.0
    )
    wait = await limiter.hit(client_ip(request) or "unknown")
    if wait is not None:
        raise RateLimited(
            i18n.gettext("Too many answers from your address; try again in %(n)d seconds.")
            % {"n": wait},
            retry_after=wait,
        )


def _check_token_size(token: str) -> None:
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidInput("this survey link is not valid; it may have been cut short or changed")


# JSON API --------------------------------------------------------------------------


@router.get("/settings")
async def get_settings(actor: Actor, session: ReadSession) -> FeedbackSettings:
    actor.require_admin()
    return await feedback_settings(session)


@router.put("/settings")
async def put_settings(payload: FeedbackSettings, actor: Actor, uow: Uow) -> FeedbackSettings:
    settings = await do_update_feedback_settings(uow, actor=actor, settings=payload)
    await uow.commit()
    return settings


@router.get("/surveys/{token}")
async def get_survey_by_token(token: str, state: State, session: ReadSession) -> SurveyOut:
    _check_token_size(token)
    survey, conversation = await access_survey_by_token(
        session, state.secret_key, token, now=_now()
    )
    return SurveyOut.of(survey, conversation.language)


@router.post("/surveys/{token}")
async def answer_survey_by_token(
    request: Request, token: str, payload: SurveyAnswerIn, state: State, uow: Uow
) -> SurveyOut:
    _check_token_size(token)
    await _check_rate(request, state)
    now = _now()
    survey, conversation = await access_survey_by_token(
        uow.session, state.secret_key, token, now=now, write=True
    )
    await do_answer_survey(
        uow,
        survey=survey,
        conversation=conversation,
        rating=payload.rating,
        comment=payload.comment,
        now=now,
    )
    out = SurveyOut.of(survey, conversation.language)
    await uow.commit()
    return out


@router.get("/conversations/{conversation_id}/survey")
async def get_conversation_survey(
    conversation_id: PathId, actor: Actor, session: ReadSession
) -> SurveyRow:
    actor.require_agent()
    conversation = await access_conversation(session, actor, conversation_id)
    survey = await survey_of(session, conversation.id)
    if survey is None:
        raise NotFound(f"conversation {conversation_id} has no survey")
    return SurveyRow.of(survey)


# The public page -------------------------------------------------------------------


def _page_language(request: Request, lang: str | None, conversation_language: str | None) -> None:
    if lang in i18n.UI_LANGUAGES:
        i18n.set_language(lang)
    elif conversation_language:
        zh = conversation_language.lower().startswith("zh")
        i18n.set_language("zh_Hans" if zh else "en")
    else:
        i18n.set_language(i18n.pick_language(request.headers.get("accept-language")))


def _view(survey: Survey) -> dict[str, Any]:
    """What the page shows of a survey, read while the row is fresh (a rollback expires it)."""
    changeable = survey.changeable_until is not None and _now() < survey.changeable_until
    return {
        "status": survey.status,
        "rating": survey.rating,
        "comment": survey.comment,
        "changeable_until": survey.changeable_until,
        "can_answer": survey.status == SurveyStatus.SENT
        or (survey.status == SurveyStatus.ANSWERED and changeable),
    }


def _page(
    request: Request,
    token: str,
    *,
    survey: dict[str, Any] | None = None,
    status_code: int = 200,
    error: str | None = None,
    rating: int | None = None,
    comment: str | None = None,
    saved: bool = False,
) -> Response:
    context: dict[str, Any] = {
        "token": token,
        "survey": survey,
        "error": error,
        "rating": rating if rating is not None else (survey or {}).get("rating"),
        "comment": comment if comment is not None else ((survey or {}).get("comment") or ""),
        "saved": saved,
        "max_comment": MAX_COMMENT_CHARS,
    }
    response = render(request, "feedback/survey.html", context, status_code=status_code)
    # The token is in the URL: keep it out of other sites' Referer headers and caches.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


async def _load_for_page(
    state: AppState, token: str, *, write_session: AsyncSession | None = None
) -> tuple[Survey, Conversation]:
    """The survey behind a link: read it, or lock it in ``write_session`` to answer."""
    _check_token_size(token)
    if write_session is not None:
        return await access_survey_by_token(
            write_session, state.secret_key, token, now=_now(), write=True
        )
    async with state.db.sessionmaker() as session:
        return await access_survey_by_token(session, state.secret_key, token, now=_now())


@pages.get("/survey/{token}")
async def survey_page(
    request: Request,
    token: str,
    state: State,
    lang: Annotated[str | None, Query(max_length=10)] = None,
    rating: Annotated[str | None, Query(max_length=2)] = None,
) -> Response:
    """The form. ``?rating=N`` (a one-click link in an email) preselects, never stores:
    link scanners open every link in a mail."""
    try:
        survey, conversation = await _load_for_page(state, token)
    except LedgerdeskError as exc:
        _page_language(request, lang, None)
        return _page(request, token, status_code=exc.status_code, error=exc.message)
    _page_language(request, lang, conversation.language)
    chosen = int(rating) if rating in {"1", "2", "3", "4", "5"} else None
    return _page(request, token, survey=_view(survey), rating=chosen)


@pages.post("/survey/{token}")
async def survey_answer(
    request: Request,
    token: str,
    state: State,
    uow: Uow,
    lang: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    raw_rating = str(form.get("rating") or "")
    raw_comment = str(form.get("comment") or "")
    try:
        survey, conversation = await _load_for_page(state, token, write_session=uow.session)
    except LedgerdeskError as exc:
        _page_language(request, lang, None)
        return _page(request, token, status_code=exc.status_code, error=exc.message)
    _page_language(request, lang, conversation.language)
    before = _view(survey)
    rating = int(raw_rating) if raw_rating in {"1", "2", "3", "4", "5"} else None
    try:
        await _check_rate(request, state)
        if rating is None:
            raise InvalidInput(i18n.gettext("Choose a rating from 1 to 5."))
        if len(raw_comment.strip()) > MAX_COMMENT_CHARS:
            raise InvalidInput(
                i18n.gettext("The comment can have at most %(n)d characters.")
                % {"n": MAX_COMMENT_CHARS}
            )
        clean_comment(raw_comment)
        await do_answer_survey(
            uow,
            survey=survey,
            conversation=conversation,
            rating=rating,
            comment=raw_comment,
        )
        await uow.commit()
    except LedgerdeskError as exc:
        await uow.rollback()
        # What the customer wrote stays in the form.
        return _page(
            request,
            token,
            survey=before,
            status_code=exc.status_code,
            error=exc.message,
            rating=rating,
            comment=raw_comment.replace("\x00", ""),
        )
    return _page(request, token, survey=_view(survey), saved=True)


# The admin page --------------------------------------------------------------------


def _back(error: str | None = None, saved: bool = False) -> Response:
    query = f"?error={quote(error)}" if error else ("?saved=1" if saved else "")
    return RedirectResponse(ADMIN_PAGE + query, status_code=303)


@pages.get(ADMIN_PAGE)
async def admin_page(
    request: Request,
    user: User,
    session: ReadSession,
    error: Annotated[str | None, Query(max_length=500)] = None,
    saved: Annotated[str | None, Query(max_length=1)] = None,
) -> Response:
    user.principal.require_admin()
    context = {
        **await sidebar(session, user),
        "settings": await feedback_settings(session),
        "answers": await recent_answers(session),
        "error": error,
        "saved": bool(saved),
    }
    return render(request, "admin_feedback/index.html", context)


def _form_int(form: Any, name: str) -> int | str:
    value = str(form.get(name) or "").strip()
    return int(value) if value.isdigit() and len(value) < 7 else value


@pages.post(ADMIN_PAGE)
async def admin_save(request: Request, user: User, uow: Uow) -> Response:
    user.principal.require_admin()
    form = await request.form(max_files=0, max_fields=20)
    categories = [
        part.strip()
        for part in str(form.get("follow_up_categories") or "").replace("\n", ",").split(",")
        if part.strip()
    ]
    data = {
        "survey_enabled": form.get("survey_enabled") == "on",
        "survey_delay_minutes": _form_int(form, "survey_delay_minutes"),
        "change_window_hours": _form_int(form, "change_window_hours"),
        "follow_up_enabled": form.get("follow_up_enabled") == "on",
        "follow_up_days": _form_int(form, "follow_up_days"),
        "follow_up_categories": categories,
        "follow_up_texts": {
            "en": str(form.get("follow_up_text_en") or ""),
            "zh": str(form.get("follow_up_text_zh") or ""),
        },
    }
    try:
        settings = FeedbackSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return _back(f"{where}: {first['msg']}")
    try:
        await do_update_feedback_settings(uow, actor=user.principal, settings=settings)
        await uow.commit()
    except LedgerdeskError as exc:
        await uow.rollback()
        return _back(exc.message)
    return _back(saved=True)
