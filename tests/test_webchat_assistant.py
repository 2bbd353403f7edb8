"""The assistant answers first in web chat: a visitor's question gets an answer from the
help center over the WebSocket, a case for a person is handed off and the assistant goes
quiet, "this helped" solves, an agent's reply or the inbox setting silences it, and the
reply job stores one answer however often it runs.

Runs against a real uvicorn (the ``live_server`` fixture) with the real-time endpoint;
BM25 only (``assistant_dense`` off), as the route and the flow are under test here, not
the embedding model.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ledgerdesk.app import create_app
from ledgerdesk.channels.webchat.assistant import (
    REPLY_JOB,
    AssistantState,
    absolute_help_links,
    assistant_may_answer,
    customer_locale,
    customer_sources,
    own_handoff_reason,
    reply_to_message,
)
from ledgerdesk.channels.webchat.models import AssistantTurn
from ledgerdesk.channels.webchat.texts import ASSISTANT_HANDOFF, TEXTS
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.jobs.models import Job
from ledgerdesk.jobs.service import create_job_runner
from ledgerdesk.knowledge.transfer import import_directory
from ledgerdesk.settings import Settings
from tests.api_support import API
from tests.assistant_fixtures import write_kb
from tests.conftest import LiveServer, World
from tests.jobs_support import FAST_JOB_SETTINGS
from tests.webchat_support import Chat, Socket, bearer, make_chat, visitor
from tests.webchat_support import realtime as widget_connection

TIMEOUT = 10.0


@pytest.fixture
async def kb(db: Database, tmp_path: Path) -> Path:
    directory = write_kb(tmp_path / "kb")
    await import_directory(db, directory)
    return directory


@pytest.fixture
def app(settings: Settings, db: Database, bus: MemoryEventBus, kb: Path):  # type: ignore[no-untyped-def]
    """The application with a BM25-only assistant (replaces conftest's ``app``)."""
    return create_app(settings.model_copy(update={"assistant_dense": False}), db=db, bus=bus)


@pytest.fixture
async def chat(app: Any, world: World) -> Chat:
    return await make_chat(app.state.ledgerdesk, world)


def realtime(server: LiveServer, token: str) -> AbstractAsyncContextManager[Socket]:
    """The widget's connection, waiting longer: the assistant answers after a job runs."""
    return widget_connection(server, token, TIMEOUT)


async def _ask(server: LiveServer, chat: Chat, body: str, **session: Any) -> dict[str, Any]:
    """A new visitor writes ``body``; returns the session and the ack."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        started = await visitor(client, chat, **session)
    async with realtime(server, started["token"]) as widget:
        await widget.send(type="send", client_id="q-1", body=body)
        ack = await widget.next("ack")
    return {"session": started, "ack": ack}


async def _jobs(db: Database) -> list[Job]:
    async with db.sessionmaker() as session:
        result = await session.execute(select(Job).where(Job.kind == REPLY_JOB).order_by(Job.id))
        return list(result.scalars())


async def _reply(app: Any, db: Database, message_id: int) -> AssistantTurn | None:
    """Run the reply job's work directly (the embedded worker does not run here)."""
    state = app.state.ledgerdesk
    return await reply_to_message(db, state.bus, app.state.assistant, message_id)


async def _conversation(db: Database, conversation_id: int) -> Conversation:
    async with db.sessionmaker() as session:
        found = await session.get(Conversation, conversation_id)
    assert found is not None
    return found


async def _messages(db: Database, conversation_id: int) -> list[Message]:
    async with db.sessionmaker() as session:
        result = await session.execute(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
        return list(result.scalars())


async def _events(db: Database, conversation_id: int, kind: str) -> list[ConversationEvent]:
    async with db.sessionmaker() as session:
        result = await session.execute(
            select(ConversationEvent).where(
                ConversationEvent.conversation_id == conversation_id,
                ConversationEvent.kind == kind,
            )
        )
        return list(result.scalars())


# The flow with the real worker --------------------------------------------------------


async def test_a_question_gets_the_help_center_answer_live_from_the_real_worker(
    app: Any, live_server: LiveServer, chat: Chat, db: Database, settings: Settings
) -> None:
    state = app.state.ledgerdesk
    runner = create_job_runner(settings.model_copy(update=FAST_JOB_SETTINGS), db, state.bus)
    await runner.start()
    try:
        async with httpx.AsyncClient(base_url=live_server.url) as client:
            started = await visitor(client, chat)
        async with realtime(live_server, started["token"]) as widget:
            await widget.send(
                type="send", client_id="q-1", body="I forgot the memo for my XRP deposit"
            )
            ack = await widget.next("ack")
            while True:
                event = await widget.next_event("message.created")
                if event["data"]["message"]["author_kind"] == "assistant":
                    break
            turn = (await widget.next_event("assistant.turn"))["data"]["turn"]
    finally:
        await runner.stop()
    answer = event["data"]["message"]
    assert answer["conversation_id"] == ack["conversation_id"]
    assert f"{settings.public_url}/help/en/a/missing-memo-tag" in answer["body"]
    assert turn["message_id"] == answer["id"]
    assert turn["ask"] is True
    assert turn["sources"][0] == {
        "title": "I forgot the memo or tag on my deposit",
        "url": "/help/en/a/missing-memo-tag",
    }
    conversation = await _conversation(db, ack["conversation_id"])
    assert conversation.assistant_state == AssistantState.ACTIVE
    [answered] = await _events(db, conversation.id, "assistant_answered")
    assert answered.data["sources"][0]["slug"] == "missing-memo-tag"
    assert answered.data["sources"][0]["score"] > 0
    assert answered.data["handoff"] is False and answered.data["message_id"] == answer["id"]
    [job] = await _jobs(db)
    assert job.status == "done"


# Hand-off, feedback, silence ----------------------------------------------------------


async def test_a_case_for_a_person_is_handed_off_and_the_assistant_stays_silent_after(
    app: Any, live_server: LiveServer, chat: Chat, db: Database
) -> None:
    asked = await _ask(live_server, chat, "My account was hacked and my funds were stolen")
    message_id = asked["ack"]["message_id"]
    turn = await _reply(app, db, message_id)
    assert turn is not None and turn.handoff
    assert turn.reason == "needs_human:account_compromised"
    conversation = await _conversation(db, asked["ack"]["conversation_id"])
    assert conversation.assistant_state == AssistantState.HANDED_OFF
    assert conversation.status in ("new", "open")
    [handoff] = await _events(db, conversation.id, "assistant_handoff")
    assert handoff.data["reason"] == "needs_human:account_compromised"
    said = [m for m in await _messages(db, conversation.id) if m.author_kind == "assistant"]
    assert len(said) == 1 and said[0].is_internal is False
    # The customer writes again: no job, and the assistant says nothing more.
    async with realtime(live_server, asked["session"]["token"]) as widget:
        await widget.send(
            type="send", client_id="q-2", conversation_id=conversation.id, body="hello?"
        )
        again = await widget.next("ack")
    assert len(await _jobs(db)) == 1
    assert await _reply(app, db, again["message_id"]) is None
    after = [m for m in await _messages(db, conversation.id) if m.author_kind == "assistant"]
    assert len(after) == 1


async def test_this_helped_solves_the_conversation(
    app: Any, live_server: LiveServer, chat: Chat, db: Database
) -> None:
    asked = await _ask(live_server, chat, "How much is the USDT withdrawal fee on TRC20?")
    turn = await _reply(app, db, asked["ack"]["message_id"])
    assert turn is not None and not turn.handoff
    token = asked["session"]["token"]
    payload = {
        "conversation_id": asked["ack"]["conversation_id"],
        "message_id": turn.answer_message_id,
        "verdict": "helped",
    }
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/widget/v1/assistant/feedback", json=payload, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "solved"
        assert response.json()["assistant_state"] == "resolved"
        # A double click changes nothing; "human" after "helped" is refused clearly.
        again = await client.post(
            "/widget/v1/assistant/feedback", json=payload, headers=bearer(token)
        )
        assert again.status_code == 200
        other = await client.post(
            "/widget/v1/assistant/feedback",
            json={**payload, "verdict": "human"},
            headers=bearer(token),
        )
        assert other.status_code == 409, other.text
        unknown = await client.post(
            "/widget/v1/assistant/feedback",
            json={**payload, "verdict": "maybe"},
            headers=bearer(token),
        )
        assert unknown.status_code == 422
    conversation = await _conversation(db, payload["conversation_id"])
    assert (conversation.status, conversation.assistant_state) == ("solved", "resolved")
    assert len(await _events(db, conversation.id, "assistant_resolved")) == 1


async def test_talk_to_a_person_hands_off_in_the_customers_language(
    app: Any, live_server: LiveServer, chat: Chat, db: Database
) -> None:
    asked = await _ask(live_server, chat, "提现手续费是多少？TRC20", language="zh-CN")
    turn = await _reply(app, db, asked["ack"]["message_id"])
    assert turn is not None and not turn.handoff and turn.locale == "zh-Hans"
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/widget/v1/assistant/feedback",
            json={
                "conversation_id": asked["ack"]["conversation_id"],
                "message_id": turn.answer_message_id,
                "verdict": "human",
            },
            headers=bearer(asked["session"]["token"]),
        )
        assert response.status_code == 200, response.text
        # Someone else's token cannot rate this answer.
        stranger = await visitor(client, chat)
        refused = await client.post(
            "/widget/v1/assistant/feedback",
            json={
                "conversation_id": asked["ack"]["conversation_id"],
                "message_id": turn.answer_message_id,
                "verdict": "helped",
            },
            headers=bearer(stranger["token"]),
        )
        assert refused.status_code == 404
    conversation = await _conversation(db, asked["ack"]["conversation_id"])
    assert conversation.assistant_state == AssistantState.HANDED_OFF
    [handoff] = await _events(db, conversation.id, "assistant_handoff")
    assert handoff.data["reason"] == "customer_request"
    last = (await _messages(db, conversation.id))[-1]
    assert (last.author_kind, last.body) == ("assistant", ASSISTANT_HANDOFF["zh-Hans"])


async def test_an_agent_reply_stops_the_assistant(
    app: Any, live_server: LiveServer, chat: Chat, db: Database, world: World
) -> None:
    asked = await _ask(live_server, chat, "I forgot the memo for my XRP deposit")
    conversation_id = asked["ack"]["conversation_id"]
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        reply = await client.post(
            f"{API}/conversations/{conversation_id}/messages",
            json={"body": "Hi, Bob here, let me check."},
            headers=world.bob.headers,
        )
        assert reply.status_code == 201, reply.text
    # The job enqueued before the agent replied finds a person involved and stays quiet.
    assert await _reply(app, db, asked["ack"]["message_id"]) is None
    conversation = await _conversation(db, conversation_id)
    assert conversation.assistant_state == AssistantState.HANDED_OFF
    [handoff] = await _events(db, conversation_id, "assistant_handoff")
    assert handoff.data["reason"] == "agent_replied"
    assert all(m.author_kind != "assistant" for m in await _messages(db, conversation_id))


async def test_with_assistant_first_off_no_answer_is_even_planned(
    live_server: LiveServer, chat: Chat, db: Database, world: World
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        changed = await client.patch(
            f"{API}/webchat/inboxes/{chat.inbox.id}",
            json={"assistant_first": False},
            headers=world.alice.headers,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["assistant_first"] is False
        not_admin = await client.patch(
            f"{API}/webchat/inboxes/{chat.inbox.id}",
            json={"assistant_first": True},
            headers=world.bob.headers,
        )
        assert not_admin.status_code == 403
        bad = await client.patch(
            f"{API}/webchat/inboxes/{chat.inbox.id}",
            json={"assistant_first": "sometimes"},
            headers=world.alice.headers,
        )
        assert bad.status_code == 422
    await _ask(live_server, chat, "I forgot the memo for my XRP deposit")
    assert await _jobs(db) == []


async def test_the_reply_job_stores_one_answer_however_often_it_runs(
    app: Any, live_server: LiveServer, chat: Chat, db: Database
) -> None:
    asked = await _ask(live_server, chat, "I forgot the memo for my XRP deposit")
    message_id = asked["ack"]["message_id"]
    first = await _reply(app, db, message_id)
    second = await _reply(app, db, message_id)
    assert first is not None and second is None
    concurrent = await asyncio.gather(*(_reply(app, db, message_id) for _ in range(3)))
    assert concurrent == [None, None, None]
    async with db.sessionmaker() as session:
        turns = await session.scalar(select(func.count()).select_from(AssistantTurn))
    assert turns == 1
    said = [
        m
        for m in await _messages(db, asked["ack"]["conversation_id"])
        if m.author_kind == "assistant"
    ]
    assert len(said) == 1


async def test_a_conversation_flagged_for_a_secret_goes_to_a_person(
    app: Any, live_server: LiveServer, chat: Chat, db: Database
) -> None:
    phrase = "abandon ability able about above absent absorb abstract absurd abuse access accident"
    asked = await _ask(live_server, chat, f"my deposit is missing, my seed is {phrase}")
    conversation = await _conversation(db, asked["ack"]["conversation_id"])
    assert conversation.risk_flags, "the safety scanner flags a shared seed phrase"
    turn = await _reply(app, db, asked["ack"]["message_id"])
    assert turn is not None and turn.handoff and (turn.reason or "").startswith("risk:")
    last = (await _messages(db, conversation.id))[-1]
    assert last.body == ASSISTANT_HANDOFF["en"]


async def test_the_session_brings_back_the_answer_with_its_links_and_buttons(
    app: Any, live_server: LiveServer, chat: Chat, db: Database
) -> None:
    asked = await _ask(live_server, chat, "I forgot the memo for my XRP deposit")
    turn = await _reply(app, db, asked["ack"]["message_id"])
    assert turn is not None
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        again = await visitor(client, chat, visitor_token=asked["session"]["token"])
    [shown] = again["assistant_turns"]
    assert shown["message_id"] == turn.answer_message_id and shown["ask"] is True
    assert shown["sources"][0]["url"] == "/help/en/a/missing-memo-tag"
    assert again["texts"]["helped"] == TEXTS["en"]["helped"]


# Pure decisions ---------------------------------------------------------------------


def test_the_assistant_answers_only_while_no_person_is_involved() -> None:
    kwargs: dict[str, Any] = {"assistant_first": True, "agent_replied": False, "status": "open"}
    assert assistant_may_answer(state=None, **kwargs)
    assert assistant_may_answer(state="active", **kwargs)
    assert assistant_may_answer(state="resolved", **kwargs)
    assert not assistant_may_answer(state="handed_off", **kwargs)
    assert not assistant_may_answer(state=None, **{**kwargs, "assistant_first": False})
    assert not assistant_may_answer(state=None, **{**kwargs, "agent_replied": True})
    assert not assistant_may_answer(state=None, **{**kwargs, "status": "closed"})


def test_the_answer_language_follows_chinese_text_else_the_conversation() -> None:
    assert customer_locale("我的充值没到账", "en") == "zh-Hans"
    assert customer_locale("deposit missing", "zh-Hans") == "zh-Hans"
    assert customer_locale("deposit missing", None) == "en"


def test_a_customer_sees_only_the_articles_close_to_the_best() -> None:
    def row(slug: str, score: float) -> dict[str, Any]:
        return {
            "slug": slug,
            "locale": "en",
            "title": slug,
            "url": f"/help/en/a/{slug}",
            "score": score,
        }

    shown = customer_sources([row("a", 0.8), row("b", 0.6), row("c", 0.2)])
    assert shown == [
        {"title": "a", "url": "/help/en/a/a"},
        {"title": "b", "url": "/help/en/a/b"},
    ]
    assert customer_sources([]) == []


def test_help_center_paths_become_full_links_and_nothing_else_changes() -> None:
    text = "Full article: Memo — /help/en/a/missing-memo-tag\nSee https://x.example/help/a"
    assert absolute_help_links(text, "https://support.example/") == (
        "Full article: Memo — https://support.example/help/en/a/missing-memo-tag\n"
        "See https://x.example/help/a"
    )


def test_risks_and_attachments_go_to_a_person_before_retrieval() -> None:
    assert own_handoff_reason(["secret_shared"], False) == "risk:secret_shared"
    assert own_handoff_reason([], True) == "attachment"
    assert own_handoff_reason(None, False) is None


def test_the_widget_texts_for_the_assistant_exist_in_both_languages() -> None:
    for key in ("assistant", "sources", "helped", "human", "thanks"):
        assert TEXTS["en"][key] and TEXTS["zh-Hans"][key]
        assert TEXTS["en"][key] != TEXTS["zh-Hans"][key]
