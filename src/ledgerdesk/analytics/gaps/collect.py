"""Collecting the questions the help center did not answer, and their vectors.

A periodic job (``tasks.py``) reads each source past its watermark:

- **hand-offs** (``assistant_turns``, by id): a turn handed off because the help
  center had nothing good enough (:data:`GAP_HANDOFF_REASONS`). Hand-offs a person
  must take whatever the articles say (a hacked account, a reversal, bereavement,
  a legal threat, "let me talk to a person"), and those made for a shared secret, a
  scam pattern or an attachment, say nothing about the help center and are left out;
- **low ratings** (``surveys``, by ``answered_at``): a survey rated
  :data:`LOW_RATING` or less gives the conversation's first customer message; a
  rating changed upward later removes it again;
- **"not helpful" votes** (``kb_article_votes``, by ``updated_at``): the visitor's
  comment, or else the article's title; a vote changed to helpful removes it.

Rows are read only once they are :data:`SETTLE` old, so a transaction that
committed a little after a later one is not skipped past. Vectors are computed
after the rows are stored, outside any transaction, and written only if the text
is still the one embedded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.analytics.gaps.embed import QuestionEmbedder, default_embedder, to_bytes
from ledgerdesk.analytics.gaps.models import (
    ARTICLE_VOTE,
    HANDOFF,
    LOW_RATING,
    GapQuestion,
    GapWatermark,
)
from ledgerdesk.assistant.answer import AMBIGUOUS, LOW_CONFIDENCE, OUT_OF_SCOPE
from ledgerdesk.assistant.text import detect_locale
from ledgerdesk.channels.webchat.models import AssistantTurn
from ledgerdesk.conversations.models import Conversation, Message
from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.feedback.models import Survey
from ledgerdesk.knowledge.models import Article, ArticleVote

log = logging.getLogger(__name__)

GAP_HANDOFF_REASONS = frozenset({OUT_OF_SCOPE, LOW_CONFIDENCE, AMBIGUOUS})
LOW_RATING_MAX = 2
SETTLE = timedelta(seconds=30)
BATCH = 500
EMBED_BATCH = 32
MAX_TEXT = 1000


@dataclass(frozen=True)
class Found:
    """A question read from a source, ready to be stored (or, with ``keep=False``, removed)."""

    source: str
    source_id: int
    keep: bool
    text: str = ""
    locale: str = "en"
    reason: str = ""
    occurred_at: datetime | None = None
    conversation_id: int | None = None
    article_id: int | None = None


def _clean(text: str) -> str:
    return " ".join(text.replace("\x00", "").split())[:MAX_TEXT]


def _locale(text: str, given: str | None) -> str:
    """Chinese when the text is (whatever the widget said), else the language given."""
    detected = detect_locale(text)
    if detected.startswith("zh"):
        return "zh-Hans"
    return given or detected


async def _watermark(session: AsyncSession, source: str) -> GapWatermark:
    mark = await session.get(GapWatermark, source)
    if mark is None:
        mark = GapWatermark(source=source, last_at=None, last_id=0, updated_at=utcnow())
        session.add(mark)
        await session.flush()
    return mark


async def _handoffs(session: AsyncSession, mark: GapWatermark, cutoff: datetime) -> list[Found]:
    rows = await session.execute(
        select(AssistantTurn, Message.body)
        .join(Message, Message.id == AssistantTurn.question_message_id)
        .where(AssistantTurn.id > mark.last_id)
        .order_by(AssistantTurn.id)
        .limit(BATCH)
    )
    found: list[Found] = []
    for turn, body in rows.all():
        if turn.created_at > cutoff:
            break
        mark.last_id = turn.id
        if turn.handoff and turn.reason in GAP_HANDOFF_REASONS and body.strip():
            found.append(
                Found(
                    HANDOFF,
                    turn.id,
                    True,
                    _clean(body),
                    _locale(body, turn.locale),
                    str(turn.reason),
                    turn.created_at,
                    conversation_id=turn.conversation_id,
                )
            )
    return found


def _after(column: Any, id_column: Any, mark: GapWatermark) -> Any:
    if mark.last_at is None:
        return column.is_not(None)
    return or_(column > mark.last_at, and_(column == mark.last_at, id_column > mark.last_id))


async def _first_questions(
    session: AsyncSession, conversation_ids: Sequence[int]
) -> dict[int, str]:
    """The first public customer message of each conversation."""
    if not conversation_ids:
        return {}
    first = (
        select(Message.conversation_id, func.min(Message.id).label("first_id"))
        .where(
            Message.conversation_id.in_(conversation_ids),
            Message.author_kind == "customer",
            Message.is_internal.is_(False),
        )
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = await session.execute(
        select(Message.conversation_id, Message.body).join(first, Message.id == first.c.first_id)
    )
    return {int(conversation_id): body for conversation_id, body in rows.all()}


async def _low_ratings(session: AsyncSession, mark: GapWatermark, cutoff: datetime) -> list[Found]:
    rows = await session.execute(
        select(Survey, Conversation.language)
        .join(Conversation, Conversation.id == Survey.conversation_id)
        .where(_after(Survey.answered_at, Survey.id, mark), Survey.answered_at <= cutoff)
        .order_by(Survey.answered_at, Survey.id)
        .limit(BATCH)
    )
    surveys = rows.all()
    questions = await _first_questions(
        session,
        [
            s.conversation_id
            for s, _ in surveys
            if s.rating is not None and s.rating <= LOW_RATING_MAX
        ],
    )
    found: list[Found] = []
    for survey, language in surveys:
        assert survey.answered_at is not None
        mark.last_at, mark.last_id = survey.answered_at, survey.id
        body = questions.get(survey.conversation_id, "")
        low = survey.rating is not None and survey.rating <= LOW_RATING_MAX
        if not low or not body.strip():
            found.append(Found(LOW_RATING, survey.id, False))
            continue
        found.append(
            Found(
                LOW_RATING,
                survey.id,
                True,
                _clean(body),
                _locale(body, language),
                f"rating:{survey.rating}",
                survey.answered_at,
                conversation_id=survey.conversation_id,
            )
        )
    return found


async def _votes(session: AsyncSession, mark: GapWatermark, cutoff: datetime) -> list[Found]:
    rows = await session.execute(
        select(ArticleVote, Article.title, Article.locale)
        .join(Article, Article.id == ArticleVote.article_id)
        .where(
            _after(ArticleVote.updated_at, ArticleVote.id, mark), ArticleVote.updated_at <= cutoff
        )
        .order_by(ArticleVote.updated_at, ArticleVote.id)
        .limit(BATCH)
    )
    found: list[Found] = []
    for vote, title, locale in rows.all():
        mark.last_at, mark.last_id = vote.updated_at, vote.id
        if vote.helpful:
            found.append(Found(ARTICLE_VOTE, vote.id, False))
            continue
        # The comment says what the visitor looked for; without one, the article's topic.
        text = (vote.comment or "").strip() or title
        found.append(
            Found(
                ARTICLE_VOTE,
                vote.id,
                True,
                _clean(text),
                _locale(text, locale) if vote.comment else locale,
                "not_helpful",
                vote.updated_at,
                article_id=vote.article_id,
            )
        )
    return found


async def _store(session: AsyncSession, found: list[Found]) -> tuple[int, int]:
    """Insert or update the kept questions, delete the dropped ones; (stored, removed)."""
    stored = removed = 0
    for source in {f.source for f in found}:
        of_source = [f for f in found if f.source == source]
        ids = [f.source_id for f in of_source]
        existing = {
            row.source_id: row
            for row in (
                await session.execute(
                    select(GapQuestion).where(
                        GapQuestion.source == source, GapQuestion.source_id.in_(ids)
                    )
                )
            ).scalars()
        }
        dropped = [f.source_id for f in of_source if not f.keep and f.source_id in existing]
        if dropped:
            await session.execute(
                delete(GapQuestion).where(
                    GapQuestion.source == source, GapQuestion.source_id.in_(dropped)
                )
            )
            removed += len(dropped)
        for item in of_source:
            if not item.keep:
                continue
            assert item.occurred_at is not None
            row = existing.get(item.source_id)
            if row is None:
                session.add(
                    GapQuestion(
                        source=item.source,
                        source_id=item.source_id,
                        conversation_id=item.conversation_id,
                        article_id=item.article_id,
                        text=item.text,
                        locale=item.locale,
                        reason=item.reason,
                        occurred_at=item.occurred_at,
                        created_at=utcnow(),
                    )
                )
            else:
                if row.text != item.text:
                    row.embedding, row.embedding_model = None, None
                row.text, row.locale = item.text, item.locale
                row.reason, row.occurred_at = item.reason, item.occurred_at
            stored += 1
    return stored, removed


READERS = ((HANDOFF, _handoffs), (LOW_RATING, _low_ratings), (ARTICLE_VOTE, _votes))


async def collect_gap_questions(
    db: Database, *, now: datetime | None = None, settle: timedelta = SETTLE
) -> dict[str, int]:
    """Read every source past its watermark; returns how many questions were stored."""
    cutoff = (now or utcnow()) - settle
    counts: dict[str, int] = {}
    for source, reader in READERS:
        total = 0
        while True:
            async with db.writer() as session, UnitOfWork(session) as uow:
                mark = await _watermark(uow.session, source)
                before = (mark.last_at, mark.last_id)
                found = await reader(uow.session, mark, cutoff)
                stored, _ = await _store(uow.session, found)
                mark.updated_at = utcnow()
                await uow.commit()
            total += stored
            if (mark.last_at, mark.last_id) == before:
                break
        counts[source] = total
    return counts


async def embed_gap_questions(
    db: Database,
    embedder: QuestionEmbedder | None = None,
    *,
    limit: int | None = None,
) -> int:
    """Compute the missing vectors (all, or at most ``limit``); returns how many were stored."""
    embedder = embedder or default_embedder()
    done = 0
    while limit is None or done < limit:
        size = EMBED_BATCH if limit is None else min(EMBED_BATCH, limit - done)
        async with db.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(GapQuestion.id, GapQuestion.text)
                    .where(
                        or_(
                            GapQuestion.embedding.is_(None),
                            GapQuestion.embedding_model != embedder.name,
                        )
                    )
                    .order_by(GapQuestion.id)
                    .limit(size)
                )
            ).all()
        if not rows:
            break
        vectors = await asyncio.to_thread(embedder.embed, [text for _, text in rows])
        async with db.writer() as session, UnitOfWork(session) as uow:
            for (question_id, text), vector in zip(rows, vectors, strict=True):
                # Guarded by the text: a question edited meanwhile is embedded again.
                await uow.session.execute(
                    update(GapQuestion)
                    .where(GapQuestion.id == question_id, GapQuestion.text == text)
                    .values(embedding=to_bytes(vector), embedding_model=embedder.name)
                )
            await uow.commit()
        done += len(rows)
    return done
