"""The customers API: identities, merges, search, permissions and the audit of every look."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from ledgerdesk.audit.models import AuditEntry
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.customers.models import Customer, CustomerIdentity
from ledgerdesk.db.engine import Database
from tests.api_support import API, Headers, assert_error, bearer, count
from tests.conftest import World


async def create_customer(
    client: httpx.AsyncClient, headers: Headers, **fields: Any
) -> dict[str, Any]:
    response = await client.post(f"{API}/customers", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def open_conversation(
    client: httpx.AsyncClient, headers: Headers, customer_id: int, subject: str
) -> int:
    response = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": customer_id}, "subject": subject, "body": "hello"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    conversation_id: int = response.json()["id"]
    return conversation_id


async def audit_rows(db: Database, action: str) -> list[AuditEntry]:
    async with db.sessionmaker() as session:
        result = await session.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return list(result.scalars())


async def test_it_creates_a_customer_with_identities(
    client: httpx.AsyncClient, world: World
) -> None:
    created = await create_customer(
        client,
        world.bob.headers,
        name="  Dana Doe ",
        email=" Dana@Example.COM ",
        language="pt-BR",
        tier="vip",
        identities=[
            {"kind": "telegram", "value": " @dana_t "},
            {"kind": "wallet_address", "value": "TXYZ1234abcd"},
            {"kind": "email", "value": "dana@example.com"},
        ],
    )
    assert created["name"] == "Dana Doe"
    assert created["email"] == "dana@example.com"
    assert (created["language"], created["tier"], created["merged_into_id"]) == (
        "pt-BR",
        "vip",
        None,
    )
    # Identities are normalised, and the email given twice is stored once.
    assert [(i["kind"], i["value"], i["verified"]) for i in created["identities"]] == [
        ("telegram", "@dana_t", False),
        ("wallet_address", "TXYZ1234abcd", False),
        ("email", "dana@example.com", False),
    ]
    fetched = await client.get(f"{API}/customers/{created['id']}", headers=world.bob.headers)
    assert fetched.json() == created
    [row] = await audit_rows(world.db, "customer.created")
    assert (row.agent_id, row.object_id) == (world.bob.agent.id, str(created["id"]))


async def test_an_identity_already_taken_is_a_conflict_and_nothing_is_stored(
    client: httpx.AsyncClient, world: World
) -> None:
    await create_customer(
        client,
        world.bob.headers,
        email="dana@example.com",
        identities=[{"kind": "telegram", "value": "@dana"}],
    )
    by_email = await client.post(
        f"{API}/customers",
        json={"name": "Impostor", "email": "DANA@example.com"},
        headers=world.bob.headers,
    )
    assert_error(by_email, 409, "dana@example.com", "already exists")
    by_identity = await client.post(
        f"{API}/customers",
        json={"name": "Impostor", "identities": [{"kind": "telegram", "value": "@dana"}]},
        headers=world.bob.headers,
    )
    assert_error(by_identity, 409, "telegram")
    assert await count(world.db, Customer) == 1
    assert await count(world.db, CustomerIdentity) == 2
    bad_email = await client.post(
        f"{API}/customers", json={"email": "no-at-sign"}, headers=world.bob.headers
    )
    assert_error(bad_email, 422, "not an email address")
    assert await count(world.db, Customer) == 1


async def test_it_adds_identities_but_not_ones_belonging_to_someone_else(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await create_customer(client, world.bob.headers, name="Dana")
    erin = await create_customer(client, world.bob.headers, email="erin@example.com")
    url = f"{API}/customers/{dana['id']}/identities"
    added = await client.post(
        url, json={"kind": "email", "value": "Dana@Example.com"}, headers=world.bob.headers
    )
    assert added.status_code == 201, added.text
    assert added.json()["email"] == "dana@example.com", "the first email becomes the address"
    assert [(i["kind"], i["value"]) for i in added.json()["identities"]] == [
        ("email", "dana@example.com")
    ]
    phone = await client.post(
        url, json={"kind": "phone", "value": "+49 170 1234567"}, headers=world.bob.headers
    )
    assert phone.status_code == 201
    assert phone.json()["email"] == "dana@example.com"
    twice = await client.post(
        url, json={"kind": "phone", "value": "+49 170 1234567"}, headers=world.bob.headers
    )
    assert_error(twice, 409, "already has")
    taken = await client.post(
        url, json={"kind": "email", "value": "erin@example.com"}, headers=world.bob.headers
    )
    assert_error(taken, 409, f"customer {erin['id']}", "merge")
    assert_error(
        await client.post(
            url, json={"kind": "email", "value": "x@y.z"}, headers=world.victor.headers
        ),
        403,
        "viewers",
    )
    assert await count(world.db, CustomerIdentity, CustomerIdentity.customer_id == dana["id"]) == 2


async def test_merging_moves_identities_conversations_and_tokens_to_the_survivor(
    client: httpx.AsyncClient, world: World
) -> None:
    bob = world.bob.headers
    survivor = await create_customer(client, bob, name="Dana", email="dana@example.com")
    absorbed = await create_customer(
        client,
        bob,
        name="D. Doe",
        email="dana.work@example.com",
        language="de",
        tier="vip",
        identities=[{"kind": "telegram", "value": "@dana"}],
    )
    kept = await open_conversation(client, bob, survivor["id"], "Deposit")
    moved = await open_conversation(client, bob, absorbed["id"], "Withdrawal")
    async with world.db.sessionmaker() as session:
        absorbed_row = await session.get(Customer, absorbed["id"])
        assert absorbed_row is not None
    absorbed_token = bearer(await world.customer_token(absorbed_row))

    merged = await client.post(
        f"{API}/customers/{survivor['id']}/merge", json={"other_id": absorbed["id"]}, headers=bob
    )
    assert merged.status_code == 200, merged.text
    result = merged.json()
    assert result["id"] == survivor["id"]
    assert result["merged_into_id"] is None
    assert (result["name"], result["email"], result["language"], result["tier"]) == (
        "Dana",
        "dana@example.com",
        "de",
        "vip",
    )
    assert sorted((i["kind"], i["value"]) for i in result["identities"]) == [
        ("email", "dana.work@example.com"),
        ("email", "dana@example.com"),
        ("telegram", "@dana"),
    ]
    conversation = await client.get(f"{API}/conversations/{moved}", headers=bob)
    assert conversation.json()["customer_id"] == survivor["id"]
    listed = await client.get(f"{API}/conversations?customer_id={survivor['id']}", headers=bob)
    assert {item["id"] for item in listed.json()["items"]} == {kept, moved}
    assert await count(world.db, Conversation, Conversation.customer_id == absorbed["id"]) == 0

    async with world.db.sessionmaker() as session:
        pointer = await session.get(Customer, absorbed["id"])
        assert pointer is not None and pointer.merged_into_id == survivor["id"]
    # The absorbed id still works, and leads to the survivor.
    old_link = await client.get(f"{API}/customers/{absorbed['id']}", headers=bob)
    assert old_link.status_code == 200
    assert old_link.json()["id"] == survivor["id"]
    searched = await client.get(f"{API}/customers?q=dana", headers=bob)
    assert [item["id"] for item in searched.json()["items"]] == [survivor["id"]]
    # The absorbed customer's widget token now acts for the survivor.
    mine = await client.get(f"{API}/conversations", headers=absorbed_token)
    assert {item["id"] for item in mine.json()["items"]} == {kept, moved}
    # A channel identity of the absorbed customer now finds the survivor.
    via_email = await client.post(
        f"{API}/conversations",
        json={"customer": {"email": "dana.work@example.com"}, "body": "again"},
        headers=bob,
    )
    assert via_email.json()["customer_id"] == survivor["id"]
    [audit] = await audit_rows(world.db, "customer.merged")
    assert audit.detail == {"absorbed_id": absorbed["id"]}


async def test_a_merge_into_itself_or_by_a_viewer_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await create_customer(client, world.bob.headers, email="dana@example.com")
    erin = await create_customer(client, world.bob.headers, email="erin@example.com")
    itself = await client.post(
        f"{API}/customers/{dana['id']}/merge",
        json={"other_id": dana["id"]},
        headers=world.bob.headers,
    )
    assert_error(itself, 422, "itself")
    viewer = await client.post(
        f"{API}/customers/{dana['id']}/merge",
        json={"other_id": erin["id"]},
        headers=world.victor.headers,
    )
    assert_error(viewer, 403, "viewers")
    missing = await client.post(
        f"{API}/customers/{dana['id']}/merge", json={"other_id": 987654}, headers=world.bob.headers
    )
    assert_error(missing, 404, "987654")
    async with world.db.sessionmaker() as session:
        rows = (await session.execute(select(Customer.merged_into_id))).scalars().all()
    assert rows == [None, None]


async def test_reading_a_customer_record_is_audited(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    first = await client.get(f"{API}/customers/{dana.id}", headers=world.bob.headers)
    assert first.status_code == 200
    await client.get(f"{API}/customers/{dana.id}", headers=world.victor.headers)
    rows = await audit_rows(world.db, "customer.viewed")
    assert [(r.agent_id, r.object_type, r.object_id) for r in rows] == [
        (world.bob.agent.id, "customer", str(dana.id)),
        (world.victor.agent.id, "customer", str(dana.id)),
    ]
    # The customer reading their own record is not an agent looking at someone.
    own = await client.get(
        f"{API}/customers/{dana.id}",
        headers={"Authorization": f"Bearer {await world.customer_token(dana)}"},
    )
    assert own.status_code == 200 and own.json()["id"] == dana.id
    assert len(await audit_rows(world.db, "customer.viewed")) == 2
    # A refused look is not recorded as a look.
    missing = await client.get(f"{API}/customers/{dana.id + 100}", headers=world.bob.headers)
    assert_error(missing, 404)
    assert len(await audit_rows(world.db, "customer.viewed")) == 2


async def test_customer_tokens_and_viewers_are_limited(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    erin = await world.make_customer("Erin")
    as_dana = bearer(await world.customer_token(dana))
    assert_error(await client.get(f"{API}/customers/{erin.id}", headers=as_dana), 404)
    assert_error(await client.get(f"{API}/customers", headers=as_dana), 403, "agents")
    assert_error(
        await client.post(f"{API}/customers", json={"name": "x"}, headers=as_dana), 403, "agents"
    )
    assert_error(
        await client.patch(f"{API}/customers/{dana.id}", json={"tier": "vip"}, headers=as_dana),
        403,
    )
    assert_error(
        await client.post(f"{API}/customers", json={"name": "x"}, headers=world.victor.headers),
        403,
        "viewers",
    )
    assert_error(
        await client.patch(
            f"{API}/customers/{dana.id}", json={"notes": "x"}, headers=world.victor.headers
        ),
        403,
    )
    assert await count(world.db, Customer) == 2
    async with world.db.sessionmaker() as session:
        stored = await session.get(Customer, dana.id)
        assert stored is not None and (stored.tier, stored.notes) == ("standard", "")


async def test_an_agent_updates_a_customer_and_it_is_audited(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    updated = await client.patch(
        f"{API}/customers/{dana.id}",
        json={"name": " Dana D. ", "language": "zh-Hans", "tier": "vip", "notes": "prefers email"},
        headers=world.bob.headers,
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert (body["name"], body["language"], body["tier"], body["notes"]) == (
        "Dana D.",
        "zh-Hans",
        "vip",
        "prefers email",
    )
    [row] = await audit_rows(world.db, "customer.updated")
    assert row.detail == {
        "name": "Dana D.",
        "language": "zh-Hans",
        "tier": "vip",
        "notes": "changed",
    }
    bad_tier = await client.patch(
        f"{API}/customers/{dana.id}", json={"tier": "platinum"}, headers=world.bob.headers
    )
    assert_error(bad_tier, 422, "tier")


async def test_search_finds_by_name_email_or_identity_and_pages(
    client: httpx.AsyncClient, world: World
) -> None:
    bob = world.bob.headers
    ids = [
        (await create_customer(client, bob, name=f"Trader {n}", email=f"t{n}@example.com"))["id"]
        for n in range(5)
    ]
    wallet = await create_customer(
        client, bob, name="Whale", identities=[{"kind": "wallet_address", "value": "0xAbC_100%"}]
    )
    found = await client.get(f"{API}/customers?q=whale", headers=bob)
    assert [c["id"] for c in found.json()["items"]] == [wallet["id"]]
    by_identity = await client.get(f"{API}/customers?q=0xabc_100%25", headers=bob)
    assert [c["id"] for c in by_identity.json()["items"]] == [wallet["id"]]
    wildcard = await client.get(f"{API}/customers?q=_", headers=bob)
    assert [c["id"] for c in wildcard.json()["items"]] == [wallet["id"]]
    by_email = await client.get(f"{API}/customers?q=T3@EXAMPLE", headers=bob)
    assert [c["id"] for c in by_email.json()["items"]] == [ids[3]]

    seen: list[int] = []
    cursor: int | None = None
    while True:
        query = f"&cursor={cursor}" if cursor else ""
        page = (await client.get(f"{API}/customers?q=trader&limit=2{query}", headers=bob)).json()
        seen += [c["id"] for c in page["items"]]
        assert len(page["items"]) <= 2
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)


async def test_oversized_email_and_language_are_refused_on_every_database(
    client: httpx.AsyncClient, world: World
) -> None:
    # The columns hold 254 and 20 characters; PostgreSQL would fail on more.
    long_email = "a" * 250 + "@example.com"
    refused = await client.post(
        f"{API}/customers", json={"email": long_email}, headers=world.bob.headers
    )
    assert_error(refused, 422, "254")
    via_identity = await client.post(
        f"{API}/customers",
        json={"identities": [{"kind": "email", "value": long_email}]},
        headers=world.bob.headers,
    )
    assert_error(via_identity, 422, "254")
    via_conversation = await client.post(
        f"{API}/conversations",
        json={"customer": {"email": long_email}, "body": "hi"},
        headers=world.bob.headers,
    )
    assert_error(via_conversation, 422, "254")
    long_language = await client.post(
        f"{API}/customers",
        json={"language": "en-" + "-".join(["abcdefgh"] * 4)},
        headers=world.bob.headers,
    )
    assert_error(long_language, 422, "language")
    assert await count(world.db, Customer) == 0
