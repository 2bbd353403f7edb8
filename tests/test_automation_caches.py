"""The per-process caches of rules and webhook subscriptions: what another process
changes is honoured (at once for what must never happen, on the bus event for the
rest), and an event that no rule can match costs no query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update

from ledgerdesk.automation import queries
from ledgerdesk.automation.actions import do_save_rule
from ledgerdesk.automation.engine import do_run_rules
from ledgerdesk.automation.models import (
    AutomationRule,
    RuleFiring,
    WebhookDelivery,
    WebhookSubscription,
)
from ledgerdesk.automation.queries import AUTOMATION_CHANGED, enabled_rules
from ledgerdesk.automation.schemas import RuleIn
from ledgerdesk.conversations.models import Conversation, Message
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import MemoryEventBus
from tests.api_support import count
from tests.api_support import statements as recorded_statements
from tests.automation_support import make_rule, open_conversation
from tests.conftest import World


@pytest.fixture
def slow_recheck(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Caches trusted for an hour: only the bus event or the guards in the writes can
    make a change elsewhere count, so the tests do not depend on the clock."""
    queries.forget_automation()
    monkeypatch.setattr(queries, "RECHECK_SECONDS", 3600.0)
    yield
    queries.forget_automation()


async def _as_another_process(db: Database, statement: Any) -> None:
    """A change written straight to the database: this process's caches do not know."""
    async with db.writer() as session:
        await session.execute(statement)
        await session.commit()


async def test_a_rule_switched_off_elsewhere_does_not_fire_from_a_stale_cache(
    client: httpx.AsyncClient, world: World, db: Database, slow_recheck: None
) -> None:
    headers = world.alice.headers
    rule = await make_rule(client, headers, actions=[{"type": "add_tags", "tags": ["seen"]}])
    dana = await world.make_customer()
    first = await open_conversation(client, headers, dana.id, "hello")
    assert first["tags"] == ["seen"]
    await _as_another_process(
        db, update(AutomationRule).where(AutomationRule.id == rule["id"]).values(is_enabled=False)
    )
    second = await open_conversation(client, headers, dana.id, "hello again")
    assert second["tags"] == []
    assert await count(db, RuleFiring, RuleFiring.conversation_id == second["id"]) == 0


async def test_a_webhook_paused_or_deleted_elsewhere_gets_nothing_and_breaks_nothing(
    client: httpx.AsyncClient, world: World, db: Database, slow_recheck: None
) -> None:
    headers = world.alice.headers
    async with db.writer() as session:
        hook = WebhookSubscription(
            name="crm",
            url="https://hooks.example.com/in",
            event_kinds=["conversation.created"],
            secret_encrypted="x",
        )
        session.add(hook)
        await session.commit()
    queries.forget_subscriptions()
    dana = await world.make_customer()
    await open_conversation(client, headers, dana.id, "one")
    assert await count(db, WebhookDelivery) == 1
    await _as_another_process(
        db,
        update(WebhookSubscription)
        .where(WebhookSubscription.id == hook.id)
        .values(is_active=False),
    )
    await open_conversation(client, headers, dana.id, "two")
    assert await count(db, WebhookDelivery) == 1
    await _as_another_process(db, delete(WebhookSubscription))
    # The cache still names a subscription that no longer exists: no delivery, no error.
    await open_conversation(client, headers, dana.id, "three")
    assert await count(db, WebhookDelivery) == 0


async def test_a_webhook_changed_elsewhere_is_read_again_not_served_from_the_cache(
    client: httpx.AsyncClient, world: World, db: Database, slow_recheck: None
) -> None:
    headers = world.alice.headers
    async with db.writer() as session:
        hook = WebhookSubscription(
            name="crm",
            url="https://hooks.example.com/in",
            event_kinds=["conversation.created"],
            secret_encrypted="x",
        )
        session.add(hook)
        await session.commit()
    dana = await world.make_customer()
    await open_conversation(client, headers, dana.id, "one")
    assert await count(db, WebhookDelivery) == 1
    # Elsewhere the subscription now wants messages only (a save sets updated_at).
    await _as_another_process(
        db,
        update(WebhookSubscription)
        .where(WebhookSubscription.id == hook.id)
        .values(event_kinds=["message.created"], updated_at=datetime.now(UTC)),
    )
    await open_conversation(client, headers, dana.id, "two")
    assert await count(db, WebhookDelivery) == 1
    found = await count(db, WebhookDelivery, WebhookDelivery.event_kind == "message.created")
    assert found == 0


async def test_the_bus_event_makes_a_subscription_made_elsewhere_count_at_once(
    client: httpx.AsyncClient, world: World, db: Database, bus: MemoryEventBus, slow_recheck: None
) -> None:
    headers = world.alice.headers
    dana = await world.make_customer()
    await open_conversation(client, headers, dana.id, "nobody listens yet")
    async with db.writer() as session:
        session.add(
            WebhookSubscription(
                name="crm",
                url="https://hooks.example.com/in",
                event_kinds=["conversation.created"],
                secret_encrypted="x",
            )
        )
        await session.commit()
    await open_conversation(client, headers, dana.id, "the cache does not know yet")
    assert await count(db, WebhookDelivery) == 0
    await bus.publish(AUTOMATION_CHANGED)  # what the other process sends after its commit
    await open_conversation(client, headers, dana.id, "now it does")
    found = await count(db, WebhookDelivery)
    assert found == 1


async def test_saving_a_rule_or_a_webhook_is_announced_after_the_commit(
    client: httpx.AsyncClient, world: World, bus: MemoryEventBus
) -> None:
    heard: list[str] = []
    bus.add_listener({queries.AUTOMATION_TOPIC}, lambda e: heard.append(e.kind))
    await make_rule(client, world.alice.headers)
    assert heard == ["automation.changed"]
    # A refused change (the name is taken) rolls back and announces nothing.
    await make_rule(client, world.alice.headers, expect=409)
    assert heard == ["automation.changed"]


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    with recorded_statements(db) as seen:
        yield seen


async def test_a_message_no_rule_can_match_costs_no_query_and_the_tier_is_read_on_demand(
    world: World, db: Database, statements: list[str]
) -> None:
    spec: dict[str, Any] = {
        "trigger": "message.received",
        "conditions": [
            {"field": "text", "op": "contains", "value": "withdrawal"},
            {"field": "tier", "op": "is", "value": "vip"},
        ],
        "actions": [{"type": "add_tags", "tags": ["vip-withdrawal"]}],
    }
    async with db.writer() as session, UnitOfWork(session) as uow:
        await do_save_rule(uow, actor=None, data=RuleIn(name="vip withdrawal", **spec))
        dana = Customer(name="Dana", tier="vip")
        session.add(dana)
        await session.flush()
        conversation = Conversation(subject="s", channel="api", customer_id=dana.id)
        session.add(conversation)
        await uow.commit()
        conversation_id, dana_id = conversation.id, dana.id

    async def run(body: str, message_id: int) -> list[int]:
        async with db.writer() as session, UnitOfWork(session) as uow:
            found = await session.get(Conversation, conversation_id)
            assert found is not None
            # The caches, warm: the rules of both passes and the webhook subscriptions.
            await enabled_rules(session, "message.received")
            await enabled_rules(session, "conversation.updated")
            await queries.active_subscriptions(session)
            await session.get(Customer, dana_id)  # loaded, then let go
            statements.clear()
            message = Message(id=message_id, author_kind="customer", body=body)
            result = await do_run_rules(uow, found, "message.received", message=message)
            await uow.commit()
        return result.fired

    assert await run("how do I change my password?", 1_000_001) == []
    assert [s for s in statements if "customers" in s or "automation" in s] == []
    fired = await run("my WITHDRAWAL is late", 1_000_002)
    assert len(fired) == 1
    reads = [
        s
        for s in statements
        if s.lstrip().upper().startswith("SELECT") and "advisory" not in s  # the outbox's lock
    ]
    assert len(reads) == 1 and "customers" in reads[0]
    async with db.session() as session:
        tags = (
            await session.execute(
                select(Conversation.tags).where(Conversation.id == conversation_id)
            )
        ).scalar_one()
    assert tags == ["vip-withdrawal"]


async def test_the_tier_of_a_customer_changed_in_this_transaction_is_the_new_one(
    db: Database,
) -> None:
    from ledgerdesk.automation.facts import tier_of

    async with db.writer() as session:
        dana = Customer(name="Dana", tier="standard")
        session.add(dana)
        await session.flush()
        conversation = Conversation(subject="s", channel="api", customer_id=dana.id)
        session.add(conversation)
        await session.commit()
    async with db.writer() as session:
        found = await session.get(Conversation, conversation.id)
        assert found is not None
        assert await tier_of(session, found) == "standard"
        customer = await session.get(Customer, dana.id)
        assert customer is not None
        customer.tier = "vip"  # not flushed
        assert await tier_of(session, found) == "vip"
        await session.rollback()
    async with db.session() as session:
        found = await session.get(Conversation, conversation.id)
        assert found is not None
        assert await tier_of(session, found) == "standard"
