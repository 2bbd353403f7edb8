"""Helpers shared by the automation, routing and macro tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from ledgerdesk.accounts.models import Agent
from ledgerdesk.channels.webchat.models import AgentPresence
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.db.engine import Database
from tests.api_support import API, Headers


async def make_rule(
    client: httpx.AsyncClient, headers: Headers, expect: int = 201, **fields: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "rule",
        "trigger": "conversation.created",
        "actions": [{"type": "add_tags", "tags": ["seen"]}],
        **fields,
    }
    response = await client.post(f"{API}/automation/rules", json=payload, headers=headers)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


async def open_conversation(
    client: httpx.AsyncClient, headers: Headers, customer_id: int, body: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": customer_id}, "body": body, **fields},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def conversation(db: Database, conversation_id: int) -> Conversation:
    async with db.session() as session:
        found = await session.get(Conversation, conversation_id)
    assert found is not None
    return found


async def messages_of(db: Database, conversation_id: int) -> list[Message]:
    async with db.session() as session:
        found = await session.execute(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
        return list(found.scalars())


async def history_of(db: Database, conversation_id: int) -> list[ConversationEvent]:
    async with db.session() as session:
        found = await session.execute(
            select(ConversationEvent)
            .where(ConversationEvent.conversation_id == conversation_id)
            .order_by(ConversationEvent.id)
        )
        return list(found.scalars())


async def set_online(db: Database, *agents: Agent, online: bool = True) -> None:
    """Mark agents connected (a fresh presence row) and choosing online, or offline."""
    async with db.writer() as session:
        for agent in agents:
            row = await session.get(Agent, agent.id)
            assert row is not None
            row.presence_status = "online" if online else "offline"
            presence = await session.get(AgentPresence, agent.id)
            if presence is None:
                presence = AgentPresence(agent_id=agent.id)
                session.add(presence)
            presence.status = "online" if online else "offline"
            presence.last_seen_at = datetime.now(UTC)
        await session.commit()
