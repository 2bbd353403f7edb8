"""The agent console: inbox, conversation view, replies and notes, languages, permissions."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from ledgerdesk.audit.models import AuditEntry
from ledgerdesk.conversations.models import Message
from ledgerdesk.db.engine import Database
from tests.conftest import World
from tests.test_auth_flow import csrf_of, login


async def open_conversation(client: httpx.AsyncClient, world: World, **fields: object) -> int:
    customer = await world.make_customer("Wang Fang", "wang.fang@example.cn")
    payload = {
        "customer": {"id": customer.id},
        "subject": "USDT deposit not credited",
        "body": "I sent 250 USDT <b>two hours</b> ago, still nothing.",
        **fields,
    }
    response = await client.post("/api/v1/conversations", json=payload, headers=world.alice.headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_the_inbox_lists_unresolved_conversations(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    page = await client.get("/inbox")
    assert page.status_code == 200
    assert "USDT deposit not credited" in page.text
    assert f'href="/conversations/{number}"' in page.text
    assert "Wang Fang" in page.text


async def test_search_finds_a_conversation_by_number_and_customer(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    by_number = await client.get("/inbox", params={"status": "any", "q": f"#{number}"})
    by_email = await client.get("/inbox", params={"status": "any", "q": "wang.fang@"})
    nothing = await client.get("/inbox", params={"status": "any", "q": "no such thing"})
    assert "USDT deposit not credited" in by_number.text
    assert "USDT deposit not credited" in by_email.text
    assert "USDT deposit not credited" not in nothing.text


async def test_an_agent_replies_and_writes_a_note(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    csrf = await csrf_of(client, f"/conversations/{number}")
    reply = await client.post(
        f"/conversations/{number}/messages",
        data={"csrf_token": csrf, "body": "We see your deposit; 12 confirmations to go."},
    )
    note = await client.post(
        f"/conversations/{number}/messages",
        data={"csrf_token": csrf, "body": "Checked the chain, it is fine.", "internal": "true"},
    )
    assert reply.status_code == note.status_code == 303
    page = await client.get(f"/conversations/{number}")
    assert "12 confirmations to go" in page.text
    assert "Internal note" in page.text
    async with db.sessionmaker() as session:
        kinds = (
            await session.execute(
                select(Message.author_kind, Message.is_internal)
                .where(Message.conversation_id == number)
                .order_by(Message.id)
            )
        ).all()
    assert [tuple(row) for row in kinds] == [("customer", False), ("agent", False), ("agent", True)]


async def test_customer_text_is_shown_escaped(client: httpx.AsyncClient, world: World) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    page = await client.get(f"/conversations/{number}")
    assert "&lt;b&gt;two hours&lt;/b&gt;" in page.text
    assert "<b>two hours</b>" not in page.text


async def test_changing_status_and_assignee_from_the_side_panel(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    csrf = await csrf_of(client, f"/conversations/{number}")
    response = await client.post(
        f"/conversations/{number}/update",
        data={
            "csrf_token": csrf,
            "status": "pending",
            "priority": "high",
            "assignee_id": str(world.bob.agent.id),
            "team_id": "",
            "add_tag": "deposit",
        },
    )
    assert response.status_code == 303
    api = await client.get(f"/api/v1/conversations/{number}", headers=world.bob.headers)
    body = api.json()
    assert (body["status"], body["priority"], body["assignee_id"], body["tags"]) == (
        "pending",
        "high",
        world.bob.agent.id,
        ["deposit"],
    )


async def test_a_refused_transition_is_explained_on_the_page(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    csrf = await csrf_of(client, f"/conversations/{number}")
    await client.post(
        f"/conversations/{number}/update", data={"csrf_token": csrf, "status": "solved"}
    )
    await client.post(
        f"/conversations/{number}/update", data={"csrf_token": csrf, "status": "closed"}
    )
    refused = await client.post(
        f"/conversations/{number}/update", data={"csrf_token": csrf, "status": "pending"}
    )
    page = await client.get(refused.headers["location"])
    assert "cannot change status from closed to pending" in page.text


async def test_opening_a_conversation_is_audited(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    await client.get(f"/conversations/{number}")
    async with db.sessionmaker() as session:
        entries = (
            (
                await session.execute(
                    select(AuditEntry).where(
                        AuditEntry.action == "customer.viewed",
                        AuditEntry.agent_id == world.bob.agent.id,
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(entries) == 1
    assert entries[0].detail == {"via": f"conversation {number}"}


async def test_a_viewer_sees_but_cannot_reply(client: httpx.AsyncClient, world: World) -> None:
    number = await open_conversation(client, world)
    await login(client, "victor@example.org")
    page = await client.get(f"/conversations/{number}")
    assert page.status_code == 200
    assert 'class="composer"' not in page.text
    csrf = await csrf_of(client, "/settings")
    refused = await client.post(
        f"/conversations/{number}/messages", data={"csrf_token": csrf, "body": "hello"}
    )
    assert refused.status_code == 403


async def test_a_private_team_conversation_is_hidden_from_outsiders(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(
        client, world, subject="Account drained", team_id=world.security.id, priority="urgent"
    )
    await login(client, "bob@example.org")
    assert (await client.get(f"/conversations/{number}")).status_code == 404
    assert "Account drained" not in (await client.get("/inbox")).text
    await client.post("/logout", data={"csrf_token": await csrf_of(client)})
    await login(client, "carol@example.org")
    assert (await client.get(f"/conversations/{number}")).status_code == 200


async def test_the_console_speaks_chinese_to_an_agent_who_chose_it(
    client: httpx.AsyncClient, world: World
) -> None:
    await open_conversation(client, world)
    await login(client, "bob@example.org")
    csrf = await csrf_of(client)
    await client.post("/settings/language", data={"csrf_token": csrf, "language": "zh_Hans"})
    page = await client.get("/inbox")
    assert 'lang="zh-Hans"' in page.text
    assert "退出登录" in page.text
    assert "Log out" not in page.text


async def test_the_login_page_follows_the_browser_language(client: httpx.AsyncClient) -> None:
    chinese = await client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    english = await client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert 'lang="zh-Hans"' in chinese.text
    assert 'lang="en"' in english.text


async def test_bad_console_input_gets_a_page_not_a_crash(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "bob@example.org")
    assert (await client.get("/inbox", params={"status": "bogus"})).status_code == 422
    assert (await client.get("/conversations/99999999999999999999")).status_code == 422
    assert (await client.get("/conversations/424242")).status_code == 404
    csrf = await csrf_of(client)
    refused = await client.post(
        "/conversations/424242/update", data={"csrf_token": csrf, "assignee_id": "abc"}
    )
    assert refused.status_code == 404
