"""Rules acting on real conversations through the API: triggers, conditions, actions,
loop prevention, once per event, dry run and the admin-only API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, update

from ledgerdesk.audit.models import AuditEntry
from ledgerdesk.automation.models import RuleFiring
from ledgerdesk.automation.tasks import run_idle_rules
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from tests.api_support import API, assert_error, count
from tests.automation_support import (
    conversation,
    history_of,
    make_rule,
    messages_of,
    open_conversation,
)
from tests.conftest import World


async def _vip(db: Database, customer: Customer) -> None:
    async with db.writer() as session:
        await session.execute(update(Customer).where(Customer.id == customer.id).values(tier="vip"))
        await session.commit()


async def test_a_vip_withdrawal_becomes_urgent_for_the_vip_team(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    admin = world.alice.headers
    await make_rule(
        client,
        admin,
        name="VIP withdrawal",
        conditions=[
            {"field": "tier", "op": "is", "value": "vip"},
            {"field": "text", "op": "contains_any", "value": ["withdrawal", "提现"]},
        ],
        actions=[{"type": "escalate", "team_id": world.support.id}],
    )
    dana = await world.make_customer("Dana")
    await _vip(db, dana)
    erin = await world.make_customer("Erin")
    vip = await open_conversation(client, admin, dana.id, "我的提现还没到账")
    plain = await open_conversation(client, admin, erin.id, "my withdrawal is late")
    other = await open_conversation(client, admin, dana.id, "how do I change my password")
    assert (vip["priority"], vip["team_id"]) == ("urgent", world.support.id)
    assert (plain["priority"], plain["team_id"]) == ("normal", None)
    assert (other["priority"], other["team_id"]) == ("normal", None)
    changed = [e for e in await history_of(db, vip["id"]) if e.kind == "priority_changed"]
    assert changed[0].actor_kind == "system" and changed[0].data["reason"] == "rule"


async def test_text_contains_ignores_case_and_full_width_letters(
    client: httpx.AsyncClient, world: World
) -> None:
    await make_rule(
        client,
        world.alice.headers,
        conditions=[{"field": "text", "op": "contains", "value": "Seed Phrase"}],
        actions=[{"type": "add_tags", "tags": ["seed"]}],
    )
    dana = await world.make_customer()
    found = await open_conversation(client, world.alice.headers, dana.id, "my ＳＥＥＤ phrase?")
    assert found["tags"] == ["seed"]


async def test_any_matches_when_one_condition_holds_and_all_needs_every_one(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.alice.headers
    conditions = [
        {"field": "channel", "op": "is", "value": "email"},
        {"field": "priority", "op": "is", "value": "high"},
    ]
    await make_rule(
        client,
        headers,
        name="any",
        match="any",
        conditions=conditions,
        actions=[{"type": "add_tags", "tags": ["any"]}],
    )
    await make_rule(
        client,
        headers,
        name="all",
        match="all",
        conditions=conditions,
        actions=[{"type": "add_tags", "tags": ["all"]}],
    )
    dana = await world.make_customer()
    one = await open_conversation(client, headers, dana.id, "x", channel="email")
    both = await open_conversation(client, headers, dana.id, "x", channel="email", priority="high")
    assert one["tags"] == ["any"]
    assert both["tags"] == ["all", "any"]


async def test_a_customer_message_triggers_message_rules_and_a_macro_reply(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    headers = world.alice.headers
    macro = await client.post(
        f"{API}/macros",
        json={
            "name": "Ack",
            "bodies": {
                "en": "Hi {{ customer.first_name }}, we got {{conversation.number}}.",
                "zh-Hans": "{{ customer.name }}您好，我们已收到 {{conversation.number}}。",
            },
        },
        headers=headers,
    )
    assert macro.status_code == 201, macro.text
    await make_rule(
        client,
        headers,
        trigger="message.received",
        conditions=[{"field": "text", "op": "contains", "value": "refund"}],
        actions=[
            {"type": "reply_macro", "macro_id": macro.json()["id"]},
            {"type": "add_note", "body": "Refund asked; check the ledger."},
        ],
    )
    dana = await world.make_customer("Dana Li")
    token = await world.customer_token(dana)
    opened = await client.post(
        f"{API}/conversations",
        json={"body": "hello", "language": "zh-Hans"},
        headers={"Authorization": f"Bearer {token}"},
    )
    cid = opened.json()["id"]
    sent = await client.post(
        f"{API}/conversations/{cid}/messages",
        json={"body": "I want a REFUND"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert sent.status_code == 201, sent.text
    found = await messages_of(db, cid)
    reply = [m for m in found if m.author_kind == "system" and not m.is_internal]
    note = [m for m in found if m.is_internal]
    assert [m.body for m in reply] == [f"Dana Li您好，我们已收到 #{cid}。"]
    assert [m.body for m in note] == ["Refund asked; check the ledger."]


async def test_a_rule_fires_once_per_message_even_when_the_message_is_delivered_twice(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    headers = world.alice.headers
    await make_rule(
        client,
        headers,
        trigger="message.received",
        actions=[{"type": "add_note", "body": "seen"}],
    )
    dana = await world.make_customer()
    token = {"Authorization": f"Bearer {await world.customer_token(dana)}"}
    cid = (await client.post(f"{API}/conversations", json={"body": "hi"}, headers=token)).json()[
        "id"
    ]
    for _ in range(2):
        sent = await client.post(
            f"{API}/conversations/{cid}/messages",
            json={"body": "again", "channel_message_id": "m-1"},
            headers=token,
        )
        assert sent.status_code in (200, 201), sent.text
    notes = [m for m in await messages_of(db, cid) if m.is_internal]
    assert len(notes) == 1
    assert await count(db, RuleFiring, RuleFiring.conversation_id == cid) == 1


async def test_rules_that_undo_each_other_stop_after_one_level(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    """Two rules that would ping-pong forever: a→b on update, b→a on update."""
    headers = world.alice.headers
    await make_rule(
        client,
        headers,
        name="to high",
        trigger="conversation.updated",
        conditions=[{"field": "tags", "op": "has_any", "value": ["flip"]}],
        actions=[
            {"type": "set_priority", "priority": "high"},
            {"type": "add_tags", "tags": ["by-first"]},
        ],
    )
    await make_rule(
        client,
        headers,
        name="to low",
        trigger="conversation.updated",
        conditions=[{"field": "priority", "op": "is", "value": "high"}],
        actions=[
            {"type": "set_priority", "priority": "low"},
            {"type": "add_tags", "tags": ["by-second"]},
        ],
    )
    dana = await world.make_customer()
    cid = (await open_conversation(client, headers, dana.id, "x"))["id"]
    changed = await client.patch(
        f"{API}/conversations/{cid}", json={"add_tags": ["flip"]}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    found = await conversation(db, cid)
    # Depth 0: "to high" fires; "to low" sees priority high in the same pass and fires.
    # Depth 1 (their changes): neither fires again, so the result is stable.
    assert found.priority == "low"
    assert found.tags == ["by-first", "by-second", "flip"]
    assert await count(db, RuleFiring, RuleFiring.conversation_id == cid) == 2


async def test_changes_made_by_rules_trigger_update_rules_once(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    headers = world.alice.headers
    await make_rule(
        client,
        headers,
        name="urgent on keyword",
        conditions=[{"field": "text", "op": "contains", "value": "hacked"}],
        actions=[{"type": "set_priority", "priority": "urgent"}],
    )
    await make_rule(
        client,
        headers,
        name="tag urgent",
        trigger="conversation.updated",
        conditions=[{"field": "priority", "op": "is", "value": "urgent"}],
        actions=[
            {"type": "add_tags", "tags": ["urgent-case"]},
            {"type": "set_priority", "priority": "high"},
        ],
    )
    await make_rule(
        client,
        headers,
        name="never at depth two",
        position=1,  # before "tag urgent": only a depth-2 pass would see its change
        trigger="conversation.updated",
        conditions=[{"field": "priority", "op": "is", "value": "high"}],
        actions=[{"type": "add_tags", "tags": ["depth-two"]}],
    )
    dana = await world.make_customer()
    found = await open_conversation(client, headers, dana.id, "I was hacked")
    assert found["tags"] == ["urgent-case"]
    assert found["priority"] == "high"


async def test_a_disabled_rule_does_nothing_and_enabling_it_is_audited(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    headers = world.alice.headers
    rule = await make_rule(client, headers, enabled=False)
    dana = await world.make_customer()
    assert (await open_conversation(client, headers, dana.id, "x"))["tags"] == []
    toggled = await client.patch(
        f"{API}/automation/rules/{rule['id']}", json={"enabled": True}, headers=headers
    )
    assert toggled.status_code == 200 and toggled.json()["enabled"] is True
    assert (await open_conversation(client, headers, dana.id, "x"))["tags"] == ["seen"]
    async with db.session() as session:
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert "automation.rule_created" in actions and "automation.rule_enabled" in actions


async def test_rules_are_admin_only_and_bad_rules_get_clear_errors(
    client: httpx.AsyncClient, world: World
) -> None:
    payload = {
        "name": "r",
        "trigger": "conversation.created",
        "actions": [{"type": "add_tags", "tags": ["x"]}],
    }
    refused = await client.post(f"{API}/automation/rules", json=payload, headers=world.bob.headers)
    assert_error(refused, 403)
    bad_op = await client.post(
        f"{API}/automation/rules",
        json={**payload, "conditions": [{"field": "tags", "op": "contains", "value": "x"}]},
        headers=world.alice.headers,
    )
    assert bad_op.status_code == 422 and "has_any" in bad_op.text
    bad_priority = await client.post(
        f"{API}/automation/rules",
        json={**payload, "conditions": [{"field": "priority", "op": "is", "value": "asap"}]},
        headers=world.alice.headers,
    )
    assert bad_priority.status_code == 422 and "urgent" in bad_priority.text
    no_team = await client.post(
        f"{API}/automation/rules",
        json={**payload, "actions": [{"type": "assign_team", "team_id": 999999}]},
        headers=world.alice.headers,
    )
    assert_error(no_team, 422, "team 999999")
    idle = await client.post(
        f"{API}/automation/rules",
        json={**payload, "trigger": "conversation.idle"},
        headers=world.alice.headers,
    )
    assert idle.status_code == 422 and "idle_minutes" in idle.text
    await make_rule(client, world.alice.headers, name="dup")
    again = await client.post(
        f"{API}/automation/rules", json={**payload, "name": "dup"}, headers=world.alice.headers
    )
    assert_error(again, 409, "dup")


async def test_dry_run_lists_the_recent_conversations_a_rule_would_match(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    headers = world.alice.headers
    dana = await world.make_customer()
    hit = await open_conversation(client, headers, dana.id, "withdrawal pending", priority="high")
    await open_conversation(client, headers, dana.id, "withdrawal pending", priority="low")
    await open_conversation(client, headers, dana.id, "deposit", priority="high")
    rule = {
        "trigger": "message.received",
        "conditions": [
            {"field": "priority", "op": "any_of", "value": ["high", "urgent"]},
            {"field": "text", "op": "contains", "value": "WITHDRAWAL"},
        ],
        "actions": [{"type": "set_priority", "priority": "urgent"}],
    }
    before = await conversation(db, hit["id"])
    response = await client.post(
        f"{API}/automation/rules/dry-run", json={"rule": rule, "last": 10}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checked"] == 3
    assert [m["id"] for m in body["matched"]] == [hit["id"]]
    assert (await conversation(db, hit["id"])).priority == before.priority == "high"
    refused = await client.post(
        f"{API}/automation/rules/dry-run", json={"rule": rule}, headers=world.bob.headers
    )
    assert_error(refused, 403)


async def test_an_idle_rule_fires_once_per_quiet_spell(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    headers = world.alice.headers
    await make_rule(
        client,
        headers,
        trigger="conversation.idle",
        idle_minutes=60,
        conditions=[{"field": "status", "op": "any_of", "value": ["new", "open"]}],
        actions=[{"type": "add_note", "body": "Still waiting: follow up."}],
    )
    dana = await world.make_customer()
    quiet = (await open_conversation(client, headers, dana.id, "x"))["id"]
    fresh = (await open_conversation(client, headers, dana.id, "y"))["id"]
    async with db.writer() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == quiet)
            .values(updated_at=datetime.now(UTC) - timedelta(hours=2))
        )
        await session.commit()
    now = datetime.now(UTC)
    assert await run_idle_rules(db, None, now) == 1
    assert await run_idle_rules(db, None, now) == 0
    notes = [m.body for m in await messages_of(db, quiet) if m.is_internal]
    assert notes == ["Still waiting: follow up."]
    assert not [m for m in await messages_of(db, fresh) if m.is_internal]
    # The note updated it, so its next quiet spell starts there; an hour on, both are due.
    assert await run_idle_rules(db, None, now + timedelta(minutes=59)) == 0
    assert await run_idle_rules(db, None, now + timedelta(minutes=61)) == 2


async def test_a_stale_rule_action_is_skipped_without_failing_the_message(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    headers = world.alice.headers
    macro = await client.post(
        f"{API}/macros", json={"name": "Gone", "bodies": {"en": "hi"}}, headers=headers
    )
    await make_rule(
        client,
        headers,
        actions=[
            {"type": "reply_macro", "macro_id": macro.json()["id"]},
            {"type": "add_tags", "tags": ["after"]},
        ],
    )
    await client.delete(f"{API}/macros/{macro.json()['id']}", headers=headers)
    dana = await world.make_customer()
    found = await open_conversation(client, headers, dana.id, "x")
    assert found["tags"] == ["after"]
    kinds = [e.kind for e in await history_of(db, found["id"])]
    assert "automation_skipped" in kinds
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(RuleFiring)) == 1


async def test_the_demo_rules_send_a_vip_withdrawal_to_the_vip_desk_as_urgent(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    from ledgerdesk.accounts.actions import do_create_team
    from ledgerdesk.automation.demo import seed_automation_demo
    from ledgerdesk.db.uow import UnitOfWork

    async with UnitOfWork(db.write_sessionmaker()) as uow:
        vip = await do_create_team(uow, actor=None, name="VIP desk")
        await seed_automation_demo(
            uow,
            support_team_ids=[world.support.id],
            vip_team_id=vip.id,
            security_team_id=world.security.id,
        )
        await uow.commit()
    dana = await world.make_customer("Dana")
    await _vip(db, dana)
    token = {"Authorization": f"Bearer {await world.customer_token(dana)}"}
    opened = await client.post(f"{API}/conversations", json={"body": "hello"}, headers=token)
    cid = opened.json()["id"]
    sent = await client.post(
        f"{API}/conversations/{cid}/messages", json={"body": "我的提现卡住了"}, headers=token
    )
    assert sent.status_code == 201, sent.text
    found = await conversation(db, cid)
    assert (found.team_id, found.priority, found.tags) == (vip.id, "urgent", ["vip-withdrawal"])
    hacked = await client.post(
        f"{API}/conversations/{cid}/messages",
        json={"body": "and my account was HACKED"},
        headers=token,
    )
    assert hacked.status_code == 201
    found = await conversation(db, cid)
    assert found.team_id == world.security.id
    replies = [m.body for m in await messages_of(db, cid) if m.author_kind == "system"]
    assert any("security team" in body for body in replies)
