"""The live console: what console.js relies on, over HTTP and over the real WebSocket.

console.js itself runs in a browser (an end-to-end test drives it there); these
tests pin down the server side of its contract: the stream head in the page, the
fragments it fetches, the "viewing" pings, presence, and the cookie-authenticated
socket it talks to.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import func, select
from websockets.asyncio.client import connect

from ledgerdesk.conversations.models import Message
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import Event, MemoryEventBus
from ledgerdesk.realtime.queries import stream_head
from ledgerdesk.server.deps import SESSION_COOKIE
from tests.conftest import LiveServer, World
from tests.test_auth_flow import csrf_of, login
from tests.test_console import open_conversation
from tests.test_realtime import Client
from tests.test_realtime import client as token_client

TIMEOUT = 5.0


def last_event_id_of(html: str) -> int:
    found = re.search(r'data-last-event-id="(\d+)"', html)
    assert found, "the page embeds the stream head"
    return int(found.group(1))


def message_ids_of(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li id="message-\d+"[^>]* data-message-id="(\d+)"', html)]


async def api_reply(client: httpx.AsyncClient, world: World, number: int, body: str) -> int:
    response = await client.post(
        f"/api/v1/conversations/{number}/messages",
        json={"body": body},
        headers=world.alice.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


# The page ---------------------------------------------------------------------------


async def test_the_inbox_embeds_the_stream_head_and_loads_the_script(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    page = (await client.get("/inbox")).text
    async with db.sessionmaker() as session:
        head = await stream_head(session)
    assert head > 0
    assert last_event_id_of(page) == head
    assert 'data-live="inbox"' in page
    assert '<script src="/static/console.js" defer></script>' in page
    assert f'<tr id="conversation-row-{number}"' in page
    assert f'data-conversation-id="{number}"' in page
    assert 'id="connection-state"' in page and 'id="console-strings"' in page


async def test_the_conversation_page_has_the_hooks_console_js_needs(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    page = (await client.get(f"/conversations/{number}")).text
    assert 'data-live="conversation"' in page
    for hook in (
        f'<ol id="thread" class="messages" data-conversation-id="{number}">',
        'id="composer"',
        'id="typing-indicator"',
        'id="collision-warning"',
        'id="connection-state"',
        'id="conversation-badges"',
        'id="properties-panel"',
        'id="conversation-tags"',
    ):
        assert hook in page, hook
    assert len(message_ids_of(page)) == 1


async def test_the_console_script_documents_its_hooks(client: httpx.AsyncClient) -> None:
    script = await client.get("/static/console.js")
    assert script.status_code == 200
    for hook in ("#thread", "#composer", "#typing-indicator", "#collision-warning"):
        assert hook in script.text
    assert "tr[data-conversation-id]" in script.text


async def test_the_ui_strings_for_the_script_follow_the_agents_language(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "bob@example.org")
    csrf = await csrf_of(client)
    await client.post("/settings/language", data={"csrf_token": csrf, "language": "zh_Hans"})
    page = (await client.get("/inbox")).text
    found = re.search(r'<script id="console-strings" type="application/json">(.*?)</script>', page)
    assert found
    strings = json.loads(found.group(1))
    assert strings["customer_typing"] == "客户正在输入…"
    assert strings["also_viewing"] == "%(name)s 也在查看此会话"


async def test_the_inbox_filter_form_may_say_any_priority(
    client: httpx.AsyncClient, world: World
) -> None:
    await open_conversation(client, world)
    await login(client, "bob@example.org")
    page = await client.get("/inbox", params={"view": "all", "status": "any", "priority": ""})
    assert page.status_code == 200
    assert "USDT deposit not credited" in page.text


# Fragments --------------------------------------------------------------------------


async def test_an_inbox_row_fragment_is_the_row_of_the_page(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    page = (await client.get("/inbox")).text
    fragment = await client.get(f"/inbox/rows/{number}", params={"view": "all"})
    assert fragment.status_code == 200
    assert fragment.headers["cache-control"] == "no-store"
    row = fragment.text.strip()
    assert row.startswith(f'<tr id="conversation-row-{number}"') and row.endswith("</tr>")
    assert row in page


async def test_a_row_that_left_the_view_is_answered_with_no_content(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    csrf = await csrf_of(client, f"/conversations/{number}")
    await client.post(
        f"/conversations/{number}/update", data={"csrf_token": csrf, "status": "solved"}
    )
    unresolved = await client.get(f"/inbox/rows/{number}", params={"status": "unresolved"})
    anything = await client.get(f"/inbox/rows/{number}", params={"status": "any"})
    mine = await client.get(f"/inbox/rows/{number}", params={"status": "any", "view": "mine"})
    search = await client.get(f"/inbox/rows/{number}", params={"status": "any", "q": "refund"})
    assert (unresolved.status_code, anything.status_code) == (204, 200)
    assert (mine.status_code, search.status_code) == (204, 204)
    assert unresolved.text == ""


async def test_a_message_fragment_is_escaped_and_belongs_to_its_conversation(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world)
    someone_else = await world.make_customer("Zhang Min")
    other = await client.post(
        "/api/v1/conversations",
        json={"customer": {"id": someone_else.id}, "body": "Another one"},
        headers=world.alice.headers,
    )
    reply = await api_reply(client, world, number, "Checked: <img src=x onerror=alert(1)>")
    await login(client, "bob@example.org")
    fragment = await client.get(f"/conversations/{number}/messages/{reply}")
    assert fragment.status_code == 200
    html = fragment.text.strip()
    assert html.startswith(f'<li id="message-{reply}"') and html.endswith("</li>")
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Alice Admin" in html
    wrong = await client.get(f"/conversations/{other.json()['id']}/messages/{reply}")
    assert wrong.status_code == 404
    page = (await client.get(f"/conversations/{number}")).text
    assert html in page, "the fragment is the page's own list item"


async def test_the_state_fragment_carries_badges_properties_and_tags(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    csrf = await csrf_of(client, f"/conversations/{number}")
    await client.post(
        f"/conversations/{number}/update",
        data={"csrf_token": csrf, "status": "pending", "priority": "urgent", "add_tag": "kyc"},
    )
    state = (await client.get(f"/conversations/{number}/state")).text
    assert 'id="conversation-badges"' in state and 'data-status="pending"' in state
    assert 'data-priority="urgent"' in state
    assert 'id="properties"' in state and 'id="conversation-tags"' in state
    assert '<span class="tag">kyc</span>' in state


async def test_fragments_of_a_private_team_are_not_found_for_outsiders(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world, subject="Drained", team_id=world.security.id)
    messages = await client.get(
        f"/api/v1/conversations/{number}/messages", headers=world.alice.headers
    )
    message_id = messages.json()[0]["id"]
    await login(client, "bob@example.org")
    csrf = await csrf_of(client)
    for path in (
        f"/inbox/rows/{number}",
        f"/conversations/{number}/messages/{message_id}",
        f"/conversations/{number}/state",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "Drained" not in response.text
    viewing = await client.post(f"/conversations/{number}/viewing", headers={"X-CSRF-Token": csrf})
    assert viewing.status_code == 404


async def test_fragments_send_a_logged_out_browser_to_the_login_page(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world)
    response = await client.get(f"/inbox/rows/{number}")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_a_viewer_gets_the_state_without_the_properties_form(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world)
    await login(client, "victor@example.org")
    state = (await client.get(f"/conversations/{number}/state")).text
    assert 'id="conversation-badges"' in state
    assert 'id="properties"' not in state


# Viewing ----------------------------------------------------------------------------


@asynccontextmanager
async def listening(bus: MemoryEventBus, topic: str) -> AsyncIterator[asyncio.Task[Event]]:
    subscription = bus.subscribe({topic})
    waiter = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)  # the subscription registers on its first step
    try:
        yield waiter
    finally:
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        await subscription.aclose()  # type: ignore[attr-defined]


async def test_viewing_is_announced_to_agents_on_their_typing_topic(
    client: httpx.AsyncClient, world: World, bus: MemoryEventBus
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    csrf = await csrf_of(client)
    async with listening(bus, "typing:agents") as next_event:
        response = await client.post(
            f"/conversations/{number}/viewing",
            data={"viewing": "true", "typing": "false"},
            headers={"X-CSRF-Token": csrf},
        )
        assert response.status_code == 204
        event = await asyncio.wait_for(next_event, TIMEOUT)
    assert event.kind == "typing"
    assert event.topics == ("typing:agents",), "never on a customer's topic"
    assert event.data == {
        "conversation_id": number,
        "customer_id": event.data["customer_id"],
        "team_id": None,
        "typing": False,
        "viewing": True,
        "sender": f"agent:{world.bob.agent.id}",
        "sender_kind": "agent",
        "name": "Bob Agent",
    }


async def test_viewing_needs_the_csrf_token(client: httpx.AsyncClient, world: World) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    refused = await client.post(f"/conversations/{number}/viewing", data={"viewing": "true"})
    assert refused.status_code == 400
    assert "expired" in refused.text


async def test_leaving_is_announced_with_the_form_token_as_a_beacon_sends_it(
    client: httpx.AsyncClient, world: World, bus: MemoryEventBus
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    csrf = await csrf_of(client)
    async with listening(bus, "typing:agents") as next_event:
        response = await client.post(
            f"/conversations/{number}/viewing",
            files={"csrf_token": (None, csrf), "viewing": (None, "false")},
        )
        assert response.status_code == 204
        event = await asyncio.wait_for(next_event, TIMEOUT)
    assert (event.data["viewing"], event.data["typing"]) == (False, False)


# Presence ---------------------------------------------------------------------------


async def test_an_agent_chooses_away_and_it_shows_next_to_their_name(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await open_conversation(client, world)
    await login(client, "bob@example.org")
    csrf = await csrf_of(client)
    chosen = await client.post(
        "/presence", data={"csrf_token": csrf, "status": "away", "next": f"/conversations/{number}"}
    )
    assert chosen.status_code == 303
    assert chosen.headers["location"] == f"/conversations/{number}"
    page = (await client.get(f"/conversations/{number}")).text
    assert '<option value="away" selected>Away</option>' in page
    assert re.search(r'data-presence="away"\s*>Bob Agent · Away</option>', page)
    assert re.search(r'data-presence="offline"\s*>Alice Admin · Offline</option>', page)


async def test_presence_from_the_script_is_answered_without_a_redirect(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "bob@example.org")
    csrf = await csrf_of(client)
    response = await client.post(
        "/presence",
        data={"status": "online"},
        headers={"X-CSRF-Token": csrf, "X-Requested-With": "fetch"},
    )
    assert response.status_code == 204
    assert '<option value="online" selected>' in (await client.get("/settings")).text


async def test_an_unknown_presence_or_an_offsite_next_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "bob@example.org")
    csrf = await csrf_of(client)
    bad = await client.post("/presence", data={"csrf_token": csrf, "status": "invisible"})
    assert bad.status_code == 422
    assert "presence must be one of: online, away, offline" in bad.text
    offsite = await client.post(
        "/presence", data={"csrf_token": csrf, "status": "away", "next": "//evil.example/"}
    )
    assert offsite.headers["location"] == "/inbox"
    no_token = await client.post("/presence", data={"status": "away"})
    assert no_token.status_code == 400


# The socket, as the console uses it -------------------------------------------------


@asynccontextmanager
async def console_socket(
    server: LiveServer, http: httpx.AsyncClient, last_event_id: int | None
) -> AsyncIterator[Client]:
    """A WebSocket as the browser opens it: the session cookie and our own Origin."""
    cookie = http.cookies.get(SESSION_COOKIE)
    assert cookie, "log in first"
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", "Origin": server.url}
    async with connect(server.ws_url, additional_headers=headers) as socket:
        connection = Client(socket)
        hello: dict[str, Any] = {"type": "hello"}
        if last_event_id is not None:
            hello["last_event_id"] = last_event_id
        await connection.send(**hello)
        connection.ready = await connection.next("ready")
        yield connection


async def test_the_page_resumes_from_its_embedded_id_and_misses_nothing(
    live_server: LiveServer, world: World
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        number = await open_conversation(http, world)
        await login(http, "bob@example.org")
        page = (await http.get(f"/conversations/{number}")).text
        head = last_event_id_of(page)
        # Written after the page was rendered, before the socket connected.
        missed = await api_reply(http, world, number, "Deposit found, crediting now")
        async with console_socket(live_server, http, head) as bob:
            assert bob.ready["resumed"] is True
            event = await bob.event("message.created")
            assert event["id"] > head
            assert event["data"]["message"]["id"] == missed
            fragment = await http.get(f"/conversations/{number}/messages/{missed}")
            assert "Deposit found, crediting now" in fragment.text
            row = await http.get(f"/inbox/rows/{event['data']['conversation']['id']}")
            assert row.status_code == 200


async def test_a_reply_sent_over_the_console_socket_is_stored_once(
    live_server: LiveServer, world: World, db: Database
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        number = await open_conversation(http, world)
        await login(http, "bob@example.org")
        head = last_event_id_of((await http.get(f"/conversations/{number}")).text)
        frame = {
            "type": "send",
            "client_id": "console-3f2a9c",
            "conversation_id": number,
            "body": "We are on it",
        }
        async with console_socket(live_server, http, head) as bob:
            await bob.send(**frame)
            first = await bob.next("ack")
            created = await bob.event("message.created")
            assert created["data"]["message"]["client_id"] == "console-3f2a9c"
        # The connection dropped before the page knew; it sends the same frame again.
        async with console_socket(live_server, http, created["id"]) as bob:
            await bob.send(**frame)
            again = await bob.next("ack")
        assert (first["duplicate"], again["duplicate"]) == (False, True)
        assert first["message_id"] == again["message_id"]
        page = (await http.get(f"/conversations/{number}")).text
        assert page.count("We are on it") == 1
        assert 'data-client-id="console-3f2a9c"' in page
    async with db.sessionmaker() as session:
        count = await session.execute(
            select(func.count(Message.id)).where(Message.conversation_id == number)
        )
    assert count.scalar_one() == 2


async def test_typing_in_the_console_reaches_the_customer_and_other_agents(
    live_server: LiveServer, world: World
) -> None:
    customer = await world.make_customer("Mei")
    token = await world.customer_token(customer)
    async with (
        httpx.AsyncClient(base_url=live_server.url) as http,
        token_client(live_server, token) as mei,
        token_client(live_server, world.alice.token) as alice,
    ):
        await mei.send(type="send", client_id="m-1", body="Where is my BTC withdrawal?")
        number = (await mei.next("ack"))["conversation_id"]
        await login(http, "bob@example.org")
        head = last_event_id_of((await http.get(f"/conversations/{number}")).text)
        async with console_socket(live_server, http, head) as bob:
            await mei.send(type="typing", conversation_id=number, typing=True)
            assert (await bob.next("typing"))["who"] == "customer"
            assert (await alice.next("typing"))["who"] == "customer"
            await bob.send(type="typing", conversation_id=number, typing=True, internal=True)
            seen = await alice.next("typing")
            assert (seen["who"], seen["name"], seen["typing"]) == ("agent", "Bob Agent", True)
            assert [f for f in await mei.nothing_more() if f["type"] == "typing"] == []
            await bob.send(type="typing", conversation_id=number, typing=True)
            assert (await mei.next("typing"))["who"] == "agent"


async def test_a_viewing_ping_reaches_other_agents_and_leaves_their_socket_working(
    live_server: LiveServer, world: World
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        number = await open_conversation(http, world)
        await login(http, "bob@example.org")
        csrf = await csrf_of(http, f"/conversations/{number}")
        async with token_client(live_server, world.alice.token) as alice:
            response = await http.post(
                f"/conversations/{number}/viewing",
                data={"viewing": "true", "typing": "false"},
                headers={"X-CSRF-Token": csrf},
            )
            assert response.status_code == 204
            seen = await alice.next("typing")
            assert (seen["conversation_id"], seen["who"], seen["name"]) == (
                number,
                "agent",
                "Bob Agent",
            )
            assert seen["typing"] is False, "a viewer who is not typing is not shown typing"
            # The ping must not have broken Alice's connection: events still arrive.
            await api_reply(http, world, number, "still live")
            assert (await alice.event("message.created"))["data"]["message"]["body"] == (
                "still live"
            )


async def test_a_viewing_ping_says_viewing_to_other_agents(
    live_server: LiveServer, world: World
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        number = await open_conversation(http, world)
        await login(http, "bob@example.org")
        csrf = await csrf_of(http, f"/conversations/{number}")
        async with token_client(live_server, world.alice.token) as alice:
            await http.post(
                f"/conversations/{number}/viewing",
                data={"viewing": "false"},
                headers={"X-CSRF-Token": csrf},
            )
            seen = await alice.next("typing")
    assert seen.get("viewing") is False
