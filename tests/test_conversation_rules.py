"""Rules the conversation and customer actions enforce themselves, whoever calls them."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.conversations.actions import (
    do_add_message,
    do_create_conversation,
    do_create_inbox,
    do_update_conversation,
)
from ledgerdesk.conversations.models import Conversation, ConversationEvent
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput, PermissionDenied
from tests.conftest import World


async def _open(client: httpx.AsyncClient, world: World, **fields: object) -> dict[str, object]:
    customer = await world.make_customer()
    response = await client.post(
        "/api/v1/conversations",
        json={"customer": {"id": customer.id}, "body": "My BTC withdrawal is stuck", **fields},
        headers=world.alice.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def _status_events(db: Database, conversation_id: object) -> list[dict[str, object]]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(ConversationEvent.data)
            .where(
                ConversationEvent.conversation_id == conversation_id,
                ConversationEvent.kind == "status_changed",
            )
            .order_by(ConversationEvent.id)
        )
        return list(rows.scalars())


async def test_assigning_a_new_conversation_opens_it_and_says_so_in_the_history(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    conversation = await _open(client, world)
    response = await client.patch(
        f"/api/v1/conversations/{conversation['id']}",
        json={"assignee_id": world.bob.agent.id},
        headers=world.alice.headers,
    )
    assert response.json()["status"] == "open"
    assert await _status_events(db, conversation["id"]) == [{"from": "new", "to": "open"}]


async def test_reopening_clears_the_solved_time(client: httpx.AsyncClient, world: World) -> None:
    conversation = await _open(client, world)
    path = f"/api/v1/conversations/{conversation['id']}"
    solved = await client.patch(path, json={"status": "solved"}, headers=world.bob.headers)
    assert solved.json()["solved_at"] is not None
    reopened = await client.patch(path, json={"status": "open"}, headers=world.bob.headers)
    assert reopened.json()["solved_at"] is None


async def test_a_customer_reply_reopens_a_solved_conversation_with_a_history_row(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    customer = await world.make_customer()
    token = await world.customer_token(customer)
    created = await client.post(
        "/api/v1/conversations",
        json={"body": "Deposit missing"},
        headers={"Authorization": f"Bearer {token}"},
    )
    number = created.json()["id"]
    await client.patch(
        f"/api/v1/conversations/{number}", json={"status": "solved"}, headers=world.bob.headers
    )
    await client.post(
        f"/api/v1/conversations/{number}/messages",
        json={"body": "It is still not there!"},
        headers={"Authorization": f"Bearer {token}"},
    )
    current = await client.get(f"/api/v1/conversations/{number}", headers=world.bob.headers)
    assert (current.json()["status"], current.json()["solved_at"]) == ("open", None)
    assert await _status_events(db, number) == [
        {"from": "new", "to": "solved"},
        {"from": "solved", "to": "open"},
    ]


async def test_a_private_team_conversation_cannot_go_to_an_outsider(
    client: httpx.AsyncClient, world: World
) -> None:
    conversation = await _open(client, world, team_id=world.security.id)
    refused = await client.patch(
        f"/api/v1/conversations/{conversation['id']}",
        json={"assignee_id": world.bob.agent.id},
        headers=world.alice.headers,
    )
    assert refused.status_code == 422
    assert "not in the private team Security" in refused.json()["error"]["message"]
    allowed = await client.patch(
        f"/api/v1/conversations/{conversation['id']}",
        json={"assignee_id": world.carol.agent.id},
        headers=world.alice.headers,
    )
    assert allowed.status_code == 200
    moved = await _open(client, world, assignee_id=world.bob.agent.id)
    refused_move = await client.patch(
        f"/api/v1/conversations/{moved['id']}",
        json={"team_id": world.security.id},
        headers=world.alice.headers,
    )
    assert refused_move.status_code == 422


async def test_the_update_action_checks_permission_itself(world: World, db: Database) -> None:
    customer = await world.make_customer()
    other = await world.make_customer()
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        conversation, _ = await do_create_conversation(
            uow, actor=None, customer=customer, body="hello"
        )
        await uow.commit()
        with pytest.raises(PermissionDenied):
            await do_update_conversation(
                uow,
                actor=Principal(agent=world.victor.agent),
                conversation=conversation,
                priority="high",
            )
        with pytest.raises(PermissionDenied):
            await do_update_conversation(
                uow,
                actor=Principal(customer_id=other.id, scopes=frozenset({"conversations:write"})),
                conversation=conversation,
                status="solved",
            )
        with pytest.raises(PermissionDenied):
            await do_update_conversation(
                uow,
                actor=Principal(agent=world.bob.agent, scopes=frozenset({"conversations:read"})),
                conversation=conversation,
                priority="high",
            )


async def test_a_message_needs_an_author(world: World, db: Database) -> None:
    customer = await world.make_customer()
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        conversation, _ = await do_create_conversation(
            uow, actor=None, customer=customer, body="hello"
        )
        with pytest.raises(InvalidInput, match="needs an author"):
            await do_add_message(uow, actor=None, conversation=conversation, body="who am I")
        with pytest.raises(InvalidInput, match="channel"):
            await do_add_message(
                uow,
                actor=None,
                customer=customer,
                conversation=conversation,
                body="hi",
                channel="carrier-pigeon",
            )


async def test_a_merged_customer_cannot_open_conversations(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    survivor = await world.make_customer("Ana")
    absorbed = await world.make_customer("Ana (old account)")
    await client.post(
        f"/api/v1/customers/{survivor.id}/merge",
        json={"other_id": absorbed.id},
        headers=world.alice.headers,
    )
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        stale = await uow.session.get(type(absorbed), absorbed.id)
        assert stale is not None
        with pytest.raises(InvalidInput, match=f"merged into customer {survivor.id}"):
            await do_create_conversation(uow, actor=None, customer=stale, body="hello")
        count = (await uow.session.execute(select(Conversation.id))).all()
    assert count == []


async def test_inbox_names_are_unique_and_not_empty(world: World, db: Database) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        await do_create_inbox(uow, actor=None, name="Website chat", channel="webchat")
        with pytest.raises(Conflict):
            await do_create_inbox(uow, actor=None, name=" Website chat ", channel="webchat")
        with pytest.raises(InvalidInput):
            await do_create_inbox(uow, actor=None, name="  ", channel="email")


async def test_a_repeated_identity_is_one_identity_and_an_email_identity_fills_email(
    world: World, db: Database
) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        customer = await do_create_customer(
            uow,
            actor=None,
            name="Lee",
            identities=[("telegram", "@lee"), ("telegram", "@lee"), ("email", "Lee@Example.org")],
        )
        await uow.commit()
    assert customer.email == "lee@example.org"
