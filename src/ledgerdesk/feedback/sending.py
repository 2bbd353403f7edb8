"""What the scheduled jobs do: send a survey, post a follow-up (docs/feedback.md).

Both load the current state and do nothing when the reason for the job has gone
(the conversation was reopened or closed, the survey was answered or started a new
round, the admin turned the feature off), so a late, repeated or stale job is
harmless. Kept apart from actions.py because they write messages through
conversations/actions.py, which itself calls the status hook in actions.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ledgerdesk.conversations.actions import do_add_message
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.conversations.status import Status
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.feedback.actions import announce_survey, do_mark_survey_sent
from ledgerdesk.feedback.models import SurveyStatus
from ledgerdesk.feedback.queries import feedback_settings, survey_of
from ledgerdesk.feedback.tokens import make_token

# A link keeps working this long after it was sent (answering; changing also needs
# the change window). Past it the page says the link expired.
SURVEY_LINK_DAYS = 30

SURVEY_LINK_MESSAGE = {
    "en": (
        "Your request has been solved. How did we do? Rate our support from 1 to 5 "
        "(it takes ten seconds): {url}"
    ),
    "zh": "您的问题已解决。您对我们的服务满意吗？请花十秒钟为我们打分（1 到 5 分）：{url}",
}


def language_key(language: str | None) -> str:
    return "zh" if (language or "").lower().startswith("zh") else "en"


def survey_url(public_url: str, token: str) -> str:
    return public_url.rstrip("/") + "/survey/" + token


async def do_send_survey(
    uow: UnitOfWork,
    *,
    conversation_id: int,
    nonce: str,
    secret_key: str,
    public_url: str,
    now: datetime | None = None,
) -> str:
    """Ask the customer; returns what happened ("sent_widget", "sent_link" or why not)."""
    now = now or datetime.now(UTC)
    survey = await survey_of(uow.session, conversation_id, for_update=True)
    if survey is None or survey.nonce != nonce:
        return "stale"  # a later round replaced this job's
    if survey.status != SurveyStatus.SCHEDULED:
        return "not_scheduled"
    conversation = await uow.session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None:
        return "gone"
    settings = await feedback_settings(uow.session)
    if conversation.status != Status.SOLVED or not settings.survey_enabled:
        survey.status = SurveyStatus.CANCELLED
        survey.updated_at = now
        return "cancelled"
    if conversation.channel == "webchat":
        # The widget draws a card from the stream event; a visitor who is away gets it
        # from the session snapshot (open surveys) when they come back.
        do_mark_survey_sent(uow, conversation, survey, how="widget", now=now)
        announce_survey(uow, conversation, survey, "survey.requested")
        return "sent_widget"
    token = make_token(
        secret_key, conversation.id, survey.nonce, now + timedelta(days=SURVEY_LINK_DAYS)
    )
    body = SURVEY_LINK_MESSAGE[language_key(conversation.language)].format(
        url=survey_url(public_url, token)
    )
    do_mark_survey_sent(uow, conversation, survey, how="link", now=now)
    await do_add_message(
        uow, actor=None, conversation=conversation, body=body, author_kind="system"
    )
    return "sent_link"


async def do_send_follow_up(
    uow: UnitOfWork, *, conversation_id: int, solved_at: str, now: datetime | None = None
) -> Message | None:
    """Post the check-in message, once per solve; None when it is no longer wanted."""
    now = now or datetime.now(UTC)
    conversation = await uow.session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None or conversation.status != Status.SOLVED:
        return None  # reopened (a person is on it) or closed meanwhile
    if conversation.solved_at is None or conversation.solved_at.isoformat() != solved_at:
        return None  # solved again since: that solve has its own job
    settings = await feedback_settings(uow.session)
    if not settings.wants_follow_up(conversation.custom_fields):
        return None
    sent = await uow.session.execute(
        select(ConversationEvent.data).where(
            ConversationEvent.conversation_id == conversation.id,
            ConversationEvent.kind == "follow_up.sent",
        )
    )
    if any(data.get("solved_at") == solved_at for data in sent.scalars()):
        return None  # a retry after the message was posted
    message, _ = await do_add_message(
        uow,
        actor=None,
        conversation=conversation,
        body=settings.follow_up_text(conversation.language),
        author_kind="system",
    )
    uow.session.add(
        ConversationEvent(
            conversation_id=conversation.id,
            kind="follow_up.sent",
            actor_kind="system",
            data={
                "solved_at": solved_at,
                "message_id": message.id,
                "days": settings.follow_up_days,
                "language": language_key(conversation.language),
            },
        )
    )
    return message
