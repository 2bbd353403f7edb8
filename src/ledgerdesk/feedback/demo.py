"""Survey answers for the demo's solved conversations, so the dashboard shows real CSAT.

Runs inside the demo seed's transaction, after its conversations were played and
backdated: each solved conversation gets the survey the real flow would have made
(sent the configured delay after solving), most of them answered a little later
with a rating and sometimes a comment in the conversation's language. Deterministic
(its own random generator) and idempotent (a conversation with a survey is skipped).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from ledgerdesk.conversations.models import Conversation, ConversationEvent
from ledgerdesk.conversations.status import Status
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.feedback.actions import new_nonce
from ledgerdesk.feedback.models import Survey, SurveyStatus
from ledgerdesk.feedback.queries import feedback_settings

# Mostly happy, as support teams usually are, with a few low scores for the gaps list.
RATINGS = (5, 5, 5, 4, 4, 5, 3, 4, 2, 5, 1, 4)
COMMENTS = {
    "en": {
        5: "Fast and clear answer, thank you!",
        4: "Solved, though it took a while.",
        3: "OK in the end, but I had to explain twice.",
        2: "Took far too long to get a real answer.",
        1: "Nobody told me where my money was for days.",
    },
    "zh": {
        5: "回复很快，解释也很清楚，谢谢！",
        4: "问题解决了，就是等得有点久。",
        3: "最后解决了，但我解释了两遍。",
        2: "等了太久才得到真正的答复。",
        1: "好几天都没人告诉我资金在哪里。",
    },
}


async def seed_feedback_demo(uow: UnitOfWork, *, started: datetime) -> int:
    """Add surveys to the solved demo conversations; returns how many were answered."""
    await uow.session.flush()
    settings = await feedback_settings(uow.session)
    solved = (
        await uow.session.execute(
            select(Conversation)
            .where(Conversation.status == Status.SOLVED, Conversation.solved_at.is_not(None))
            .order_by(Conversation.id)
        )
    ).scalars()
    have = set((await uow.session.execute(select(Survey.conversation_id))).scalars().all())
    rng = random.Random(7)  # noqa: S311 (demo data, not secrets)
    answered = 0
    for index, conversation in enumerate(solved):
        if conversation.id in have or conversation.solved_at is None:
            continue
        language = "zh" if (conversation.language or "").lower().startswith("zh") else "en"
        sent_at = conversation.solved_at + timedelta(minutes=settings.survey_delay_minutes)
        if sent_at >= started:
            continue  # not due yet: the status hook schedules it like any other
        survey = Survey(
            conversation_id=conversation.id,
            customer_id=conversation.customer_id,
            channel=conversation.channel,
            status=SurveyStatus.SENT,
            nonce=new_nonce(),
            scheduled_for=sent_at,
            sent_at=sent_at,
            created_at=conversation.solved_at,
            updated_at=sent_at,
        )
        events: list[tuple[str, datetime, dict[str, Any]]] = [
            (
                "survey.sent",
                sent_at,
                {"via": "widget" if conversation.channel == "webchat" else "link"},
            )
        ]
        answer_at = sent_at + timedelta(minutes=rng.randint(3, 600))
        # Every fifth survey stays unanswered, and none is answered "in the future".
        if index % 5 != 4 and answer_at < started:
            rating = RATINGS[index % len(RATINGS)]
            survey.status = SurveyStatus.ANSWERED
            survey.rating = rating
            survey.comment = (
                COMMENTS[language][rating] if rating <= 3 or rng.random() < 0.4 else None
            )
            survey.answered_at = answer_at
            survey.changeable_until = answer_at + timedelta(hours=settings.change_window_hours)
            survey.updated_at = answer_at
            conversation.updated_at = max(conversation.updated_at, answer_at)
            events.append(("survey.answered", answer_at, {"rating": rating, "previous": None}))
            answered += 1
        uow.session.add(survey)
        for kind, at, data in events:
            uow.session.add(
                ConversationEvent(
                    conversation_id=conversation.id,
                    kind=kind,
                    actor_kind="customer" if kind == "survey.answered" else "system",
                    actor_customer_id=(
                        conversation.customer_id if kind == "survey.answered" else None
                    ),
                    data=data,
                    created_at=at,
                )
            )
    await uow.session.flush()
    return answered
