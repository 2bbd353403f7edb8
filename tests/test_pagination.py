"""Cursor paging of the inbox stays exact while new conversations keep arriving."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx
from sqlalchemy import select

from ledgerdesk.conversations.actions import do_create_conversation
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.uow import UnitOfWork
from tests.conftest import World

API = "/api/v1"
Headers = dict[str, str]


async def create(client: httpx.AsyncClient, headers: Headers, customer: Customer, n: int) -> int:
    response = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": customer.id}, "subject": f"#{n}", "body": "hello"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    conversation_id: int = response.json()["id"]
    return conversation_id


async def walk(
    client: httpx.AsyncClient, headers: Headers, query: str, log: list[str]
) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        url = f"{API}/conversations?{query}" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        pages.append([item["id"] for item in body["items"]])
        log.append("page")
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        await asyncio.sleep(0)  # let the inserter in between pages


async def test_walking_pages_sees_every_existing_conversation_once_while_others_arrive(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    bob = world.bob.headers
    existing = [await create(client, bob, dana, n) for n in range(23)]
    log: list[str] = []
    inserted: list[int] = []
    walking = True

    async def inserter() -> None:
        n = 100
        while walking:
            inserted.append(await create(client, bob, dana, n))
            log.append("insert")
            n += 1
            await asyncio.sleep(0)

    async def walker() -> list[list[int]]:
        nonlocal walking
        try:
            return await walk(client, bob, "limit=4", log)
        finally:
            walking = False

    pages, _ = await asyncio.gather(walker(), inserter())
    seen = [cid for page in pages for cid in page]
    assert len(seen) == len(set(seen)), "no conversation appears twice"
    assert set(existing) <= set(seen), "no conversation that existed is skipped"
    assert set(seen) <= set(existing) | set(inserted)
    assert seen == sorted(seen, reverse=True), "newest first, across pages"
    assert all(len(page) <= 4 for page in pages)
    # The walk really did overlap with the inserts.
    first_page, last_page = log.index("page"), len(log) - 1 - log[::-1].index("page")
    assert "insert" in log[first_page:last_page], log
    assert len(pages) >= math.ceil(len(existing) / 4)


async def test_a_filtered_walk_under_concurrent_inserts_is_exact(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    erin = await world.make_customer("Erin")
    bob = world.bob.headers
    danas = []
    for n in range(15):
        danas.append(await create(client, bob, dana, n))
        await create(client, bob, erin, n)
    log: list[str] = []
    walking = True

    async def inserter() -> None:
        # Written through the actions, as a channel would, for both customers.
        n = 0
        while walking:
            async with UnitOfWork(world.db.write_sessionmaker()) as uow:
                await do_create_conversation(
                    uow, actor=None, customer=dana if n % 2 else erin, body=f"via channel {n}"
                )
                await uow.commit()
            log.append("insert")
            n += 1
            await asyncio.sleep(0)

    async def walker() -> list[list[int]]:
        nonlocal walking
        try:
            return await walk(client, bob, f"customer_id={dana.id}&limit=2", log)
        finally:
            walking = False

    pages, _ = await asyncio.gather(walker(), inserter())
    seen = [cid for page in pages for cid in page]
    assert len(seen) == len(set(seen))
    assert set(danas) <= set(seen)
    async with world.db.sessionmaker() as session:
        owners = dict(
            (await session.execute(select(Conversation.id, Conversation.customer_id))).all()
        )
    assert {owners[cid] for cid in seen} == {dana.id}
    first_page, last_page = log.index("page"), len(log) - 1 - log[::-1].index("page")
    assert "insert" in log[first_page:last_page], log


async def test_the_last_page_has_no_cursor_and_an_empty_inbox_has_one_empty_page(
    client: httpx.AsyncClient, world: World
) -> None:
    bob = world.bob.headers
    empty = await client.get(f"{API}/conversations", headers=bob)
    assert empty.json() == {"items": [], "next_cursor": None}
    dana = await world.make_customer("Dana")
    ids = [await create(client, bob, dana, n) for n in range(6)]
    pages = await walk(client, bob, "limit=3", [])
    assert pages == [ids[:2:-1], ids[2::-1]]
    exact = await client.get(f"{API}/conversations?limit=6", headers=bob)
    assert exact.json()["next_cursor"] is None
    assert len(exact.json()["items"]) == 6


async def test_paging_respects_visibility(client: httpx.AsyncClient, world: World) -> None:
    # Hidden conversations neither appear nor leave holes that break the cursor.
    dana = await world.make_customer("Dana")
    visible = []
    for n in range(9):
        if n % 3 == 0:
            secret = await create(client, world.carol.headers, dana, n)
            hidden = await client.patch(
                f"{API}/conversations/{secret}",
                json={"team_id": world.security.id},
                headers=world.carol.headers,
            )
            assert hidden.status_code == 200, hidden.text
        else:
            visible.append(await create(client, world.bob.headers, dana, n))
    pages = await walk(client, world.bob.headers, "limit=2", [])
    assert [cid for page in pages for cid in page] == sorted(visible, reverse=True)
    everything = await walk(client, world.carol.headers, "limit=4", [])
    assert len([cid for page in everything for cid in page]) == 9
