"""The widget's session endpoint: visitors, signed platform users, origins, the offline
hand-over and the inbox settings behind them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.channels.webchat.identity import user_hash
from ledgerdesk.channels.webchat.models import WebchatToken
from ledgerdesk.conversations.models import Conversation, Inbox, Message
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.customers.models import Customer, CustomerIdentity
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from tests.conftest import World
from tests.webchat_support import (
    EVIL,
    SITE,
    Chat,
    assert_error,
    bearer,
    make_chat,
    start_session,
    visitor,
)


@pytest.fixture
async def chat(app: Any, world: World) -> Chat:
    return await make_chat(app.state.ledgerdesk, world)


async def _open_conversation(http: httpx.AsyncClient, token: str, body: str) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/conversations",
        json={"body": body, "channel": "webchat", "channel_message_id": f"c-{body}"},
        headers=bearer(token, None),
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _identities(db: Database, customer_id: int) -> set[tuple[str, str]]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(CustomerIdentity.kind, CustomerIdentity.value).where(
                CustomerIdentity.customer_id == customer_id
            )
        )
        return {(kind, value) for kind, value in rows}


async def _count(db: Database, model: type[object]) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# Visitors ---------------------------------------------------------------------------


async def test_an_anonymous_visitor_gets_a_customer_and_a_token_for_the_widget(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    first = await visitor(client, chat, name="Mei", language="en-GB")

    assert first["token"].startswith("ldk_")
    assert first["verified_user"] is False
    assert first["conversations"] == []
    assert first["greeting"] == "Hello from Harbor"
    assert first["texts"]["send"] == "Send"
    assert first["limits"]["max_message_chars"] == 5000
    identities = await _identities(db, first["customer_id"])
    assert [kind for kind, _ in identities] == ["webchat"]
    async with db.sessionmaker() as session:
        customer = await session.get(Customer, first["customer_id"])
        binding = (await session.execute(select(WebchatToken))).scalar_one()
    assert customer is not None and (customer.name, customer.language) == ("Mei", "en")
    assert binding.inbox_id == chat.inbox.id


async def test_a_returning_visitor_is_the_same_customer_and_sees_their_conversation(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    first = await visitor(client, chat)
    opened = await _open_conversation(client, first["token"], "Where is my USDT deposit?")

    again = await visitor(client, chat, visitor_token=first["token"])

    assert again["customer_id"] == first["customer_id"]
    assert again["token"] == first["token"], "the browser keeps one token"
    [conversation] = again["conversations"]
    assert conversation["id"] == opened["id"]
    assert [m["body"] for m in conversation["messages"]] == ["Where is my USDT deposit?"]
    assert "assignee_id" not in conversation, "the visitor gets the narrow view"
    assert again["last_event_id"] >= 1


async def test_a_stale_or_foreign_visitor_token_starts_a_new_visitor(
    app: Any, client: httpx.AsyncClient, chat: Chat, world: World
) -> None:
    other = await make_chat(app.state.ledgerdesk, world, name="Another brand", origins=[SITE])
    elsewhere = await visitor(client, other)

    from_other_inbox = await visitor(client, chat, visitor_token=elsewhere["token"])
    made_up = await visitor(client, chat, visitor_token="ldk_not-a-real-token")

    assert from_other_inbox["customer_id"] != elsewhere["customer_id"]
    assert made_up["customer_id"] not in (elsewhere["customer_id"], from_other_inbox["customer_id"])


async def test_a_chinese_browser_gets_chinese_texts_and_greeting(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    session = await visitor(client, chat, language="zh-CN")
    assert session["language"] == "zh-Hans"
    assert session["greeting"] == "你好，这里是 Harbor"
    assert session["texts"]["send"] == "发送"


# Signed platform users -----------------------------------------------------------------


async def test_a_signed_platform_user_is_linked_to_their_customer_in_every_browser(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        jake = await do_create_customer(
            uow,
            actor=None,
            name="Jake Morrison",
            email="jake@example.com",
            identities=[("platform_user", "U-100234")],
        )
        await uow.commit()

    laptop = await visitor(client, chat, **chat.signed("U-100234"))
    phone = await visitor(client, chat, **chat.signed("U-100234"))

    assert laptop["customer_id"] == phone["customer_id"] == jake.id
    assert laptop["verified_user"] is True
    assert laptop["has_email"] is True


async def test_a_new_signed_user_gets_a_customer_with_their_platform_id(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    session = await visitor(client, chat, name="Ana", **chat.signed("U-777"))
    assert ("platform_user", "U-777") in await _identities(db, session["customer_id"])


async def test_a_forged_or_missing_user_hash_is_refused(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    before = await _count(db, Customer)

    forged = await start_session(
        client, chat, user_id="U-100234", user_hash=user_hash("guessed secret", "U-100234")
    )
    borrowed = await start_session(
        client, chat, user_id="U-100234", user_hash=chat.signed("U-999")["user_hash"]
    )
    missing = await start_session(client, chat, user_id="U-100234")
    orphan = await start_session(client, chat, user_hash=chat.signed("U-1")["user_hash"])

    assert_error(forged, 403, "user_hash does not match user_id")
    assert_error(borrowed, 403, "user_hash does not match user_id")
    assert_error(missing, 403, "user_id must come with user_hash")
    assert_error(orphan, 422, "without the user_id")
    assert await _count(db, Customer) == before, "nobody was created for a refused claim"


async def test_an_inbox_without_an_identity_secret_refuses_user_ids(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        inbox = await uow.session.get(Inbox, chat.inbox.id)
        assert inbox is not None
        inbox.identity_secret_encrypted = None
        await uow.commit()
    refused = await start_session(client, chat, **chat.signed("U-1"))
    assert_error(refused, 403, "identity verification is not set up")


async def test_a_secret_encrypted_with_another_server_key_is_a_clear_refusal(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        inbox = await uow.session.get(Inbox, chat.inbox.id)
        assert inbox is not None
        inbox.identity_secret_encrypted = SecretBox("another-server-key" * 3).encrypt("x")
        await uow.commit()
    refused = await start_session(client, chat, **chat.signed("U-1"))
    assert_error(refused, 403, "another server key", "rotate")


async def test_the_identity_secret_is_stored_encrypted(app: Any, chat: Chat, db: Database) -> None:
    async with db.engine.connect() as connection:
        stored = (
            await connection.execute(
                text("SELECT identity_secret_encrypted FROM inboxes WHERE id = :id"),
                {"id": chat.inbox.id},
            )
        ).scalar_one()
    assert stored and chat.secret not in stored
    assert len(chat.secret) == 64
    assert app.state.ledgerdesk.box.decrypt(stored) == chat.secret


# Origins and CORS ------------------------------------------------------------------


async def test_a_foreign_origin_is_refused_and_gets_no_cors_headers(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    refused = await start_session(client, chat, origin=EVIL)
    allowed = await start_session(client, chat, origin=SITE)

    assert_error(refused, 403, EVIL, "allowed origins")
    assert "access-control-allow-origin" not in refused.headers
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == SITE
    assert "Origin" in allowed.headers["vary"]
    assert "access-control-allow-credentials" not in allowed.headers, "tokens, never cookies"


async def test_a_preflight_is_answered_only_for_allowed_origins(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    def preflight(origin: str, query: str = "") -> Any:
        return client.options(
            f"/widget/v1/session{query}",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )

    good = await preflight(SITE, f"?inbox={chat.key}")
    evil = await preflight(EVIL, f"?inbox={chat.key}")
    no_key = await preflight(SITE)

    assert good.status_code == 204
    assert good.headers["access-control-allow-origin"] == SITE
    assert "Authorization" in good.headers["access-control-allow-headers"]
    assert_error(evil, 403)
    assert "access-control-allow-origin" not in evil.headers
    assert no_key.status_code == 204, "without ?inbox= any inbox allowing the origin will do"


async def test_a_visitor_token_works_only_on_its_inbox_sites(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    session = await visitor(client, chat)
    refused = await client.post(
        "/widget/v1/email",
        json={"email": "mei@example.com"},
        headers=bearer(session["token"], EVIL),
    )
    assert_error(refused, 403, "allowed origins")
    assert "access-control-allow-origin" not in refused.headers


async def test_an_empty_allowlist_lets_any_site_embed_the_widget(
    app: Any, client: httpx.AsyncClient, world: World
) -> None:
    open_chat = await make_chat(app.state.ledgerdesk, world, name="Anywhere", origins=[])
    response = await start_session(client, open_chat, origin=EVIL)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == EVIL


async def test_a_null_origin_is_refused_when_sites_are_listed(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    assert_error(await start_session(client, chat, origin="null"), 403)


# The offline hand-over --------------------------------------------------------------


async def test_with_nobody_online_the_visitor_leaves_an_email_and_the_conversation_says_so(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    session = await visitor(client, chat)
    assert session["agents_online"] is False and session["has_email"] is False
    opened = await _open_conversation(client, session["token"], "Withdrawal stuck for 3 hours")

    left = await client.post(
        "/widget/v1/email",
        json={"email": " Mei.Chen@Example.com "},
        headers=bearer(session["token"]),
    )

    assert left.status_code == 200, left.text
    assert left.json() == {
        "email": "mei.chen@example.com",
        "conversation_id": opened["id"],
        "message": "Thanks, we will reply to mei.chen@example.com.",
    }
    assert left.headers["access-control-allow-origin"] == SITE
    assert ("email", "mei.chen@example.com") in await _identities(db, session["customer_id"])
    async with db.sessionmaker() as session_:
        notes = (
            await session_.execute(
                select(Message).where(
                    Message.conversation_id == opened["id"], Message.author_kind == "system"
                )
            )
        ).scalars()
        [note] = list(notes)
    assert "mei.chen@example.com" in note.body and "by email" in note.body
    assert note.is_internal is False, "the visitor sees it too"
    again = await visitor(client, chat, visitor_token=session["token"])
    assert again["has_email"] is True


async def test_an_email_of_another_customer_is_a_clear_conflict(
    client: httpx.AsyncClient, chat: Chat, world: World, db: Database
) -> None:
    await world.make_customer("Owner", email="taken@example.com")
    session = await visitor(client, chat)
    conflict = await client.post(
        "/widget/v1/email", json={"email": "TAKEN@example.com"}, headers=bearer(session["token"])
    )
    assert_error(conflict, 409, "already belongs to another customer")
    assert {kind for kind, _ in await _identities(db, session["customer_id"])} == {"webchat"}


async def test_leaving_an_email_twice_is_fine_and_without_a_conversation_records_nothing(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    session = await visitor(client, chat)
    for _ in range(2):
        left = await client.post(
            "/widget/v1/email", json={"email": "a@example.org"}, headers=bearer(session["token"])
        )
        assert left.status_code == 200 and left.json()["conversation_id"] is None
    assert await _count(db, Message) == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not-an-email"},
        {"email": "two@@example.com"},
        {"email": "spaces in@example.com"},
        {"email": "x" * 300 + "@example.com"},
        {"email": "a@b.c", "extra": 1},
        {"email": "a@example.com", "conversation_id": 0},
        {},
    ],
)
async def test_a_bad_email_request_is_a_4xx(
    client: httpx.AsyncClient, chat: Chat, payload: dict[str, Any]
) -> None:
    session = await visitor(client, chat)
    response = await client.post("/widget/v1/email", json=payload, headers=bearer(session["token"]))
    assert_error(response, 422)


async def test_a_visitor_cannot_write_the_email_note_into_someone_elses_conversation(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    mei = await visitor(client, chat)
    erin = await visitor(client, chat)
    theirs = await _open_conversation(client, erin["token"], "Erin's private problem")
    response = await client.post(
        "/widget/v1/email",
        json={"email": "mei@example.com", "conversation_id": theirs["id"]},
        headers=bearer(mei["token"]),
    )
    assert_error(response, 404)


# Bad input everywhere -------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"inbox": "wk_nope"}, 404),
        ({}, 422),
        ({"inbox": ""}, 422),
        ({"inbox": "x" * 65}, 422),
        ({"inbox": "KEY", "extra": True}, 422),
        ({"inbox": "KEY", "user_id": "U\x00"}, 422),
        ({"inbox": "KEY", "user_id": "x" * 201, "user_hash": "00"}, 422),
        ({"inbox": "KEY", "visitor_token": "t" * 201}, 422),
        ({"inbox": "KEY", "language": "no language"}, 422),
        ({"inbox": "KEY", "name": "n" * 201}, 422),
        ({"inbox": "KEY", "email": "e\x00@x.y"}, 422),
        ({"inbox": ["KEY"]}, 422),
    ],
)
async def test_bad_session_requests_get_a_json_4xx(
    client: httpx.AsyncClient, chat: Chat, payload: dict[str, Any], status: int
) -> None:
    payload = {k: (chat.key if v == "KEY" else v) for k, v in payload.items()}
    response = await client.post("/widget/v1/session", json=payload, headers={"Origin": SITE})
    assert_error(response, status)
    # Even a refusal is readable by the widget on an allowed site.
    assert response.headers.get("access-control-allow-origin") == SITE


async def test_non_json_and_unknown_widget_paths_get_json_errors_not_pages(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    not_json = await client.post(
        "/widget/v1/session", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    unknown = await client.get("/widget/v1/nothing-here")
    wrong_method = await client.delete("/widget/v1/session")
    no_token = await client.post("/widget/v1/email", json={"email": "a@example.com"})
    bad_token = await client.post(
        "/widget/v1/email", json={"email": "a@example.com"}, headers=bearer("ldk_forged")
    )
    assert_error(not_json, 422, "not valid JSON")
    assert_error(unknown, 404)
    assert_error(wrong_method, 405)
    assert_error(no_token, 401)
    assert_error(bad_token, 401)


async def test_an_agent_token_cannot_leave_a_visitor_email(
    client: httpx.AsyncClient, chat: Chat, world: World
) -> None:
    response = await client.post(
        "/widget/v1/email", json={"email": "a@example.com"}, headers=world.bob.headers
    )
    assert_error(response, 403, "visitor")


# Admins configure web chat inboxes --------------------------------------------------


async def test_an_admin_creates_a_web_chat_inbox_and_gets_the_snippet_and_secret_once(
    client: httpx.AsyncClient, world: World
) -> None:
    created = await client.post(
        "/api/v1/webchat/inboxes",
        json={"name": "Site chat", "allowed_origins": ["https://Harbor.example:443/"]},
        headers=world.alice.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["allowed_origins"] == [SITE]
    assert body["widget_key"].startswith("wk_") and str(body["id"]) != body["widget_key"]
    assert f'data-inbox="{body["widget_key"]}"' in body["embed_snippet"]
    assert len(body["identity_secret"]) == 64
    shown = await client.get(f"/api/v1/webchat/inboxes/{body['id']}", headers=world.alice.headers)
    assert shown.status_code == 200 and shown.json()["identity_secret"] is None


async def test_rotating_the_identity_secret_invalidates_old_hashes(
    client: httpx.AsyncClient, chat: Chat, world: World
) -> None:
    rotated = await client.post(
        f"/api/v1/webchat/inboxes/{chat.inbox.id}/identity-secret", headers=world.alice.headers
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["identity_secret"]
    assert_error(await start_session(client, chat, **chat.signed("U-5")), 403)
    accepted = await start_session(
        client, chat, user_id="U-5", user_hash=user_hash(new_secret, "U-5")
    )
    assert accepted.status_code == 200


async def test_only_admins_configure_web_chat_and_bad_settings_are_refused(
    client: httpx.AsyncClient, chat: Chat, world: World
) -> None:
    url = f"/api/v1/webchat/inboxes/{chat.inbox.id}"
    assert_error(await client.get(url, headers=world.bob.headers), 403)
    assert_error(
        await client.post(
            "/api/v1/webchat/inboxes", json={"name": "Mine"}, headers=world.bob.headers
        ),
        403,
    )
    for settings in (
        {"allowed_origins": ["harbor.example"]},
        {"allowed_origins": ["https://harbor.example/path"]},
        {"allowed_origins": ["ftp://harbor.example"]},
        {"greetings": {"fr": "Bonjour"}},
        {"greetings": {"en": "x" * 501}},
    ):
        assert_error(await client.patch(url, json=settings, headers=world.alice.headers), 422)
    changed = await client.patch(
        url,
        json={"allowed_origins": [SITE, "http://localhost:3000"], "greetings": {"en": "Hey"}},
        headers=world.alice.headers,
    )
    assert changed.status_code == 200
    assert changed.json()["allowed_origins"] == [SITE, "http://localhost:3000"]
    assert_error(
        await client.get("/api/v1/webchat/inboxes/999999", headers=world.alice.headers), 404
    )


async def test_a_visitors_conversation_counts_as_theirs_only(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    mei = await visitor(client, chat)
    erin = await visitor(client, chat)
    await _open_conversation(client, mei["token"], "Mei's question")
    erin_again = await visitor(client, chat, visitor_token=erin["token"])
    assert erin_again["conversations"] == []
    async with db.sessionmaker() as session:
        owners = set((await session.execute(select(Conversation.customer_id))).scalars())
    assert owners == {mei["customer_id"]}
