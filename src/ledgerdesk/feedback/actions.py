"""Every change to surveys and to the feedback settings (docs/feedback.md).

Surveys follow the conversation's status. ``note_status_change`` is the one hook
in conversations/actions.py (and the automation rules' status change): it notes
the conversation on the unit of work, and last thing before the commit,
``_sync_surveys`` looks at the status each noted conversation ended with:

- solved: a survey is scheduled (one per conversation; an answered one is never
  asked again) as a durable job at solved_at + delay, and a follow-up job at
  solved_at + N days when the conversation's category is chosen;
- reopened: a survey not answered yet is cancelled, and both jobs with it.

Looking at the final status, not at each step, makes "solved, then reopened in the
same transaction" schedule nothing.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ledgerdesk.accounts.models import SiteSetting
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.conversations.models import Conversation, ConversationEvent
from ledgerdesk.conversations.status import Status
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput
from ledgerdesk.feedback.models import Survey, SurveyStatus
from ledgerdesk.feedback.queries import SETTINGS_KEY, feedback_settings, survey_of
from ledgerdesk.feedback.schemas import MAX_COMMENT_CHARS, FeedbackSettings
from ledgerdesk.jobs import do_cancel_jobs, do_enqueue_job
from ledgerdesk.realtime import outbox
from ledgerdesk.realtime.payloads import conversation_payload, customer_conversation_payload

SEND_SURVEY_JOB = "feedback.send_survey"
FOLLOW_UP_JOB = "feedback.follow_up"
_STAGE = "feedback.status_changes"


def survey_job_key(conversation_id: int) -> str:
    return f"feedback:survey:{conversation_id}"


def follow_up_job_key(conversation_id: int) -> str:
    return f"feedback:follow_up:{conversation_id}"


def new_nonce() -> str:
    return secrets.token_urlsafe(12)


# Settings --------------------------------------------------------------------------


async def do_update_feedback_settings(
    uow: UnitOfWork, *, actor: Principal, settings: FeedbackSettings
) -> FeedbackSettings:
    """Admins only. Applies to conversations solved from now on; scheduled jobs check
    the switches again when they run."""
    actor.require_admin()
    value = settings.model_dump(mode="json")
    row = await uow.session.get(SiteSetting, SETTINGS_KEY)
    if row is None:
        uow.session.add(SiteSetting(key=SETTINGS_KEY, value=value))
    else:
        row.value = value
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="feedback.settings_changed",
        object_type="site_setting",
        object_id=SETTINGS_KEY,
        detail={k: v for k, v in value.items() if k != "follow_up_texts"},
    )
    return settings


# Following the conversation's status ------------------------------------------------


_SURVEY_STATUSES = frozenset({Status.SOLVED, Status.CLOSED})


def note_status_change(uow: UnitOfWork, conversation: Conversation, previous: str) -> None:
    """Called where a conversation's status changes; the surveys follow before the commit.

    A move that neither enters nor leaves solved or closed (open to pending, the
    commonest, on every agent reply) has no survey or job to schedule or cancel:
    reopening already cancelled them. Skipping it saves the survey read and the job
    updates on the reply path.
    """
    if conversation.status not in _SURVEY_STATUSES and previous not in _SURVEY_STATUSES:
        return
    staged: list[Conversation] = uow.staged(_STAGE)
    if all(noted is not conversation for noted in staged):
        staged.append(conversation)
    uow.before_commit(_STAGE, _sync_surveys)


async def _sync_surveys(uow: UnitOfWork) -> None:
    conversations: list[Conversation] = list(uow.staged(_STAGE))
    if not conversations:
        return
    settings = await feedback_settings(uow.session)
    for conversation in conversations:
        await do_sync_survey(uow, conversation, settings)


def _record(
    uow: UnitOfWork,
    conversation_id: int,
    kind: str,
    data: dict[str, Any],
    customer_id: int | None = None,
) -> None:
    uow.session.add(
        ConversationEvent(
            conversation_id=conversation_id,
            kind=kind,
            actor_kind="customer" if customer_id is not None else "system",
            actor_customer_id=customer_id,
            data=data,
        )
    )


async def do_sync_survey(
    uow: UnitOfWork, conversation: Conversation, settings: FeedbackSettings
) -> Survey | None:
    """Schedule or cancel the survey and the follow-up after a status change."""
    now = datetime.now(UTC)
    survey = await survey_of(uow.session, conversation.id)
    if conversation.status == Status.SOLVED and conversation.solved_at is not None:
        if settings.survey_enabled:
            survey = await _schedule_survey(uow, conversation, survey, settings, now)
        if settings.wants_follow_up(conversation.custom_fields):
            await do_cancel_jobs(uow, dedup_key=follow_up_job_key(conversation.id))
            await do_enqueue_job(
                uow,
                FOLLOW_UP_JOB,
                {
                    "conversation_id": conversation.id,
                    "solved_at": conversation.solved_at.isoformat(),
                },
                run_at=conversation.solved_at + timedelta(days=settings.follow_up_days),
                dedup_key=follow_up_job_key(conversation.id),
            )
        return survey
    if conversation.status == Status.CLOSED:
        return survey  # the jobs see it closed and do nothing
    # Reopened (or never solved): nothing to ask about, nothing to follow up.
    await do_cancel_jobs(uow, dedup_key=survey_job_key(conversation.id))
    await do_cancel_jobs(uow, dedup_key=follow_up_job_key(conversation.id))
    if survey is not None and survey.status in (SurveyStatus.SCHEDULED, SurveyStatus.SENT):
        # No history row of its own: the status change that caused it is the record.
        survey.status = SurveyStatus.CANCELLED
        survey.updated_at = now
    return survey


async def _schedule_survey(
    uow: UnitOfWork,
    conversation: Conversation,
    survey: Survey | None,
    settings: FeedbackSettings,
    now: datetime,
) -> Survey | None:
    assert conversation.solved_at is not None
    due = conversation.solved_at + timedelta(minutes=settings.survey_delay_minutes)
    if survey is not None and survey.status == SurveyStatus.ANSWERED:
        return survey  # one answer per conversation: re-solving does not ask again
    if (
        survey is not None
        and survey.status in (SurveyStatus.SCHEDULED, SurveyStatus.SENT)
        and survey.scheduled_for == due
    ):
        return survey  # this solve was scheduled (or even sent) already
    if survey is None:
        survey = Survey(
            conversation_id=conversation.id,
            customer_id=conversation.customer_id,
            channel=conversation.channel,
            status=SurveyStatus.SCHEDULED,
            nonce=new_nonce(),
            scheduled_for=due,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(survey)
        await uow.session.flush()
    else:
        # A new round after a reopen: a new nonce, so links of the earlier round stop working.
        survey.status = SurveyStatus.SCHEDULED
        survey.nonce = new_nonce()
        survey.scheduled_for = due
        survey.sent_at = None
        survey.customer_id = conversation.customer_id
        survey.channel = conversation.channel
        survey.updated_at = now
    await do_cancel_jobs(uow, dedup_key=survey_job_key(conversation.id))
    await do_enqueue_job(
        uow,
        SEND_SURVEY_JOB,
        {"conversation_id": conversation.id, "nonce": survey.nonce},
        run_at=due,
        dedup_key=survey_job_key(conversation.id),
    )
    return survey


# Sending and answering ---------------------------------------------------------------


def survey_stream_data(survey: Survey) -> dict[str, Any]:
    """What the widget needs to draw or update the survey card."""
    return {
        "conversation_id": survey.conversation_id,
        "status": survey.status,
        "rating": survey.rating,
        "comment": survey.comment,
        "changeable_until": (
            survey.changeable_until.isoformat() if survey.changeable_until else None
        ),
    }


def announce_survey(uow: UnitOfWork, conversation: Conversation, survey: Survey, kind: str) -> None:
    """Tell the customer's widget and the agents (real-time stream, after the commit)."""
    data = survey_stream_data(survey)
    outbox.append(
        uow,
        kind=kind,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        team_id=conversation.team_id,
        data={"conversation": conversation_payload(conversation), "survey": data},
        customer_data={
            "conversation": customer_conversation_payload(conversation),
            "survey": data,
        },
    )


def do_mark_survey_sent(
    uow: UnitOfWork, conversation: Conversation, survey: Survey, *, how: str, now: datetime
) -> None:
    survey.status = SurveyStatus.SENT
    survey.sent_at = now
    survey.updated_at = now
    _record(uow, conversation.id, "survey.sent", {"via": how})


def clean_comment(comment: str | None) -> str | None:
    if comment is None:
        return None
    if "\x00" in comment:
        raise InvalidInput("the comment must not contain NUL characters")
    text = comment.strip()
    if len(text) > MAX_COMMENT_CHARS:
        raise InvalidInput(f"the comment can have at most {MAX_COMMENT_CHARS} characters")
    return text or None


async def do_answer_survey(
    uow: UnitOfWork,
    *,
    survey: Survey,
    conversation: Conversation,
    rating: int,
    comment: str | None,
    now: datetime | None = None,
) -> Survey:
    """Store the customer's answer, or change it while the change window is open.

    Writes the conversation event "survey.answered" {"rating", "previous"} and moves
    the conversation's updated_at (analytics recomputes conversations from it).
    """
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidInput("the rating must be a whole number from 1 to 5")
    text = clean_comment(comment)
    now = now or datetime.now(UTC)
    if survey.status == SurveyStatus.SCHEDULED:
        raise Conflict("this survey has not been sent yet")
    if survey.status == SurveyStatus.CANCELLED:
        raise Conflict(
            "this conversation was reopened, so this survey is closed; we will ask again "
            "once it is solved"
        )
    previous = survey.rating
    if survey.status == SurveyStatus.ANSWERED:
        if survey.changeable_until is None or now >= survey.changeable_until:
            until = survey.changeable_until.isoformat() if survey.changeable_until else "-"
            raise Conflict(
                f"this answer can no longer be changed (changes were possible until {until})"
            )
        if survey.rating == rating and survey.comment == text:
            return survey  # the same answer again (a resend): nothing changes
    else:
        settings = await feedback_settings(uow.session)
        survey.answered_at = now
        survey.changeable_until = now + timedelta(hours=settings.change_window_hours)
        survey.status = SurveyStatus.ANSWERED
        previous = None
    survey.rating = rating
    survey.comment = text
    survey.updated_at = now
    conversation.updated_at = now
    _record(
        uow,
        conversation.id,
        "survey.answered",
        {"rating": rating, "previous": previous},
        customer_id=conversation.customer_id,
    )
    announce_survey(uow, conversation, survey, "survey.answered")
    return survey


async def surveys_by_conversation(uow: UnitOfWork, ids: list[int]) -> dict[int, Survey]:
    result = await uow.session.execute(select(Survey).where(Survey.conversation_id.in_(ids)))
    return {row.conversation_id: row for row in result.scalars()}
