"""The real-time protocol over real WebSockets, against a real uvicorn on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ledgerdesk.conversations.models import Message
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.realtime import outbox
from ledgerdesk.realtime.models import StreamEvent
from tests.conftest import LiveServer, World

TIMEOUT = 5.0


class Client:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.ready: dict[str, Any] = {}

    async def send(self, **frame: Any) -> None:
        await self.socket.send(json.dumps(frame))

    async def next(self, *types: str) -> dict[str, Any]:
        """The next frame of one of these types (pings and others are skipped)."""
        while True:
            frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.socket.recv(), TIMEOUT))
            if not types or frame["type"] in types:
                return frame

    async def event(self, kind: str) -> dict[str, Any]:
        while True:
            frame = await self.next("event")
            if frame["kind"] == kind:
                return frame

    async def nothing_more(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        seen = []
        try:
            while True:
                seen.append(json.loads(await asyncio.wait_for(self.socket.recv(), seconds)))
        except TimeoutError:
            return [f for f in seen if f["type"] not in ("ping", "pong")]


@asynccontextmanager
async def client(
    server: LiveServer, token: str | None, last_event_id: int | None = None, **headers: str
) -> AsyncIterator[Client]:
    async with connect(server.ws_url, additional_headers=headers) as socket:
        connection = Client(socket)
        hello: dict[str, Any] = {"type": "hello", "token": token}
        if last_event_id is not None:
            hello["last_event_id"] = last_event_id
        await connection.send(**hello)
        connection.ready = await connection.next("ready")
        yield connection


async def test_a_customer_message_reaches_the_agent_and_the_reply_comes_back(
    live_server: LiveServer, world: World
) -> None:
    customer = await world.make_customer("Mei")
    token = await world.customer_token(customer)
    async with client(live_server, world.bob.token) as agent, client(live_server, token) as mei:
        await mei.send(type="send", client_id="c-1", body="My deposit of 0.5 ETH is missing")
        ack = await mei.next("ack")
        assert ack["duplicate"] is False and ack["message_id"]
        created = await agent.event("conversation.created")
        assert created["data"]["message"]["body"] == "My deposit of 0.5 ETH is missing"
        conversation_id = ack["conversation_id"]

        await agent.send(
            type="send", client_id="a-1", conversation_id=conversation_id, body="Checking now"
        )
        await agent.send(
            type="send",
            client_id="a-2",
            conversation_id=conversation_id,
            body="(note) chain shows 2 confirmations",
            internal=True,
        )
        reply = await mei.event("message.created")
        assert reply["data"]["message"]["body"] == "Checking now"
        assert "assignee_id" not in reply["data"]["conversation"], "customers get a narrow view"
        # The internal note never reaches the customer.
        later = await mei.nothing_more()
        assert all("(note)" not in json.dumps(frame) for frame in later)


async def test_a_resent_message_is_stored_once(
    live_server: LiveServer, world: World, db: Database
) -> None:
    customer = await world.make_customer()
    token = await world.customer_token(customer)
    async with client(live_server, token) as visitor:
        await visitor.send(type="send", client_id="same", body="hello?")
        first = await visitor.next("ack")
    async with client(live_server, token) as visitor:  # the connection dropped; resend
        await visitor.send(type="send", client_id="same", body="hello?")
        second = await visitor.next("ack")
    assert second["duplicate"] is True
    assert (second["conversation_id"], second["message_id"]) == (
        first["conversation_id"],
        first["message_id"],
    )
    async with db.sessionmaker() as session:
        count = (await session.execute(select(func.count(Message.id)))).scalar_one()
    assert count == 1


async def test_a_reconnect_resumes_with_exactly_the_missed_events_in_order(
    live_server: LiveServer, world: World
) -> None:
    customer = await world.make_customer()
    token = await world.customer_token(customer)
    async with client(live_server, token) as visitor:
        await visitor.send(type="send", client_id="v-1", body="hi")
        ack = await visitor.next("ack")
        seen = await visitor.event("conversation.created")
        last_id = seen["id"]
    conversation_id = ack["conversation_id"]
    # While the visitor is away: three agent replies and one more customer message.
    async with client(live_server, world.bob.token) as agent:
        for number in range(3):
            await agent.send(
                type="send",
                client_id=f"r-{number}",
                conversation_id=conversation_id,
                body=f"reply {number}",
            )
            await agent.next("ack")
    async with client(live_server, token, last_event_id=last_id) as visitor:
        assert visitor.ready["resumed"] is True
        bodies = []
        ids = []
        for _ in range(3):
            frame = await visitor.event("message.created")
            bodies.append(frame["data"]["message"]["body"])
            ids.append(frame["id"])
        assert bodies == ["reply 0", "reply 1", "reply 2"]
        assert ids == sorted(ids) and ids[0] > last_id
        assert [f for f in await visitor.nothing_more() if f["type"] == "event"] == []


async def test_nobody_sees_what_is_not_theirs(live_server: LiveServer, world: World) -> None:
    dana, erin = await world.make_customer("Dana"), await world.make_customer("Erin")
    dana_token, erin_token = await world.customer_token(dana), await world.customer_token(erin)
    async with (
        client(live_server, erin_token) as erin_socket,
        client(live_server, world.bob.token) as bob,
        client(live_server, world.carol.token) as carol,
    ):
        async with client(live_server, dana_token) as dana_socket:
            await dana_socket.send(type="send", client_id="d-1", body="private to Dana")
            ack = await dana_socket.next("ack")
        await carol.event("conversation.created")
        await bob.event("conversation.created")
        # Move Dana's conversation into the private Security team.
        async with client(live_server, world.alice.token) as alice:
            await alice.send(
                type="send", client_id="x", conversation_id=ack["conversation_id"], body="ok"
            )
            await alice.next("ack")
        from httpx import AsyncClient

        async with AsyncClient(base_url=live_server.url) as http:
            moved = await http.patch(
                f"/api/v1/conversations/{ack['conversation_id']}",
                json={"team_id": world.security.id},
                headers=world.alice.headers,
            )
            assert moved.status_code == 200
            await http.post(
                f"/api/v1/conversations/{ack['conversation_id']}/messages",
                json={"body": "security review", "internal": True},
                headers=world.alice.headers,
            )
        bodies = [(await carol.event("message.created"))["data"]["message"]["body"] for _ in "ab"]
        assert bodies == ["ok", "security review"], "Carol is in Security and sees it all"
        bob_saw = await bob.nothing_more()
        assert all("security review" not in json.dumps(frame) for frame in bob_saw)
        erin_saw = await erin_socket.nothing_more()
        assert [f for f in erin_saw if f["type"] == "event"] == []


async def test_typing_is_shown_to_the_other_side_but_internal_typing_is_not(
    live_server: LiveServer, world: World
) -> None:
    customer = await world.make_customer()
    token = await world.customer_token(customer)
    async with client(live_server, token) as visitor, client(live_server, world.bob.token) as bob:
        await visitor.send(type="send", client_id="t-1", body="hello")
        conversation_id = (await visitor.next("ack"))["conversation_id"]
        await visitor.send(type="typing", conversation_id=conversation_id, typing=True)
        seen = await bob.next("typing")
        assert (seen["conversation_id"], seen["who"]) == (conversation_id, "customer")
        await bob.send(type="typing", conversation_id=conversation_id, internal=True)
        await bob.send(type="typing", conversation_id=conversation_id)
        shown = await visitor.next("typing")
        assert shown == {
            "type": "typing",
            "conversation_id": conversation_id,
            "typing": True,
            "who": "agent",
        }
        assert [f for f in await visitor.nothing_more() if f["type"] == "typing"] == []


async def test_bad_frames_get_a_clear_error_and_the_connection_survives(
    live_server: LiveServer, world: World
) -> None:
    customer = await world.make_customer()
    token = await world.customer_token(customer)
    async with client(live_server, token) as visitor:
        await visitor.socket.send("{not json")
        assert "Invalid JSON" in (await visitor.next("error"))["error"]
        await visitor.send(type="send", client_id="", body="x")
        assert "client_id" in (await visitor.next("error"))["error"]
        await visitor.send(type="launch-rockets")
        assert (await visitor.next("error"))["error"]
        await visitor.send(type="send", client_id="big", body="x" * 70_000)
        assert "larger than" in (await visitor.next("error"))["error"]
        await visitor.send(type="send", client_id="n", conversation_id=999999, body="hi")
        refused = await visitor.next("error")
        assert (refused["client_id"], refused["code"]) == ("n", "not_found")
        await visitor.send(type="ping")
        assert (await visitor.next("pong"))["type"] == "pong"


async def test_a_connection_without_a_valid_hello_is_closed_with_a_reason(
    live_server: LiveServer, world: World
) -> None:
    async with connect(live_server.ws_url) as socket:
        await socket.send(json.dumps({"type": "hello", "token": "ldk_forged"}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    async with connect(live_server.ws_url) as socket:
        await socket.send(json.dumps({"type": "send"}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400


async def test_a_console_cookie_from_another_site_is_refused(
    live_server: LiveServer, world: World
) -> None:
    async with connect(
        live_server.ws_url, additional_headers={"Origin": "https://evil.example"}
    ) as s:
        await s.send(json.dumps({"type": "hello"}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(s.recv(), TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_a_rolled_back_change_leaves_nothing_in_the_stream(db: Database) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        outbox.append(uow, kind="test", data={"x": 1}, customer_data={"x": 1}, customer_id=1)
        await uow.rollback()
        await uow.commit()
    async with db.sessionmaker() as session:
        assert (await session.execute(select(func.count(StreamEvent.id)))).scalar_one() == 0


async def _ack_noting_messages(connection: Client, bodies: list[str]) -> dict[str, Any]:
    """The next ack; message events read on the way are noted, not lost."""
    while True:
        frame = await connection.next("ack", "event")
        if frame["type"] == "ack":
            return frame
        if frame["data"].get("message"):
            bodies.append(frame["data"]["message"]["body"])


async def test_both_sides_write_while_the_customer_is_cut_off_and_everything_arrives_once(
    live_server: LiveServer, world: World
) -> None:
    customer = await world.make_customer()
    token = await world.customer_token(customer)
    heard: list[str] = []  # what the agent's connection received, in order
    async with client(live_server, world.bob.token) as agent:
        async with client(live_server, token) as visitor:
            await visitor.send(type="send", client_id="m-0", body="customer 0")
            ack = await visitor.next("ack")
            last_id = (await visitor.event("conversation.created"))["id"]
        conversation_id = ack["conversation_id"]
        # The connection is gone. The agent answers twice; the customer's widget queues
        # two messages of its own, and one of them was in fact delivered before the cut.
        for number in (1, 2):
            await agent.send(
                type="send",
                client_id=f"a-{number}",
                conversation_id=conversation_id,
                body=f"agent {number}",
            )
            await _ack_noting_messages(agent, heard)
        async with client(live_server, token) as early:
            await early.send(
                type="send", client_id="m-1", conversation_id=conversation_id, body="customer 1"
            )
            await early.next("ack")
        # Reconnect from the last event the widget saw, then resend both queued messages.
        async with client(live_server, token, last_event_id=last_id) as visitor:
            for client_id, body in (("m-1", "customer 1"), ("m-2", "customer 2")):
                await visitor.send(
                    type="send", client_id=client_id, conversation_id=conversation_id, body=body
                )
            acks, seen = [], []
            while len(acks) < 2 or len(seen) < 4:
                frame = await visitor.next("ack", "event")
                if frame["type"] == "ack":
                    acks.append(frame)
                elif frame["kind"] == "message.created":
                    seen.append(frame["data"]["message"]["body"])
            assert [a["duplicate"] for a in acks] == [True, False]
            assert seen == ["agent 1", "agent 2", "customer 1", "customer 2"]
            assert [f for f in await visitor.nothing_more() if f["type"] == "event"] == []
        while len(heard) < 5:
            frame = await agent.next("event")
            if frame["data"].get("message"):
                heard.append(frame["data"]["message"]["body"])
        assert heard == ["customer 0", "agent 1", "agent 2", "customer 1", "customer 2"]
        assert [f for f in await agent.nothing_more() if f["type"] == "event"] == []
