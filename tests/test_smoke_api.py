from __future__ import annotations

import httpx

from tests.conftest import World


async def test_it_creates_and_lists_a_conversation(client: httpx.AsyncClient, world: World) -> None:
    customer = await world.make_customer()
    created = await client.post(
        "/api/v1/conversations",
        json={
            "customer": {"id": customer.id},
            "subject": "Deposit missing",
            "body": "Where is my USDT?",
        },
        headers=world.bob.headers,
    )
    assert created.status_code == 201, created.text
    listed = await client.get("/api/v1/conversations", headers=world.bob.headers)
    assert listed.status_code == 200
    assert [item["subject"] for item in listed.json()["items"]] == ["Deposit missing"]
