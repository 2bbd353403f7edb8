"""The demo's assistant hand-offs: seeded once, collected, and grouped on the gaps page."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.analytics.gaps.collect import collect_gap_questions, embed_gap_questions
from ledgerdesk.analytics.gaps.models import HANDOFF, GapQuestion
from ledgerdesk.analytics.gaps.queries import gap_report, parse_period
from ledgerdesk.app import create_app
from ledgerdesk.channels.webchat.models import AssistantTurn
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.demo import seed_demo
from ledgerdesk.demo_data.handoffs import HANDOFFS, seed_demo_handoffs
from ledgerdesk.settings import load_settings
from tests.conftest import World
from tests.test_gaps import EMBEDDER

TOPIC_OF = {item.question: item.topic for item in HANDOFFS}


async def _seed(db: Database) -> int:
    async with db.writer() as session, UnitOfWork(session) as uow:
        made = await seed_demo_handoffs(uow, inbox_id=None, now=datetime.now(UTC))
        await uow.commit()
    return made


async def test_the_hand_offs_are_seeded_once_and_group_by_topic_on_the_gaps_page(
    db: Database, world: World
) -> None:
    assert await _seed(db) == len(HANDOFFS)
    assert await _seed(db) == 0  # a second run adds nothing
    async with db.sessionmaker() as session:
        turns = await session.scalar(
            select(func.count()).select_from(AssistantTurn).where(AssistantTurn.handoff)
        )
    assert turns == len(HANDOFFS)
    assert {item.reason for item in HANDOFFS} == {"out_of_scope", "low_confidence", "ambiguous"}
    assert {item.locale for item in HANDOFFS} == {"en", "zh-Hans"}

    counts = await collect_gap_questions(db, settle=timedelta(0))
    assert counts[HANDOFF] == len(HANDOFFS)
    await embed_gap_questions(db, EMBEDDER)
    async with db.sessionmaker() as session:
        report = await gap_report(
            session, Principal(agent=world.alice.agent), parse_period(days=7, start=None, end=None)
        )
    assert report.total == len(HANDOFFS) and report.pending == 0
    assert report.groups
    topics_seen: Counter[str] = Counter()
    for group in report.groups:
        topics = {TOPIC_OF[item.text] for item in group.items}
        assert len(topics) == 1, [item.text for item in group.items]  # no mixed group
        if group.count >= 3:
            topics_seen.update(topics)
    # Every topic has a group of at least three paraphrases.
    assert set(topics_seen) == {item.topic for item in HANDOFFS}
    mixed = [g for g in report.groups if set(g.languages) == {"en", "zh-Hans"}]
    assert mixed, "English and Chinese paraphrases share a group"


async def test_the_seeded_demo_shows_gap_groups_at_once(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path, environment="test")
    login_file = tmp_path / "login.txt"
    assert await seed_demo(settings, login_file, only_if_empty=True)
    found = re.search(r"agents: .* / +(\S+)", login_file.read_text())
    assert found
    db = Database.from_settings(settings)
    try:
        async with db.sessionmaker() as session:
            stored = await session.scalar(
                select(func.count()).select_from(GapQuestion).where(GapQuestion.source == HANDOFF)
            )
        assert stored == len(HANDOFFS)
        app = create_app(settings, db=db)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            page = await client.get("/login")
            token = re.search(r'name="form_token" value="([^"]+)"', page.text)
            assert token
            await client.post(
                "/login",
                data={
                    "email": "priya.raman@demo.ledgerdesk.test",
                    "password": found.group(1),
                    "form_token": token.group(1),
                    "next": "/inbox",
                },
            )
            gaps = await client.get("/analytics/gaps")
            assert gaps.status_code == 200
            groups = re.findall(r'name="question_ids" value="([0-9,]+)"', gaps.text)
            assert len(groups) >= 3, gaps.text
            assert any(item.question in gaps.text for item in HANDOFFS)
    finally:
        await db.dispose()
