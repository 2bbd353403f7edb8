"""The demo seed: a bilingual Harbor Exchange desk, made once, with no secrets in it.

Self-contained on purpose (no conftest fixtures): the seed runs its own migrations
on a fresh SQLite file in a temporary data directory, once for the module.
"""

from __future__ import annotations

import logging
import re
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledgerdesk.accounts.models import Agent, Team, TeamMembership
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.customers.models import Customer, CustomerIdentity
from ledgerdesk.db.engine import Database
from ledgerdesk.demo import ADMIN_EMAIL, seed_demo
from ledgerdesk.errors import Conflict
from ledgerdesk.settings import Settings, load_settings

# Twelve or more short lowercase words in a row: what a BIP-39 mnemonic looks like.
MNEMONIC_LIKE = re.compile(r"(\b[a-z]{3,8}\b ){11,}\b[a-z]{3,8}\b")


@dataclass
class Seeded:
    settings: Settings
    credentials: Path
    created: bool
    log_text: str
    db: Database


@pytest.fixture(scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    data_dir = tmp_path_factory.mktemp("demo")
    settings = load_settings(environ={}, data_dir=data_dir, environment="test")
    credentials = data_dir / "demo-login.txt"
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        created = await seed_demo(settings, credentials, only_if_empty=True)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    log_text = "\n".join(record.getMessage() for record in records)
    db = Database.from_settings(settings)
    yield Seeded(settings, credentials, created, log_text, db)
    await db.dispose()


async def _count(db: Database, model: type[object]) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _passwords(credentials: Path) -> list[str]:
    return [line.rsplit("/", 1)[1].strip() for line in credentials.read_text().splitlines()[1:]]


async def test_it_seeds_a_bilingual_inbox_once(seeded: Seeded) -> None:
    assert seeded.created is True
    async with seeded.db.session() as session:
        agent_languages = set((await session.scalars(select(Agent.language))).all())
        conversation_languages = set((await session.scalars(select(Conversation.language))).all())
    assert agent_languages == {"en", "zh_Hans"}
    assert conversation_languages == {"en", "zh-Hans"}
    counts = {model: await _count(seeded.db, model) for model in (Agent, Customer, Conversation)}
    assert counts[Agent] >= 9
    assert counts[Customer] >= 20
    assert counts[Conversation] >= 35

    again = await seed_demo(seeded.settings, seeded.credentials, only_if_empty=True)

    assert again is False
    assert {model: await _count(seeded.db, model) for model in counts} == counts


async def test_it_refuses_to_seed_over_existing_demo_agents(seeded: Seeded) -> None:
    before = seeded.credentials.read_text()
    with pytest.raises(Conflict):
        await seed_demo(seeded.settings, seeded.credentials, only_if_empty=False)
    assert seeded.credentials.read_text() == before
    assert await _count(seeded.db, Agent) == len(_agent_emails(before)) + 1


def _agent_emails(credentials_text: str) -> list[str]:
    agents_line = credentials_text.splitlines()[2]
    return [email.strip() for email in agents_line.split(":", 1)[1].rsplit("/", 1)[0].split(",")]


async def test_it_writes_the_logins_to_a_private_file(seeded: Seeded) -> None:
    mode = stat.S_IMODE(seeded.credentials.stat().st_mode)
    assert mode == 0o600
    text = seeded.credentials.read_text()
    assert text.startswith(f"Demo console: {seeded.settings.public_url}/login\n")
    assert ADMIN_EMAIL in text
    admin_password, agent_password = _passwords(seeded.credentials)
    assert len(admin_password) >= 16
    assert admin_password != agent_password
    async with seeded.db.session() as session:
        emails = set((await session.scalars(select(Agent.email))).all())
    assert set(_agent_emails(text)) | {ADMIN_EMAIL} == emails


async def test_it_never_logs_or_stores_the_passwords(seeded: Seeded) -> None:
    assert "demo data created" in seeded.log_text
    async with seeded.db.session() as session:
        bodies = (await session.scalars(select(Message.body))).all()
    for password in _passwords(seeded.credentials):
        assert password not in seeded.log_text
        assert not any(password in body for body in bodies)


async def test_it_keeps_the_security_team_private_and_small(seeded: Seeded) -> None:
    async with seeded.db.session() as session:
        security = (await session.scalars(select(Team).where(Team.name == "Security"))).one()
        members = (
            await session.scalars(
                select(Agent.role)
                .join(TeamMembership, TeamMembership.agent_id == Agent.id)
                .where(TeamMembership.team_id == security.id)
            )
        ).all()
        urgent_teams = set(
            (
                await session.scalars(
                    select(Conversation.team_id).where(Conversation.priority == "urgent")
                )
            ).all()
        )
    assert security.is_private is True
    assert sorted(members) == ["agent", "supervisor"]
    assert urgent_teams == {security.id}


async def test_it_puts_no_seed_phrase_in_any_message(seeded: Seeded) -> None:
    async with seeded.db.session() as session:
        bodies = (await session.scalars(select(Message.body))).all()
    assert len(bodies) > 100
    # The check itself must catch the shape (BIP-39's public all-zero test vector).
    assert MNEMONIC_LIKE.search(" ".join(["abandon"] * 11 + ["about"]))
    offenders = [body[:80] for body in bodies if MNEMONIC_LIKE.search(body)]
    assert offenders == []


async def test_it_knows_customers_by_their_wallets_and_handles(seeded: Seeded) -> None:
    async with seeded.db.session() as session:
        kinds = set((await session.scalars(select(CustomerIdentity.kind))).all())
        wallets = (
            await session.scalars(
                select(CustomerIdentity.value).where(CustomerIdentity.kind == "wallet_address")
            )
        ).all()
    assert {"email", "telegram", "platform_user", "wallet_address"} <= kinds
    assert any(re.fullmatch(r"0x[0-9a-f]{40}", wallet) for wallet in wallets)
    assert any(re.fullmatch(r"bc1q[02-9ac-hj-np-z]{38}", wallet) for wallet in wallets)
    assert any(re.fullmatch(r"T[1-9A-HJ-NP-Za-km-z]{33}", wallet) for wallet in wallets)


async def test_it_leaves_work_in_the_inbox_and_a_history_behind_it(seeded: Seeded) -> None:
    async with seeded.db.session() as session:
        conversations = (await session.scalars(select(Conversation))).all()
        internal = await session.scalar(
            select(func.count()).select_from(Message).where(Message.is_internal.is_(True))
        )
        agent_replies = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.author_kind == "agent", Message.is_internal.is_(False))
        )
    statuses = {c.status for c in conversations}
    waiting = [c for c in conversations if c.status == "new" and c.assignee_id is None]
    assert {"new", "open", "pending", "on_hold", "solved", "closed"} <= statuses
    assert len(waiting) >= len(conversations) // 5
    assert (internal or 0) >= 10
    assert (agent_replies or 0) >= 25


async def test_it_spreads_the_conversations_over_the_past_ten_days(seeded: Seeded) -> None:
    now = datetime.now(UTC)
    async with seeded.db.session() as session:
        conversations = (await session.scalars(select(Conversation))).all()
        messages = (await session.scalars(select(Message))).all()
        events = (await session.scalars(select(ConversationEvent))).all()
    started = {c.id: c.created_at for c in conversations}
    ages = [now - c.created_at for c in conversations]
    assert max(ages) > timedelta(days=7)
    assert min(ages) < timedelta(days=1)
    assert max(ages) < timedelta(days=11)
    for c in conversations:
        assert c.created_at <= c.updated_at < now
        assert c.last_message_at is not None and c.last_message_at < now
    for message in messages:
        assert started[message.conversation_id] <= message.created_at < now
    for event in events:
        assert started[event.conversation_id] <= event.created_at < now
    # Conversation numbers grow with time, as they do on a real desk.
    ordered = sorted(conversations, key=lambda c: c.id)
    assert [c.created_at for c in ordered] == sorted(c.created_at for c in ordered)
