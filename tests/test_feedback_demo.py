"""The demo's survey answers: every solved demo conversation has its survey, most are
answered with mixed ratings and some comments in both languages, nothing is dated in
the future, nothing is left to be sent on start, and seeding again adds nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ledgerdesk.conversations.models import Conversation, ConversationEvent
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.demo import seed_demo
from ledgerdesk.feedback.demo import seed_feedback_demo
from ledgerdesk.feedback.models import Survey
from ledgerdesk.jobs.models import QUEUED, Job
from ledgerdesk.settings import load_settings


@pytest.fixture(scope="module")
async def demo_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    data_dir = tmp_path_factory.mktemp("feedback-demo")
    settings = load_settings(environ={}, data_dir=data_dir, environment="test")
    assert await seed_demo(settings, data_dir / "logins.txt", only_if_empty=True)
    db = Database.from_settings(settings)
    yield db
    await db.dispose()


async def _surveys(db: Database) -> list[Survey]:
    async with db.session() as session:
        return list((await session.execute(select(Survey).order_by(Survey.id))).scalars())


async def test_every_solved_demo_conversation_has_a_survey_and_most_are_answered(
    demo_db: Database,
) -> None:
    async with demo_db.session() as session:
        solved = set(
            (
                await session.execute(
                    select(Conversation.id).where(Conversation.status == "solved")
                )
            ).scalars()
        )
        rows = (await session.execute(select(Conversation.id, Conversation.language))).all()
        languages = {conversation_id: language for conversation_id, language in rows}
    surveys = await _surveys(demo_db)
    assert solved and {s.conversation_id for s in surveys} == solved
    answered = [s for s in surveys if s.status == "answered"]
    assert len(answered) >= len(surveys) // 2
    ratings = {s.rating for s in answered}
    assert {5, 4} <= ratings and min(ratings) <= 2, ratings
    commented = [s for s in answered if s.comment]
    zh = [s for s in commented if (languages[s.conversation_id] or "").startswith("zh")]
    assert zh and len(zh) < len(commented), "comments in Chinese and in English"
    now = datetime.now(UTC)
    for survey in answered:
        assert survey.sent_at is not None and survey.answered_at is not None
        assert survey.sent_at < survey.answered_at < now


async def test_the_demo_answers_are_in_the_history_and_nothing_waits_to_be_sent(
    demo_db: Database,
) -> None:
    async with demo_db.session() as session:
        answered_events = (
            await session.execute(
                select(ConversationEvent.conversation_id, ConversationEvent.data).where(
                    ConversationEvent.kind == "survey.answered"
                )
            )
        ).all()
        queued = (
            await session.execute(
                select(Job.id).where(Job.kind == "feedback.send_survey", Job.status == QUEUED)
            )
        ).all()
    surveys = {s.conversation_id: s for s in await _surveys(demo_db)}
    assert len(answered_events) == sum(s.status == "answered" for s in surveys.values())
    for conversation_id, data in answered_events:
        assert data == {"rating": surveys[conversation_id].rating, "previous": None}
    assert queued == [], "a fresh demo does not fire old surveys at its first start"


async def test_seeding_the_answers_again_adds_nothing(demo_db: Database) -> None:
    before = [(s.id, s.rating, s.comment) for s in await _surveys(demo_db)]
    async with demo_db.writer() as session, UnitOfWork(session) as uow:
        added = await seed_feedback_demo(uow, started=datetime.now(UTC))
        await uow.commit()
    assert added == 0
    assert [(s.id, s.rating, s.comment) for s in await _surveys(demo_db)] == before
