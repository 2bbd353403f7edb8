"""The widget over the real-time endpoint, against a real uvicorn: its conversations reach
the inbox's team, its attachments are its own, fast senders are slowed down without
losing anything, and agents' connections make them "online"."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect

from ledgerdesk.accounts.ratelimit import MemoryRateLimiter
from ledgerdesk.channels.webchat.actions import do_touch_presence
from ledgerdesk.channels.webchat.models import AgentPresence
from ledgerdesk.channels.webchat.queries import agents_online
from ledgerdesk.channels.webchat.runtime import WebchatRuntime
from ledgerdesk.conversations.models import Conversation, Inbox, Message
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import InvalidInput
from ledgerdesk.settings import load_settings
from tests.conftest import LiveServer, World
from tests.webchat_support import (
    Chat,
    assert_error,
    bearer,
    http,
    make_chat,
    png_bytes,
    realtime,
    visitor,
)


@pytest.fixture
async def chat(app: Any, world: World) -> Chat:
    return await make_chat(app.state.ledgerdesk, world)


async def test_a_widget_conversation_lands_in_its_inbox_and_the_inbox_team(
    live_server: LiveServer, chat: Chat, world: World, db: Database
) -> None:
    async with http(live_server) as client:
        session = await visitor(client, chat)
    async with realtime(live_server, session["token"]) as widget:
        await widget.send(type="send", client_id="w-1", body="My BTC withdrawal is pending")
        ack = await widget.next("ack")
    async with db.sessionmaker() as read:
        conversation = await read.get(Conversation, ack["conversation_id"])
    assert conversation is not None
    assert (conversation.inbox_id, conversation.team_id) == (chat.inbox.id, world.support.id)
    assert conversation.channel == "webchat"


async def test_a_send_may_only_carry_files_the_visitor_uploaded_with_their_stored_metadata(
    live_server: LiveServer, chat: Chat, db: Database
) -> None:
    async with http(live_server) as client:
        mei = await visitor(client, chat)
        erin = await visitor(client, chat)
        uploaded = await client.post(
            "/widget/v1/attachments",
            files={"file": ("tx.png", png_bytes(3, 3), "image/png")},
            headers=bearer(mei["token"]),
        )
        theirs = await client.post(
            "/widget/v1/attachments",
            files={"file": ("erin.png", png_bytes(9, 9), "image/png")},
            headers=bearer(erin["token"]),
        )
    meta = uploaded.json()
    async with realtime(live_server, mei["token"]) as widget:
        for client_id, attachment in (
            ("bad-url", {**meta, "url": "https://evil.example/x.png"}),
            ("not-mine", theirs.json()),
        ):
            await widget.send(
                type="send", client_id=client_id, body="see attached", attachments=[attachment]
            )
            refused = await widget.next("error")
            assert (refused["client_id"], refused["code"]) == (client_id, "invalid_input")
        claimed = {**meta, "filename": "invoice.exe", "content_type": "text/html", "size": 1}
        await widget.send(type="send", client_id="ok", body="", attachments=[claimed], subject="x")
        refused_empty = await widget.next("error")
        assert "must not be empty" in refused_empty["error"], "a first message needs text"
        await widget.send(type="send", client_id="ok", body="📎 tx.png", attachments=[claimed])
        ack = await widget.next("ack")
    async with db.sessionmaker() as read:
        message = (
            await read.execute(select(Message).where(Message.id == ack["message_id"]))
        ).scalar_one()
    assert message.attachments == [meta], "the stored metadata wins over the frame's claims"


async def test_sending_too_fast_is_refused_with_a_clear_message_and_nothing_accepted_is_lost(
    live_server: LiveServer, app: Any, chat: Chat, db: Database
) -> None:
    app.state.ledgerdesk.webchat.sends.per_visitor = MemoryRateLimiter(3, 60)
    async with http(live_server) as client:
        session = await visitor(client, chat)
    async with realtime(live_server, session["token"]) as widget:
        answers = []
        for number in range(5):
            frame: dict[str, Any] = {
                "type": "send",
                "client_id": f"m-{number}",
                "body": f"{number}",
            }
            if answers and answers[0]["type"] == "ack":
                frame["conversation_id"] = answers[0]["conversation_id"]
            await widget.send(**frame)
            answers.append(await widget.next("ack", "error"))
        # The first message's ack got lost; the widget resends it while still limited.
        await widget.send(type="send", client_id="m-0", body="0")
        resent = await widget.next("ack", "error")

    assert [a["type"] for a in answers] == ["ack", "ack", "ack", "error", "error"]
    limited = answers[3]
    assert limited["code"] == "rate_limited" and limited["client_id"] == "m-3"
    assert 1 <= limited["retry_after"] <= 60
    assert f"try again in {limited['retry_after']} seconds" in limited["error"]
    assert resent["type"] == "ack" and resent["duplicate"] is True
    assert resent["message_id"] == answers[0]["message_id"]
    async with db.sessionmaker() as read:
        bodies = (await read.execute(select(Message.body).order_by(Message.id))).scalars()
        assert list(bodies) == ["0", "1", "2"], "every acked message is stored, once"

    # Once the window has passed, the refused messages go through.
    app.state.ledgerdesk.webchat.sends.per_visitor = MemoryRateLimiter(3, 60)
    async with realtime(live_server, session["token"]) as widget:
        for number in (3, 4):
            await widget.send(
                type="send",
                client_id=f"m-{number}",
                body=f"{number}",
                conversation_id=answers[0]["conversation_id"],
            )
            assert (await widget.next("ack", "error"))["type"] == "ack"
    async with db.sessionmaker() as read:
        assert (await read.scalar(select(func.count()).select_from(Message))) == 5


async def test_agents_are_not_rate_limited_like_visitors(
    live_server: LiveServer, app: Any, chat: Chat, world: World
) -> None:
    app.state.ledgerdesk.webchat.sends.per_ip = MemoryRateLimiter(1, 60)
    async with http(live_server) as client:
        session = await visitor(client, chat)
    async with realtime(live_server, session["token"]) as widget:
        await widget.send(type="send", client_id="v", body="hello")
        conversation_id = (await widget.next("ack"))["conversation_id"]
    async with realtime(live_server, world.bob.token) as bob:
        for number in range(3):
            await bob.send(
                type="send", client_id=f"b-{number}", conversation_id=conversation_id, body="hi"
            )
            assert (await bob.next("ack", "error"))["type"] == "ack"


async def test_starting_sessions_too_fast_gets_a_429_with_retry_after(
    client: httpx.AsyncClient, app: Any, chat: Chat
) -> None:
    app.state.ledgerdesk.webchat.sessions.per_ip = MemoryRateLimiter(2, 60)
    for _ in range(2):
        await visitor(client, chat)
    refused = await client.post(
        "/widget/v1/session", json={"inbox": chat.key}, headers={"Origin": "https://harbor.example"}
    )
    error = assert_error(refused, 429, "too many chat sessions", "try again in")
    assert error["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["access-control-allow-origin"] == "https://harbor.example"
    assert "Retry-After" in refused.headers["access-control-expose-headers"]


async def test_one_visitor_cannot_start_endless_sessions_from_many_addresses(
    client: httpx.AsyncClient, app: Any, chat: Chat
) -> None:
    app.state.ledgerdesk.webchat.sessions.per_visitor = MemoryRateLimiter(2, 60)
    token = (await visitor(client, chat))["token"]
    await visitor(client, chat, visitor_token=token)
    await visitor(client, chat, visitor_token=token)
    refused = await client.post(
        "/widget/v1/session",
        json={"inbox": chat.key, "visitor_token": token},
        headers={"Origin": "https://harbor.example"},
    )
    assert_error(refused, 429)
    assert (await visitor(client, chat))["token"] != token, "other visitors still get in"


async def test_uploading_too_fast_gets_a_429_and_earlier_uploads_stay_available(
    client: httpx.AsyncClient, app: Any, chat: Chat
) -> None:
    app.state.ledgerdesk.webchat.uploads.per_visitor = MemoryRateLimiter(2, 60)
    token = (await visitor(client, chat))["token"]
    urls = []
    for size in (1, 2):
        response = await client.post(
            "/widget/v1/attachments",
            files={"file": ("a.png", png_bytes(size, size), "image/png")},
            headers=bearer(token),
        )
        urls.append(response.json()["url"])
    refused = await client.post(
        "/widget/v1/attachments",
        files={"file": ("a.png", png_bytes(3, 3), "image/png")},
        headers=bearer(token),
    )
    assert_error(refused, 429, "too many uploads", "try again in")
    assert refused.headers["retry-after"]
    for url in urls:
        assert (await client.get(url, headers=bearer(token))).status_code == 200


def test_the_widget_limits_come_from_settings() -> None:
    settings = load_settings(
        environ={
            "LEDGERDESK_WIDGET_SENDS_PER_MINUTE_PER_VISITOR": "7",
            "LEDGERDESK_WIDGET_UPLOADS_PER_MINUTE_PER_IP": "9",
            "LEDGERDESK_WIDGET_MAX_UPLOAD_BYTES": "2048",
        }
    )
    runtime = WebchatRuntime.from_settings(settings)
    assert runtime.sends.per_visitor.limit == 7
    assert runtime.uploads.per_ip.limit == 9
    assert settings.widget_max_upload_bytes == 2048


# Presence ---------------------------------------------------------------------------


async def _online(client: httpx.AsyncClient, chat: Chat) -> bool:
    return bool((await visitor(client, chat))["agents_online"])


async def test_an_agent_is_online_after_a_realtime_hello_and_offline_a_minute_later(
    live_server: LiveServer, app: Any, chat: Chat, world: World
) -> None:
    state = app.state.ledgerdesk
    async with http(live_server) as client:
        assert await _online(client, chat) is False
        async with realtime(live_server, world.bob.token):
            assert await _online(client, chat) is True
            # Nothing heard from Bob's connection for a minute (the clock moves, no sleep).
            later = datetime.now(UTC) + timedelta(seconds=61)
            state.webchat.clock = lambda: later
            assert await _online(client, chat) is False


async def test_a_heartbeat_keeps_an_agent_online(
    live_server: LiveServer, app: Any, chat: Chat, world: World, db: Database
) -> None:
    state = app.state.ledgerdesk
    async with http(live_server) as client, realtime(live_server, world.bob.token) as bob:
        later = datetime.now(UTC) + timedelta(seconds=50)
        state.webchat.clock = lambda: later
        state.webchat.presence_touches.clear()  # as if 20 s had passed since the last write
        await bob.send(type="ping")
        await bob.next("pong")
        async with db.sessionmaker() as read:
            seen = (await read.execute(select(AgentPresence.last_seen_at))).scalar_one()
        assert seen == later
        state.webchat.clock = lambda: later + timedelta(seconds=55)
        assert await _online(client, chat) is True


async def test_only_agents_who_answer_the_inbox_count_as_online(
    live_server: LiveServer, chat: Chat, world: World
) -> None:
    async with http(live_server) as client:
        # Carol is in Security, Victor is a viewer; the inbox belongs to Support (Bob).
        async with (
            realtime(live_server, world.carol.token),
            realtime(live_server, world.victor.token),
        ):
            assert await _online(client, chat) is False
        visitor_session = await visitor(client, chat)
        async with realtime(live_server, visitor_session["token"]):
            assert await _online(client, chat) is False, "visitors are not agents"


async def test_presence_is_an_upsert_and_away_or_offline_is_not_online(
    db: Database, world: World, chat: Chat
) -> None:
    now = datetime.now(UTC)
    inbox = chat.inbox
    for status, expected in (
        ("online", True),
        ("away", False),
        ("online", True),
        ("offline", False),
    ):
        async with UnitOfWork(db.write_sessionmaker()) as uow:
            await do_touch_presence(uow, world.bob.agent.id, status, now)
            await uow.commit()
        async with db.sessionmaker() as read:
            assert await agents_online(read, inbox, now) is expected, status
            rows = await read.scalar(select(func.count()).select_from(AgentPresence))
        assert rows == 1
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        with pytest.raises(InvalidInput):
            await do_touch_presence(uow, world.bob.agent.id, "busy", now)


async def test_an_inbox_without_a_team_is_answered_by_any_agent(
    db: Database, world: World, chat: Chat
) -> None:
    now = datetime.now(UTC)
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        await do_touch_presence(uow, world.carol.agent.id, "online", now)
        inbox = await uow.session.get(Inbox, chat.inbox.id)
        assert inbox is not None
        inbox.default_team_id = None
        await uow.commit()
    async with db.sessionmaker() as read:
        assert await agents_online(read, inbox, now) is True
        assert await agents_online(read, inbox, now + timedelta(seconds=60)) is False


async def test_a_widget_token_connects_only_from_the_sites_its_inbox_allows(
    live_server: LiveServer, chat: Chat
) -> None:
    from websockets.exceptions import ConnectionClosed

    from tests.webchat_support import EVIL, SITE

    async with http(live_server) as client:
        session = await visitor(client, chat)
    async with connect(live_server.ws_url, additional_headers={"Origin": SITE}) as raw:
        await raw.send(json.dumps({"type": "hello", "token": session["token"]}))
        assert json.loads(await asyncio.wait_for(raw.recv(), 5))["type"] == "ready"
    async with connect(live_server.ws_url, additional_headers={"Origin": EVIL}) as raw:
        await raw.send(json.dumps({"type": "hello", "token": session["token"]}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(raw.recv(), 5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
        4401,
        "this site may not use this chat",
    )
