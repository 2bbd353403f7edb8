"""Surveys in the browser: the web chat widget's card over the real-time stream and its
answer endpoint, the public bilingual page behind a link, and the admins' page."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from typing import Any

import httpx
from websockets.asyncio.client import connect

from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.feedback.actions import SEND_SURVEY_JOB
from ledgerdesk.settings import Settings
from tests.api_support import API
from tests.conftest import LiveServer, World
from tests.feedback_support import (
    events_of,
    link_token,
    messages_of,
    open_conversation,
    run_due_feedback_jobs,
    set_status,
    survey_of,
)
from tests.test_auth_flow import csrf_of, login
from tests.webchat_support import assert_error, bearer, make_chat, visitor

TIMEOUT = 5.0


async def _next_frame(socket: Any, kind: str) -> dict[str, Any]:
    """The next frame of this type ("ready"), or the next stream event of this kind."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))
        if frame["type"] == kind or (frame["type"] == "event" and frame["kind"] == kind):
            return frame


async def test_the_widget_gets_a_survey_card_and_its_answer_round_trips(
    app: Any,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    world: World,
    db: Database,
    settings: Settings,
    bus: MemoryEventBus,
) -> None:
    chat = await make_chat(app.state.ledgerdesk, world)
    session = await visitor(client, chat, language="zh-CN")
    assert session["texts"]["survey_ask"].startswith("您对本次服务满意吗")
    token = session["token"]
    opened = await client.post(
        f"{API}/conversations",
        json={"body": "充值没到账", "channel": "webchat", "channel_message_id": "c-1"},
        headers=bearer(token, None),
    )
    assert opened.status_code == 201, opened.text
    conversation_id = opened.json()["id"]
    await set_status(client, world.bob.headers, conversation_id, "solved")

    async with connect(live_server.ws_url) as socket:
        await socket.send(json.dumps({"type": "hello", "token": token}))
        await _next_frame(socket, "ready")
        ran = await run_due_feedback_jobs(db, settings, bus, now=utcnow() + timedelta(hours=1))
        assert ran == [SEND_SURVEY_JOB]
        requested = await _next_frame(socket, "survey.requested")
        card = requested["data"]["survey"]
        assert card == {
            "conversation_id": conversation_id,
            "status": "sent",
            "rating": None,
            "comment": None,
            "changeable_until": None,
        }
        assert set(requested["data"]["conversation"]) == {"id", "subject", "status", "updated_at"}
        # A visitor who comes back later finds the card in the session snapshot.
        again = await visitor(client, chat, visitor_token=token)
        assert [s["conversation_id"] for s in again["surveys"]] == [conversation_id]

        answer = await client.post(
            "/widget/v1/survey",
            json={"conversation_id": conversation_id, "rating": 4, "comment": "客服很耐心"},
            headers=bearer(token),
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["rating"] == 4 and answer.json()["language"] == "zh"
        answered = await _next_frame(socket, "survey.answered")
        assert answered["data"]["survey"]["rating"] == 4

    survey = await survey_of(db, conversation_id)
    assert survey is not None and (survey.rating, survey.comment) == (4, "客服很耐心")
    assert await events_of(db, conversation_id, "survey.answered") == [
        {"rating": 4, "previous": None}
    ]
    assert await events_of(db, conversation_id, "survey.sent") == [{"via": "widget"}]
    assert [m.author_kind for m in await messages_of(db, conversation_id)] == ["customer"], (
        "web chat gets the card, not a link message"
    )
    assert (await visitor(client, chat, visitor_token=token))["surveys"] == []


async def test_only_the_visitor_who_owns_the_conversation_answers_its_survey(
    app: Any,
    client: httpx.AsyncClient,
    world: World,
    db: Database,
    settings: Settings,
    bus: MemoryEventBus,
) -> None:
    chat = await make_chat(app.state.ledgerdesk, world)
    owner = (await visitor(client, chat))["token"]
    stranger = (await visitor(client, chat))["token"]
    opened = await client.post(
        f"{API}/conversations",
        json={"body": "hello", "channel": "webchat", "channel_message_id": "c-2"},
        headers=bearer(owner, None),
    )
    conversation_id = opened.json()["id"]
    body = {"conversation_id": conversation_id, "rating": 5}

    assert_error(
        await client.post("/widget/v1/survey", json=body, headers=bearer(owner)), 404, "no survey"
    )
    await set_status(client, world.bob.headers, conversation_id, "solved")
    # Solved, but not sent yet: there is nothing to answer.
    assert_error(
        await client.post("/widget/v1/survey", json=body, headers=bearer(owner)), 404, "no survey"
    )
    await run_due_feedback_jobs(db, settings, bus, now=utcnow() + timedelta(hours=1))

    assert_error(await client.post("/widget/v1/survey", json=body, headers=bearer(stranger)), 404)
    assert_error(await client.post("/widget/v1/survey", json=body, headers=world.bob.headers), 403)
    assert_error(await client.post("/widget/v1/survey", json=body), 401)
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": 3, "comment": "x" * 2001}, {}):
        response = await client.post(
            "/widget/v1/survey",
            json={"conversation_id": conversation_id, **bad},
            headers=bearer(owner),
        )
        assert_error(response, 422)
    from_elsewhere = await client.post(
        "/widget/v1/survey", json=body, headers=bearer(owner, "https://evil.example")
    )
    assert_error(from_elsewhere, 403)
    survey = await survey_of(db, conversation_id)
    assert survey is not None and survey.status == "sent" and survey.rating is None

    assert (
        await client.post("/widget/v1/survey", json=body, headers=bearer(owner))
    ).status_code == 200


async def _email_survey_link(
    client: httpx.AsyncClient,
    world: World,
    db: Database,
    settings: Settings,
    bus: MemoryEventBus,
    language: str,
) -> tuple[int, str]:
    mei = await world.make_customer("Mei")
    conversation_id = await open_conversation(client, world.bob.headers, mei, language=language)
    await set_status(client, world.bob.headers, conversation_id, "solved")
    await run_due_feedback_jobs(db, settings, bus, now=utcnow() + timedelta(hours=1))
    return conversation_id, link_token((await messages_of(db, conversation_id))[-1].body)


async def test_the_public_page_speaks_the_conversations_language_and_stores_the_answer(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    conversation_id, token = await _email_survey_link(client, world, db, settings, bus, "zh-CN")
    message = (await messages_of(db, conversation_id))[-1].body
    assert message.startswith("您的问题已解决")

    page = await client.get(f"/survey/{token}?rating=2")
    assert page.status_code == 200
    assert '<html lang="zh-Hans">' in page.text and "您对我们的服务满意吗？" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert re.search(r'value="2" required checked', page.text), "?rating preselects"
    assert (await survey_of(db, conversation_id)).rating is None, "a GET never stores"  # type: ignore[union-attr]
    english = await client.get(f"/survey/{token}?lang=en")
    assert "How did we do?" in english.text

    saved = await client.post(f"/survey/{token}", data={"rating": "5", "comment": "很好"})

    assert saved.status_code == 200 and "谢谢！您的评价已保存。" in saved.text
    assert "修改我的评价" in saved.text, "the answer can still be changed"
    survey = await survey_of(db, conversation_id)
    assert survey is not None and (survey.rating, survey.comment) == (5, "很好")


async def test_a_bad_form_answer_is_a_4xx_page_that_keeps_what_the_customer_wrote(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    conversation_id, token = await _email_survey_link(client, world, db, settings, bus, "en")

    for form in (
        {"rating": "0", "comment": "Kept text 1"},
        {"rating": "6", "comment": "Kept text 2"},
        {"rating": "abc", "comment": "Kept text 3"},
        {"comment": "Kept text 4"},
    ):
        page = await client.post(f"/survey/{token}", data=form)
        assert page.status_code == 422, form
        assert "Choose a rating from 1 to 5." in page.text
        assert form["comment"] in page.text
    long_comment = "y" * 2001
    page = await client.post(f"/survey/{token}", data={"rating": "3", "comment": long_comment})
    assert page.status_code == 422 and "at most 2000 characters" in page.text
    assert long_comment in page.text
    forged = await client.post(f"/survey/{token[:-3]}abc", data={"rating": "5"})
    assert forged.status_code == 403 and "not valid" in forged.text

    survey = await survey_of(db, conversation_id)
    assert survey is not None and survey.status == "sent" and survey.rating is None


async def test_admins_change_the_settings_on_the_console_page(
    client: httpx.AsyncClient, world: World
) -> None:
    assert (await login(client, "alice@example.org")).status_code in (200, 303)
    page = await client.get("/admin/feedback")
    assert page.status_code == 200 and 'name="survey_delay_minutes"' in page.text
    csrf = await csrf_of(client, "/admin/feedback")
    form = {
        "csrf_token": csrf,
        "survey_enabled": "on",
        "survey_delay_minutes": "5",
        "change_window_hours": "24",
        "follow_up_enabled": "on",
        "follow_up_days": "2",
        "follow_up_categories": "withdrawal, deposit",
        "follow_up_text_en": "Still fine?",
        "follow_up_text_zh": "还好吗？",
    }

    saved = await client.post("/admin/feedback", data=form)
    bad = await client.post("/admin/feedback", data={**form, "survey_delay_minutes": "-3"})

    assert saved.status_code == 303 and saved.headers["location"] == "/admin/feedback?saved=1"
    assert bad.status_code == 303 and "error=" in bad.headers["location"]
    settings = (await client.get(f"{API}/feedback/settings", headers=world.alice.headers)).json()
    assert settings["survey_delay_minutes"] == 5 and settings["change_window_hours"] == 24
    assert settings["follow_up_categories"] == ["withdrawal", "deposit"]
    assert settings["follow_up_texts"] == {"en": "Still fine?", "zh": "还好吗？"}
    no_csrf = await client.post(
        "/admin/feedback", data={k: v for k, v in form.items() if k != "csrf_token"}
    )
    assert no_csrf.status_code in (400, 403)


async def test_an_agent_who_is_not_admin_cannot_open_the_settings_page(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "bob@example.org")
    assert (await client.get("/admin/feedback")).status_code == 403
