"""Secrets pasted into a conversation never reach the database, the logs or the clients.

The web chat test runs a real uvicorn and a real WebSocket client; afterwards it reads
every row of every table (and, on SQLite, the database file and its WAL byte for byte)
looking for any word of the seed phrase.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from mnemonic import Mnemonic
from sqlalchemy import select, text
from websockets.asyncio.client import connect

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.db.engine import Database
from ledgerdesk.db.registry import Base
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.safety.actions import do_add_denylist_entry, do_add_official_channel
from ledgerdesk.safety.denylist import denylist_cache
from ledgerdesk.safety.guard import forget_official_domains
from tests.api_support import bearer
from tests.conftest import LiveServer, World
from tests.webchat_support import Chat, make_chat, visitor

TIMEOUT = 5.0


def _phrase(language: str = "english") -> str:
    # 24 words: more fragments for the "appears nowhere" checks to look for.
    return str(Mnemonic(language).generate(256))


def _fragments(phrase: str) -> list[str]:
    """Every run of three words of the phrase: single BIP-39 words ("wallet", "support")
    occur in ordinary text, three in the phrase's order do not."""
    words = phrase.split()
    return [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]


async def _all_rows_as_text(db: Database) -> str:
    chunks: list[str] = []
    async with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = await connection.execute(text(f'SELECT * FROM "{table.name}"'))  # noqa: S608
            chunks.extend(repr(tuple(row)) for row in rows)
    return "\n".join(chunks)


def _sqlite_files(db: Database) -> list[Path]:
    if not db.is_sqlite:
        return []
    path = Path(str(db.engine.url.database))
    return [p for p in (path, Path(f"{path}-wal")) if p.exists()]


async def _conversation(db: Database, number: int) -> Conversation:
    async with db.sessionmaker() as read:
        found = await read.get(Conversation, number)
    assert found is not None
    return found


async def _messages(db: Database, conversation_id: int) -> list[Message]:
    async with db.sessionmaker() as read:
        rows = await read.execute(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
        return list(rows.scalars())


async def test_a_seed_phrase_sent_over_the_api_is_stored_redacted_flagged_and_urgent(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    dana = await world.make_customer("Dana")
    token = await world.customer_token(dana)
    phrase = _phrase()
    response = await client.post(
        "/api/v1/conversations",
        json={"body": f"support asked me to confirm my wallet: {phrase}", "subject": "wallet"},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    # Runs of three words, not one word: "all" occurs inside other text of the answer
    # (a single-word check failed once on a random phrase).
    assert not [f for f in _fragments(phrase) if f in response.text]
    conversation = await _conversation(db, response.json()["id"])
    assert conversation.priority == "urgent"
    assert conversation.risk_flags == ["secret_shared"]
    first, notice = await _messages(db, conversation.id)
    assert first.body == "support asked me to confirm my wallet: [seed phrase removed]"
    assert first.safety_flags == ["mnemonic"]
    assert notice.author_kind == "system" and not notice.is_internal
    assert "never ask for your seed phrase" in notice.body
    assert "new wallet" in notice.body
    async with db.sessionmaker() as read:
        kinds = list(
            (
                await read.execute(
                    select(ConversationEvent.kind).where(
                        ConversationEvent.conversation_id == conversation.id
                    )
                )
            ).scalars()
        )
    assert {"risk_flagged", "priority_changed"} <= set(kinds)
    rows = await _all_rows_as_text(db)
    assert not any(word in rows for word in _fragments(phrase))


async def test_a_chinese_customer_is_warned_in_chinese_and_an_agent_reply_is_redacted_too(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    mei = await world.make_customer("Mei")
    token = await world.customer_token(mei)
    created = await client.post(
        "/api/v1/conversations",
        json={"body": "我的充值没有到账", "language": "zh-Hans"},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    number = created.json()["id"]
    phrase = _phrase("chinese_simplified")
    sent = await client.post(
        f"/api/v1/conversations/{number}/messages",
        json={"body": f"这是我的助记词：{phrase}"},
        headers=bearer(token),
    )
    assert sent.status_code == 201, sent.text
    messages = await _messages(db, number)
    assert messages[1].body == "这是我的助记词：[助记词已删除]"
    assert "客服绝不会向您索要助记词" in messages[2].body
    assert (await _conversation(db, number)).priority == "urgent"

    key = "a" * 63 + "b"  # shaped like a raw private key, and called one
    # A shared secret sent the case to the private Security team (docs/routing.md):
    # carol, a member, answers.
    reply = await client.post(
        f"/api/v1/conversations/{number}/messages",
        json={"body": f"Never share a private key like {key} with anyone"},
        headers=world.carol.headers,
    )
    assert reply.status_code == 201, reply.text
    stored = (await _messages(db, number))[-1]
    # Labels are in the conversation's language, whoever wrote the message.
    assert stored.body == "Never share a private key like [私钥已删除] with anyone"
    assert stored.author_kind == "agent", "no customer notice follows an agent's message"


async def test_a_lookalike_link_and_a_scam_script_are_flagged_and_explained_to_the_customer(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        await do_add_official_channel(
            uow, actor=Principal(agent=world.alice.agent), kind="domain", value="harbor.exchange"
        )
        await do_add_denylist_entry(
            uow,
            actor=Principal(agent=world.alice.agent),
            kind="address",
            value="TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL",
        )
        await uow.commit()
    forget_official_domains()
    denylist_cache.clear()
    dana = await world.make_customer("Dana")
    token = await world.customer_token(dana)
    created = await client.post(
        "/api/v1/conversations",
        json={
            "body": "Your agent on Telegram says I must pay an unfreeze fee to "
            "TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL and log in at https://harb0r.exchange/login"
        },
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    conversation = await _conversation(db, created.json()["id"])
    assert conversation.risk_flags == ["denied_address", "phishing_link", "scam_script"]
    assert conversation.priority == "normal", "no secret was shared"
    first, notice = await _messages(db, conversation.id)
    assert "https://harb0r.exchange/login" in first.body, "links are flagged, not removed"
    assert {"phishing_link", "scam_script", "denied_address"} <= set(first.safety_flags or [])
    assert "harb0r.exchange" in notice.body and "known scam" in notice.body


async def test_a_seed_phrase_in_the_web_chat_reaches_no_table_file_log_or_client(
    live_server: LiveServer,
    app: Any,
    world: World,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    chat: Chat = await make_chat(app.state.ledgerdesk, world)
    phrase = _phrase()
    fragments = _fragments(phrase)
    received: list[str] = []
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        session = await visitor(http, chat)
    async with (
        connect(live_server.ws_url) as widget,
        connect(live_server.ws_url) as agent_socket,
    ):
        await agent_socket.send(json.dumps({"type": "hello", "token": world.bob.token}))
        await widget.send(json.dumps({"type": "hello", "token": session["token"]}))
        await widget.send(
            json.dumps({"type": "send", "client_id": "c-1", "body": f"my words: {phrase}"})
        )

        async def collect(socket: Any, until: str) -> None:
            while True:
                frame = await asyncio.wait_for(socket.recv(), TIMEOUT)
                received.append(frame)
                if until in frame:
                    return

        # Both sides see the redaction and then the notice.
        await collect(widget, "never ask for your seed phrase")
        await collect(agent_socket, "never ask for your seed phrase")
    async with connect(live_server.ws_url) as again:
        # A reconnecting widget gets its history in the snapshot.
        await again.send(json.dumps({"type": "hello", "token": session["token"]}))
        await collect(again, '"ready"')
    assert any("[seed phrase removed]" in frame for frame in received)
    # The test's own WebSocket client logs what it sends; the server's loggers must not.
    server_logs = "\n".join(
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith("websockets.client")
    )
    assert server_logs, "nothing was logged, so the check below would prove nothing"
    for word in fragments:
        assert not any(word in frame for frame in received), "a client saw the phrase"
        assert word not in server_logs, "a log line holds the phrase"
    rows = await _all_rows_as_text(db)
    assert "[seed phrase removed]" in rows
    assert not any(word in rows for word in fragments)
    async with db.engine.connect() as connection:
        if db.is_sqlite:
            await connection.execute(text("PRAGMA wal_checkpoint(FULL)"))
    for path in _sqlite_files(db):
        raw = path.read_bytes()
        assert not any(word.encode() in raw for word in fragments), f"{path.name} holds the phrase"
