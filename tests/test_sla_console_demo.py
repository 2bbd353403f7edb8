"""SLA in the console and the demo: a conversation page shows its clocks (translated),
and the demo's VIP conversations run clocks that the sweep escalates by itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ledgerdesk.conversations.models import Conversation, Message
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from ledgerdesk.demo import seed_demo
from ledgerdesk.settings import load_settings
from ledgerdesk.sla.models import ConversationSla, SlaPolicy
from ledgerdesk.sla.tasks import run_sla_sweep
from tests.api_support import API
from tests.conftest import World
from tests.sla_support import make_policy
from tests.test_auth_flow import csrf_of, login


async def test_the_conversation_page_shows_the_clocks_in_the_agents_language(
    client: httpx.AsyncClient, world: World
) -> None:
    await make_policy(client, world.alice.headers, name="Four hours", resolution_minutes=480)
    customer = await world.make_customer()
    created = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": customer.id}, "body": "Card payment failed"},
        headers=world.bob.headers,
    )
    number = created.json()["id"]
    due = created.json()["sla"][0]["due_at"]

    await login(client, "bob@example.org")
    page = await client.get(f"/conversations/{number}")
    assert page.status_code == 200
    assert "First response" in page.text and "Resolution" in page.text
    assert "On track" in page.text and "Four hours" in page.text
    assert datetime.fromisoformat(due).astimezone(UTC).strftime("%Y-%m-%d %H:%M") in page.text

    csrf = await csrf_of(client)
    await client.post("/settings/language", data={"csrf_token": csrf, "language": "zh_Hans"})
    page = await client.get(f"/conversations/{number}")
    assert "首次回复" in page.text and "正常" in page.text


@pytest.fixture(scope="module")
async def demo_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    data_dir = tmp_path_factory.mktemp("sla-demo")
    settings = load_settings(environ={}, data_dir=data_dir, environment="test")
    assert await seed_demo(settings, Path(data_dir) / "login.txt", only_if_empty=True)
    db = Database.from_settings(settings)
    yield db
    await db.dispose()


async def test_the_demo_has_support_hours_a_vip_policy_and_vip_clocks(demo_db: Database) -> None:
    async with demo_db.sessionmaker() as session:
        names = set((await session.scalars(select(SlaPolicy.name))).all())
        assert {"VIP", "Urgent", "Standard (business hours)"} <= names
        vip_policy = (await session.scalars(select(SlaPolicy).where(SlaPolicy.name == "VIP"))).one()
        vip_clocks = (
            await session.scalars(
                select(ConversationSla)
                .join(Conversation, Conversation.id == ConversationSla.conversation_id)
                .join(Customer, Customer.id == Conversation.customer_id)
                .where(Customer.tier == "vip", Conversation.status.in_(["new", "open"]))
            )
        ).all()
    assert vip_clocks, "the demo should have open VIP conversations with clocks"
    assert all(clock.policy_id == vip_policy.id for clock in vip_clocks)


async def test_an_overdue_demo_vip_conversation_escalates_by_itself(demo_db: Database) -> None:
    result = await run_sla_sweep(demo_db)
    assert result.breached >= 1 and result.escalations >= 1
    async with demo_db.sessionmaker() as session:
        escalated = (
            await session.scalars(
                select(Conversation)
                .join(ConversationSla, ConversationSla.conversation_id == Conversation.id)
                .join(SlaPolicy, SlaPolicy.id == ConversationSla.policy_id)
                .where(SlaPolicy.name == "VIP", ConversationSla.breached_at.is_not(None))
            )
        ).first()
        assert escalated is not None
        assert escalated.priority == "urgent"
        notes = (
            await session.scalars(
                select(Message.body).where(
                    Message.conversation_id == escalated.id, Message.author_kind == "system"
                )
            )
        ).all()
    assert any("SLA breached" in note for note in notes)
