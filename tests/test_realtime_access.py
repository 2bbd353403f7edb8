"""Open real-time connections follow changes of access, over real WebSockets.

A token revoked, an agent given another role, a private team joined, two customers
merged: the connections concerned close (4401 when the credentials no longer work,
4409 when what they may see changed) and the others stay open.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ledgerdesk.realtime.connection import CLOSE_ACCESS_CHANGED, CLOSE_UNAUTHENTICATED
from tests.api_support import API
from tests.conftest import LiveServer, World
from tests.test_realtime import client as realtime_client

CLOSE_WITHIN = 5.0


async def _closed_with(socket: ClientConnection) -> int:
    """The close code, reading (and skipping) frames until the server closes."""
    try:
        async with asyncio.timeout(CLOSE_WITHIN):
            while True:
                await socket.recv()
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "closed by the server, with a code"
        return closed.rcvd.code
    except TimeoutError:
        pytest.fail(f"still open {CLOSE_WITHIN} s after the change")


async def _still_open(socket: ClientConnection, seconds: float = 1.6) -> None:
    await socket.send(json.dumps({"type": "ping"}))
    try:
        async with asyncio.timeout(seconds):
            while True:
                frame = json.loads(await socket.recv())
                if frame["type"] == "pong":
                    break
        await asyncio.sleep(seconds)  # past the re-check's spread
        await socket.send(json.dumps({"type": "ping"}))
        async with asyncio.timeout(seconds):
            while json.loads(await socket.recv())["type"] != "pong":
                pass
    except ConnectionClosed as closed:
        pytest.fail(f"closed ({closed.rcvd}) although its access did not change")


async def _token_id(client: httpx.AsyncClient, world: World, name: str) -> int:
    tokens = (await client.get(f"{API}/tokens", headers=world.alice.headers)).json()
    mine = [t for t in tokens if t["name"] == name]
    assert mine, tokens
    return int(mine[0]["id"])


async def test_a_revoked_token_closes_its_connection_and_no_other(
    live_server: LiveServer, world: World, client: httpx.AsyncClient
) -> None:
    async with (
        realtime_client(live_server, world.bob.token) as bob,
        realtime_client(live_server, world.carol.token) as carol,
    ):
        bob_tokens = [
            t
            for t in (await client.get(f"{API}/tokens", headers=world.bob.headers)).json()
            if t["name"] == "tests"
        ]
        assert len(bob_tokens) == 1
        revoked = await client.delete(
            f"{API}/tokens/{bob_tokens[0]['id']}", headers=world.alice.headers
        )
        assert revoked.status_code == 204, revoked.text

        assert await _closed_with(bob.socket) == CLOSE_UNAUTHENTICATED
        await _still_open(carol.socket)


async def test_a_new_role_closes_the_agents_connection_so_it_reconnects(
    live_server: LiveServer, world: World, client: httpx.AsyncClient
) -> None:
    async with realtime_client(live_server, world.victor.token) as victor:
        promoted = await client.patch(
            f"{API}/agents/{world.victor.agent.id}",
            json={"role": "agent"},
            headers=world.alice.headers,
        )
        assert promoted.status_code == 200, promoted.text

        assert await _closed_with(victor.socket) == CLOSE_ACCESS_CHANGED
    async with realtime_client(live_server, world.victor.token) as again:
        assert again.ready["type"] == "ready", "the same token connects again"


async def test_joining_a_private_team_changes_what_the_connection_sees(
    live_server: LiveServer, world: World, client: httpx.AsyncClient
) -> None:
    async with realtime_client(live_server, world.bob.token) as bob:
        added = await client.post(
            f"{API}/teams/{world.security.id}/members",
            json={"agent_id": world.bob.agent.id},
            headers=world.alice.headers,
        )
        assert added.status_code == 200, added.text

        assert await _closed_with(bob.socket) == CLOSE_ACCESS_CHANGED


async def test_a_merge_moves_the_open_widget_connection_to_the_surviving_customer(
    live_server: LiveServer, world: World, client: httpx.AsyncClient
) -> None:
    survivor = await world.make_customer("Mei Survivor")
    absorbed = await world.make_customer("Mei Absorbed")
    token = await world.customer_token(absorbed)
    async with realtime_client(live_server, token) as visitor:
        assert visitor.ready["you"]
        merged = await client.post(
            f"{API}/customers/{survivor.id}/merge",
            json={"other_id": absorbed.id},
            headers=world.alice.headers,
        )
        assert merged.status_code == 200, merged.text

        assert await _closed_with(visitor.socket) == CLOSE_ACCESS_CHANGED
    async with realtime_client(live_server, token) as again:
        await again.send(type="send", client_id="after-merge", body="Is my deposit there now?")
        ack = await again.next("ack")
    conversation = await client.get(
        f"{API}/conversations/{ack['conversation_id']}", headers=world.alice.headers
    )
    assert conversation.json()["customer_id"] == survivor.id


def test_a_change_named_for_one_agent_is_checked_only_by_that_agents_connections(
    world: World,
) -> None:
    from ledgerdesk.accounts.actions import ACCOUNTS_CHANGED, agent_changed
    from ledgerdesk.accounts.principal import Principal
    from ledgerdesk.realtime.connection import RealtimeConnection

    def connection(principal: Principal) -> RealtimeConnection:
        made = RealtimeConnection.__new__(RealtimeConnection)
        made.principal = principal
        return made

    bobs = connection(Principal(agent=world.bob.agent))
    carols = connection(Principal(agent=world.carol.agent))
    visitors = connection(Principal(customer_id=7))
    named = agent_changed(world.bob.agent.id)
    assert bobs._concerns(named)
    assert not carols._concerns(named) and not visitors._concerns(named)
    assert all(c._concerns(ACCOUNTS_CHANGED) for c in (bobs, carols, visitors))
