"""The conversations API: permissions, lifecycle, filters, history and idempotent ingest."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from ledgerdesk.accounts.actions import do_create_api_token
from ledgerdesk.accounts.models import Agent
from ledgerdesk.conversations.models import Conversation, Message
from ledgerdesk.conversations.status import ALLOWED_TRANSITIONS, Status
from ledgerdesk.customers.models import Customer, CustomerIdentity
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from tests.api_support import API, Headers, assert_error, bearer, count
from tests.conftest import World

# How to bring a fresh ("new") conversation into each status through the API.
ROUTE_TO: dict[Status, list[Status]] = {
    Status.NEW: [],
    Status.OPEN: [Status.OPEN],
    Status.PENDING: [Status.PENDING],
    Status.ON_HOLD: [Status.ON_HOLD],
    Status.SOLVED: [Status.SOLVED],
    Status.CLOSED: [Status.SOLVED, Status.CLOSED],
}


async def agent_token(db: Database, agent: Agent, scopes: list[str]) -> str:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        token, _ = await do_create_api_token(
            uow, actor=None, name="limited", scopes=scopes, agent=agent
        )
        await uow.commit()
    return token


async def open_conversation(
    client: httpx.AsyncClient, headers: Headers, customer: Customer | None = None, **fields: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {"body": "Where is my USDT deposit?", **fields}
    if customer is not None:
        payload["customer"] = {"id": customer.id}
    response = await client.post(f"{API}/conversations", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def patch(
    client: httpx.AsyncClient, headers: Headers, conversation_id: int, **fields: Any
) -> httpx.Response:
    return await client.patch(
        f"{API}/conversations/{conversation_id}", json=fields, headers=headers
    )


async def reply(
    client: httpx.AsyncClient, headers: Headers, conversation_id: int, body: str, **fields: Any
) -> httpx.Response:
    return await client.post(
        f"{API}/conversations/{conversation_id}/messages",
        json={"body": body, **fields},
        headers=headers,
    )


async def move_to(
    client: httpx.AsyncClient, headers: Headers, conversation_id: int, status: Status
) -> None:
    for step in ROUTE_TO[status]:
        response = await patch(client, headers, conversation_id, status=step.value)
        assert response.status_code == 200, response.text
    current = await client.get(f"{API}/conversations/{conversation_id}", headers=headers)
    assert current.json()["status"] == status.value


async def listed_ids(client: httpx.AsyncClient, headers: Headers, query: str = "") -> list[int]:
    response = await client.get(f"{API}/conversations?limit=100{query}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return [item["id"] for item in response.json()["items"]]


# Permissions -----------------------------------------------------------------


async def test_a_viewer_can_read_but_cannot_reply_note_change_status_or_create(
    client: httpx.AsyncClient, world: World
) -> None:
    customer = await world.make_customer()
    conversation = await open_conversation(client, world.bob.headers, customer)
    cid = conversation["id"]
    victor = world.victor.headers

    assert (await client.get(f"{API}/conversations/{cid}", headers=victor)).status_code == 200
    assert cid in await listed_ids(client, victor)
    assert_error(await reply(client, victor, cid, "hello"), 403, "viewers")
    assert_error(await reply(client, victor, cid, "note", internal=True), 403, "viewers")
    assert_error(await patch(client, victor, cid, status="solved"), 403, "viewers")
    assert_error(await patch(client, victor, cid, priority="high"), 403, "viewers")
    refused = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": customer.id}, "body": "opened by a viewer"},
        headers=victor,
    )
    assert_error(refused, 403, "viewers")
    by_email = await client.post(
        f"{API}/conversations",
        json={"customer": {"email": "fresh@example.com"}, "body": "opened by a viewer"},
        headers=victor,
    )
    assert_error(by_email, 403, "viewers")

    assert await count(world.db, Conversation) == 1
    assert await count(world.db, Message) == 1
    # The refused create by email did not leave a customer behind either.
    assert (
        await count(world.db, CustomerIdentity, CustomerIdentity.value == "fresh@example.com") == 0
    )
    after = await client.get(f"{API}/conversations/{cid}", headers=victor)
    assert after.json()["status"] == "new" and after.json()["priority"] == "normal"


async def test_an_agent_outside_a_private_team_cannot_see_its_conversations(
    client: httpx.AsyncClient, world: World
) -> None:
    customer = await world.make_customer()
    secret = await open_conversation(
        client, world.carol.headers, customer, subject="Account takeover", team_id=world.security.id
    )
    public = await open_conversation(client, world.bob.headers, customer, subject="Fees")
    sid = secret["id"]
    bob = world.bob.headers

    assert_error(await client.get(f"{API}/conversations/{sid}", headers=bob), 404, str(sid))
    assert_error(await patch(client, bob, sid, status="open"), 404, str(sid))
    assert_error(await client.get(f"{API}/conversations/{sid}/messages", headers=bob), 404)
    assert_error(await reply(client, bob, sid, "peek"), 404)
    assert_error(await client.get(f"{API}/conversations/{sid}/events", headers=bob), 404)
    assert await listed_ids(client, bob) == [public["id"]]
    assert await listed_ids(client, bob, f"&team_id={world.security.id}") == []
    assert await listed_ids(client, bob, "&q=takeover") == []
    # The refusal looks exactly like a conversation that does not exist.
    missing = await client.get(f"{API}/conversations/{sid + 1000}", headers=bob)
    assert missing.json()["error"]["code"] == "not_found"

    for member in (world.carol, world.alice):
        got = await client.get(f"{API}/conversations/{sid}", headers=member.headers)
        assert got.status_code == 200, got.text
        assert await listed_ids(client, member.headers) == [public["id"], sid]
        messages = await client.get(f"{API}/conversations/{sid}/messages", headers=member.headers)
        assert [m["body"] for m in messages.json()] == ["Where is my USDT deposit?"]
    assert (await reply(client, world.carol.headers, sid, "On it")).status_code == 201
    assert await count(world.db, Message, Message.conversation_id == sid) == 2


async def test_a_customer_token_sees_only_that_customers_conversations(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    erin = await world.make_customer("Erin")
    danas = await open_conversation(client, world.bob.headers, dana)
    erins = await open_conversation(client, world.bob.headers, erin)
    as_dana = bearer(await world.customer_token(dana))

    own = await client.get(f"{API}/conversations/{danas['id']}", headers=as_dana)
    assert own.status_code == 200 and own.json()["customer_id"] == dana.id
    eid = erins["id"]
    assert_error(await client.get(f"{API}/conversations/{eid}", headers=as_dana), 404)
    assert_error(await client.get(f"{API}/conversations/{eid}/messages", headers=as_dana), 404)
    assert_error(await reply(client, as_dana, eid, "hi"), 404)
    assert_error(await patch(client, as_dana, eid, status="solved"), 404)
    assert await listed_ids(client, as_dana) == [danas["id"]]
    assert await listed_ids(client, as_dana, f"&customer_id={erin.id}") == []
    # A customer writing in opens conversations for itself only.
    mine = await open_conversation(client, as_dana, body="Second question")
    assert mine["customer_id"] == dana.id
    foreign = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": erin.id}, "body": "as someone else"},
        headers=as_dana,
    )
    assert_error(foreign, 422, "own customer")
    assert await count(world.db, Conversation, Conversation.customer_id == erin.id) == 1
    # The history endpoint is for agents.
    assert_error(
        await client.get(f"{API}/conversations/{danas['id']}/events", headers=as_dana), 403
    )


async def test_a_customer_cannot_write_internal_notes_nor_see_them(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    cid = (await open_conversation(client, world.bob.headers, dana))["id"]
    note = await reply(client, world.bob.headers, cid, "Looks like phishing", internal=True)
    assert note.status_code == 201 and note.json()["internal"] is True
    public = await reply(client, world.bob.headers, cid, "We are checking")
    assert public.status_code == 201
    as_dana = bearer(await world.customer_token(dana))

    seen = await client.get(f"{API}/conversations/{cid}/messages", headers=as_dana)
    assert [m["body"] for m in seen.json()] == ["Where is my USDT deposit?", "We are checking"]
    agent_view = await client.get(f"{API}/conversations/{cid}/messages", headers=world.bob.headers)
    assert "Looks like phishing" in [m["body"] for m in agent_view.json()]
    assert_error(await reply(client, as_dana, cid, "sneaky", internal=True), 403, "internal notes")
    written = await reply(client, as_dana, cid, "Thanks")
    assert written.status_code == 201
    assert written.json()["author_kind"] == "customer"
    assert written.json()["customer_id"] == dana.id
    assert await count(world.db, Message, Message.conversation_id == cid) == 4


async def test_a_customer_may_only_solve_or_reopen_not_reassign_or_reprioritise(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    cid = (await open_conversation(client, world.bob.headers, dana))["id"]
    as_dana = bearer(await world.customer_token(dana))

    assert_error(await patch(client, as_dana, cid, priority="urgent"), 403, "customers")
    assert_error(await patch(client, as_dana, cid, assignee_id=world.bob.agent.id), 403)
    assert_error(await patch(client, as_dana, cid, assignee_id=None), 403)
    assert_error(await patch(client, as_dana, cid, team_id=world.support.id), 403)
    assert_error(await patch(client, as_dana, cid, add_tags=["vip"]), 403)
    assert_error(await patch(client, as_dana, cid, custom_fields={"tier": "gold"}), 403)
    assert_error(await patch(client, as_dana, cid, status="on_hold"), 403, "solved")
    unchanged = (await client.get(f"{API}/conversations/{cid}", headers=as_dana)).json()
    assert (unchanged["priority"], unchanged["assignee_id"], unchanged["tags"]) == (
        "normal",
        None,
        [],
    )
    solved = await patch(client, as_dana, cid, status="solved")
    assert solved.status_code == 200 and solved.json()["status"] == "solved"
    reopened = await patch(client, as_dana, cid, status="open")
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    creating = await client.post(
        f"{API}/conversations",
        json={"body": "assign me", "assignee_id": world.bob.agent.id},
        headers=as_dana,
    )
    assert_error(creating, 403, "assignee")


async def test_a_token_without_the_write_scope_can_read_but_not_change_anything(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    cid = (await open_conversation(client, world.bob.headers, dana))["id"]
    reader = bearer(await agent_token(world.db, world.bob.agent, ["conversations:read"]))

    assert (await client.get(f"{API}/conversations/{cid}", headers=reader)).status_code == 200
    assert (await client.get(f"{API}/conversations/{cid}/messages", headers=reader)).is_success
    assert await listed_ids(client, reader) == [cid]
    assert_error(await reply(client, reader, cid, "hello"), 403, "conversations:write")
    assert_error(await patch(client, reader, cid, status="open"), 403, "conversations:write")
    creating = await client.post(
        f"{API}/conversations", json={"customer": {"id": dana.id}, "body": "x"}, headers=reader
    )
    assert_error(creating, 403)
    customer_reader = bearer(await world.customer_token(dana, scopes=["conversations:read"]))
    assert (await client.get(f"{API}/conversations/{cid}", headers=customer_reader)).is_success
    assert_error(await reply(client, customer_reader, cid, "hi"), 403, "conversations:write")
    assert await count(world.db, Message) == 1
    # Nor can a token without the read scope read.
    unscoped = bearer(await agent_token(world.db, world.bob.agent, ["customers:read"]))
    assert_error(await client.get(f"{API}/conversations/{cid}", headers=unscoped), 403)
    assert_error(await client.get(f"{API}/conversations", headers=unscoped), 403)


# Creating and reading --------------------------------------------------------


async def test_an_agent_opens_a_conversation_for_a_customer_id(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    created = await open_conversation(
        client,
        world.bob.headers,
        dana,
        subject="  Deposit missing  ",
        priority="high",
        tags=["Deposit", "deposit", "KYC check"],
        team_id=world.support.id,
        language="de",
        custom_fields={"order": "A-1"},
    )
    assert created["subject"] == "Deposit missing"
    assert created["number"] == created["id"]
    assert created["customer_id"] == dana.id
    assert (created["status"], created["priority"], created["channel"]) == ("new", "high", "api")
    assert created["tags"] == ["deposit", "kyc-check"]
    assert created["team_id"] == world.support.id
    assert created["language"] == "de"
    assert created["custom_fields"] == {"order": "A-1"}
    assert created["message_count"] == 1
    assert created["first_response_at"] is None

    got = await client.get(f"{API}/conversations/{created['id']}", headers=world.bob.headers)
    assert got.json() == created
    messages = await client.get(
        f"{API}/conversations/{created['id']}/messages", headers=world.bob.headers
    )
    [first] = messages.json()
    assert (first["author_kind"], first["customer_id"], first["internal"]) == (
        "customer",
        dana.id,
        False,
    )
    events = await client.get(
        f"{API}/conversations/{created['id']}/events", headers=world.bob.headers
    )
    # Messages are their own record; the history holds changes to the conversation.
    assert [(e["kind"], e["actor_agent_id"]) for e in events.json()] == [
        ("created", world.bob.agent.id),
    ]
    assigned = await open_conversation(
        client, world.bob.headers, dana, assignee_id=world.bob.agent.id
    )
    assert assigned["status"] == "open", "an assigned conversation starts in work"


async def test_opening_by_email_finds_or_creates_the_customer(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana", email="dana@example.com")
    first = await client.post(
        f"{API}/conversations",
        json={"customer": {"email": "  DANA@Example.com "}, "body": "again"},
        headers=world.bob.headers,
    )
    assert first.status_code == 201, first.text
    assert first.json()["customer_id"] == dana.id
    fresh = await client.post(
        f"{API}/conversations",
        json={"customer": {"email": "Frank@Example.com", "name": "Frank"}, "body": "new here"},
        headers=world.bob.headers,
    )
    assert fresh.status_code == 201, fresh.text
    frank_id = fresh.json()["customer_id"]
    assert frank_id != dana.id
    frank = await client.get(f"{API}/customers/{frank_id}", headers=world.bob.headers)
    assert (frank.json()["name"], frank.json()["email"]) == ("Frank", "frank@example.com")
    assert [(i["kind"], i["value"]) for i in frank.json()["identities"]] == [
        ("email", "frank@example.com")
    ]
    again = await client.post(
        f"{API}/conversations",
        json={"customer": {"email": "frank@example.com"}, "body": "one more"},
        headers=world.bob.headers,
    )
    assert again.json()["customer_id"] == frank_id
    assert await count(world.db, Customer) == 2


async def test_opening_needs_a_known_customer_given_one_way(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    bob = world.bob.headers
    missing = await client.post(
        f"{API}/conversations", json={"customer": {"id": 999_999}, "body": "x"}, headers=bob
    )
    assert_error(missing, 404, "customer 999999")
    nobody = await client.post(f"{API}/conversations", json={"body": "x"}, headers=bob)
    assert_error(nobody, 422, "customer is required")
    both = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": dana.id, "email": "d@example.com"}, "body": "x"},
        headers=bob,
    )
    assert_error(both, 422, "id or email")
    blank = await client.post(
        f"{API}/conversations", json={"customer": {"id": dana.id}, "body": "   "}, headers=bob
    )
    assert_error(blank, 422, "must not be empty")
    unknown_team = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": dana.id}, "body": "x", "team_id": 999},
        headers=bob,
    )
    assert_error(unknown_team, 422, "team 999")
    viewer_assignee = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": dana.id}, "body": "x", "assignee_id": world.victor.agent.id},
        headers=bob,
    )
    assert_error(viewer_assignee, 422, "viewer")
    assert await count(world.db, Conversation) == 0


async def test_list_filters_narrow_the_inbox(client: httpx.AsyncClient, world: World) -> None:
    dana = await world.make_customer("Dana", email="dana@example.com")
    erin = await world.make_customer("Erin", email="erin@wallet.example")
    bob, alice = world.bob.headers, world.alice.headers
    a = await open_conversation(client, bob, dana, subject="Deposit missing", tags=["deposit"])
    b = await open_conversation(
        client, bob, dana, subject="Withdrawal stuck", priority="urgent", channel="email"
    )
    c = await open_conversation(
        client, bob, erin, subject="KYC question", team_id=world.support.id, tags=["kyc"]
    )
    d = await open_conversation(
        client, bob, erin, subject="Airdrop at 0% fee", priority="high", channel="telegram"
    )
    assert (await patch(client, bob, a["id"], assignee_id=world.bob.agent.id)).is_success
    assert (await patch(client, bob, b["id"], assignee_id=world.alice.agent.id)).is_success
    assert (await patch(client, bob, b["id"], status="pending")).is_success
    assert (await patch(client, bob, c["id"], status="solved")).is_success

    async def ids(query: str, headers: Headers = bob) -> set[int]:
        return set(await listed_ids(client, headers, query))

    everything = {a["id"], b["id"], c["id"], d["id"]}
    assert await ids("") == everything
    assert await ids("&status=new") == {d["id"]}
    assert await ids("&status=open&status=pending") == {a["id"], b["id"]}
    assert await ids("&status=closed") == set()
    assert await ids("&priority=urgent&priority=high") == {b["id"], d["id"]}
    assert await ids("&assignee=me") == {a["id"]}
    assert await ids("&assignee=me", alice) == {b["id"]}
    assert await ids("&assignee=none") == {c["id"], d["id"]}
    assert await ids(f"&assignee={world.alice.agent.id}") == {b["id"]}
    assert await ids(f"&team_id={world.support.id}") == {c["id"]}
    assert await ids("&tag=kyc") == {c["id"]}
    assert await ids("&tag=DEPOSIT") == {a["id"]}
    assert await ids("&q=withdrawal") == {b["id"]}
    assert await ids("&q=wallet.example") == {c["id"], d["id"]}
    assert await ids("&q=Erin") == {c["id"], d["id"]}
    assert await ids(f"&q=%23{a['id']}") == {a["id"]}
    assert await ids(f"&q={c['id']}") == {c["id"]}
    # LIKE wildcards in the query are literal characters.
    assert await ids("&q=0%25") == {d["id"]}
    assert await ids("&q=%25") == {d["id"]}
    assert await ids("&q=_") == set()
    assert await ids("&channel=email") == {b["id"]}
    assert await ids("&channel=telegram") == {d["id"]}
    assert await ids(f"&customer_id={dana.id}") == {a["id"], b["id"]}
    assert await ids(f"&customer_id={dana.id}&status=open") == {a["id"]}
    # A query in another script's digits is text, not a conversation number.
    assert await ids("&q=%C2%B2") == set()
    listed = await client.get(f"{API}/conversations", headers=bob)
    ordered = [item["id"] for item in listed.json()["items"]]
    assert ordered == sorted(everything, reverse=True), "newest first"


# Changing a conversation -----------------------------------------------------


async def test_each_change_is_applied_and_recorded_with_its_actor(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    bob, alice = world.bob.headers, world.alice.headers
    cid = (await open_conversation(client, bob, dana, tags=["deposit"]))["id"]

    changed = await patch(client, bob, cid, status="pending", priority="high")
    assert changed.status_code == 200, changed.text
    assert (changed.json()["status"], changed.json()["priority"]) == ("pending", "high")
    assigned = await patch(client, alice, cid, assignee_id=world.bob.agent.id)
    assert assigned.json()["assignee_id"] == world.bob.agent.id
    unassigned = await patch(client, bob, cid, assignee_id=None)
    assert unassigned.json()["assignee_id"] is None
    # Leaving the field out keeps it as it is.
    assert (await patch(client, bob, cid, priority="low")).json()["assignee_id"] is None
    moved = await patch(client, bob, cid, team_id=world.support.id)
    assert moved.json()["team_id"] == world.support.id
    retagged = await patch(client, bob, cid, tags=["Refund", "kyc"])
    assert retagged.json()["tags"] == ["kyc", "refund"]
    added = await patch(client, bob, cid, add_tags=["VIP"], remove_tags=["kyc", "absent"])
    assert added.json()["tags"] == ["refund", "vip"]
    fields = await patch(client, bob, cid, custom_fields={"order": "A-1", "chain": "tron"})
    assert fields.json()["custom_fields"] == {"order": "A-1", "chain": "tron"}
    merged = await patch(client, bob, cid, custom_fields={"chain": None, "amount": 12.5})
    assert merged.json()["custom_fields"] == {"order": "A-1", "amount": 12.5}
    renamed = await patch(client, bob, cid, subject="  Refund request ")
    assert renamed.json()["subject"] == "Refund request"
    no_team = await patch(client, bob, cid, team_id=None)
    assert no_team.json()["team_id"] is None

    events = (await client.get(f"{API}/conversations/{cid}/events", headers=bob)).json()
    changes = [(e["kind"], e["actor_kind"], e["actor_agent_id"], e["data"]) for e in events[1:]]
    b, a = world.bob.agent.id, world.alice.agent.id
    assert changes == [
        ("status_changed", "agent", b, {"from": "new", "to": "pending"}),
        ("priority_changed", "agent", b, {"from": "normal", "to": "high"}),
        ("assignee_changed", "agent", a, {"from": None, "to": b}),
        ("assignee_changed", "agent", b, {"from": b, "to": None}),
        ("priority_changed", "agent", b, {"from": "high", "to": "low"}),
        ("team_changed", "agent", b, {"from": None, "to": world.support.id}),
        ("tags_changed", "agent", b, {"added": ["kyc", "refund"], "removed": ["deposit"]}),
        ("tags_changed", "agent", b, {"added": ["vip"], "removed": ["kyc"]}),
        ("custom_fields_changed", "agent", b, {"set": {"order": "A-1", "chain": "tron"}}),
        ("custom_fields_changed", "agent", b, {"set": {"chain": None, "amount": 12.5}}),
        (
            "subject_changed",
            "agent",
            b,
            {"from": "Where is my USDT deposit?", "to": "Refund request"},
        ),
        ("team_changed", "agent", b, {"from": world.support.id, "to": None}),
    ]
    # A change to what is already there records nothing.
    same = await patch(client, bob, cid, priority="low", tags=["refund", "vip"])
    assert same.status_code == 200
    again = (await client.get(f"{API}/conversations/{cid}/events", headers=bob)).json()
    assert len(again) == len(events)


async def test_assigning_a_new_conversation_takes_it_into_work(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    cid = (await open_conversation(client, world.bob.headers, dana))["id"]
    assigned = await patch(client, world.bob.headers, cid, assignee_id=world.carol.agent.id)
    assert (assigned.json()["status"], assigned.json()["assignee_id"]) == (
        "open",
        world.carol.agent.id,
    )
    viewer = await patch(client, world.bob.headers, cid, assignee_id=world.victor.agent.id)
    assert_error(viewer, 422, "viewer")
    ghost = await patch(client, world.bob.headers, cid, assignee_id=424242)
    assert_error(ghost, 422, "424242")
    assert (await client.get(f"{API}/conversations/{cid}", headers=world.bob.headers)).json()[
        "assignee_id"
    ] == world.carol.agent.id


async def test_a_public_agent_reply_sets_first_response_and_opens_a_new_conversation(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    cid = (await open_conversation(client, world.bob.headers, dana))["id"]
    note = await reply(client, world.bob.headers, cid, "internal only", internal=True)
    assert note.status_code == 201
    after_note = (await client.get(f"{API}/conversations/{cid}", headers=world.bob.headers)).json()
    assert (after_note["status"], after_note["first_response_at"]) == ("new", None)
    assert after_note["message_count"] == 2

    answered = await reply(client, world.bob.headers, cid, "We see it on chain")
    assert answered.status_code == 201
    assert (answered.json()["author_kind"], answered.json()["agent_id"]) == (
        "agent",
        world.bob.agent.id,
    )
    state = (await client.get(f"{API}/conversations/{cid}", headers=world.bob.headers)).json()
    assert state["status"] == "open"
    assert state["first_response_at"] is not None
    assert state["message_count"] == 3
    first = state["first_response_at"]
    await reply(client, world.alice.headers, cid, "Second answer")
    later = (await client.get(f"{API}/conversations/{cid}", headers=world.bob.headers)).json()
    assert later["first_response_at"] == first, "only the first response counts"
    events = await client.get(f"{API}/conversations/{cid}/events", headers=world.bob.headers)
    kinds = [(e["kind"], e["data"].get("to")) for e in events.json()]
    assert ("status_changed", "open") in kinds


@pytest.mark.parametrize("waiting", [Status.PENDING, Status.ON_HOLD, Status.SOLVED])
async def test_a_customer_message_reopens_a_waiting_or_solved_conversation(
    client: httpx.AsyncClient, world: World, waiting: Status
) -> None:
    dana = await world.make_customer("Dana")
    cid = (await open_conversation(client, world.bob.headers, dana))["id"]
    await move_to(client, world.bob.headers, cid, waiting)
    as_dana = bearer(await world.customer_token(dana))
    written = await reply(client, as_dana, cid, "Still nothing arrived")
    assert written.status_code == 201, written.text
    state = (await client.get(f"{API}/conversations/{cid}", headers=world.bob.headers)).json()
    assert state["status"] == "open"
    events = await client.get(f"{API}/conversations/{cid}/events", headers=world.bob.headers)
    last = events.json()[-1]
    assert (last["kind"], last["actor_kind"], last["actor_customer_id"], last["data"]) == (
        "status_changed",
        "customer",
        dana.id,
        {"from": waiting.value, "to": "open"},
    )


async def test_a_closed_conversation_refuses_new_messages(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    cid = (await open_conversation(client, world.bob.headers, dana))["id"]
    await move_to(client, world.bob.headers, cid, Status.CLOSED)
    as_dana = bearer(await world.customer_token(dana))
    assert_error(await reply(client, as_dana, cid, "hello?"), 409, "closed")
    assert_error(await reply(client, world.bob.headers, cid, "reply"), 409, "closed")
    assert_error(await reply(client, world.bob.headers, cid, "note", internal=True), 409)
    assert await count(world.db, Message, Message.conversation_id == cid) == 1


# The status machine through the API ------------------------------------------

DISALLOWED = [
    (current, target)
    for current in Status
    for target in Status
    if current != target and target not in ALLOWED_TRANSITIONS[current]
]
ALLOWED = [(current, target) for current in Status for target in ALLOWED_TRANSITIONS[current]]


async def test_every_disallowed_transition_is_refused_with_the_allowed_targets(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    dana = await world.make_customer("Dana")
    bob = world.bob.headers
    at: dict[Status, int] = {}
    for status in Status:
        at[status] = (await open_conversation(client, bob, dana))["id"]
        await move_to(client, bob, at[status], status)
    assert len(DISALLOWED) == 15
    for current, target in DISALLOWED:
        with subtests.test(msg=f"{current} -> {target}"):
            refused = await patch(client, bob, at[current], status=target.value)
            allowed = sorted(ALLOWED_TRANSITIONS[current])
            error = assert_error(refused, 409, f"from {current} to {target}", *allowed)
            assert error["code"] == "conflict"
            if not allowed:
                assert "closed is final" in error["message"]
            still = await client.get(f"{API}/conversations/{at[current]}", headers=bob)
            assert still.json()["status"] == current.value
    # Nothing was recorded for the refusals.
    for status, cid in at.items():
        events = (await client.get(f"{API}/conversations/{cid}/events", headers=bob)).json()
        changes = [e for e in events if e["kind"] == "status_changed"]
        assert len(changes) == len(ROUTE_TO[status])


async def test_every_allowed_transition_succeeds_and_is_recorded(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    dana = await world.make_customer("Dana")
    bob = world.bob.headers
    for current, target in ALLOWED:
        with subtests.test(msg=f"{current} -> {target}"):
            cid = (await open_conversation(client, bob, dana))["id"]
            await move_to(client, bob, cid, current)
            moved = await patch(client, bob, cid, status=target.value)
            assert moved.status_code == 200, moved.text
            assert moved.json()["status"] == target.value
            if target == Status.SOLVED:
                assert moved.json()["solved_at"] is not None
            events = (await client.get(f"{API}/conversations/{cid}/events", headers=bob)).json()
            assert events[-1]["data"] == {"from": current.value, "to": target.value}
    same = (await open_conversation(client, bob, dana))["id"]
    assert (await patch(client, bob, same, status="new")).json()["status"] == "new"


# Idempotent ingest -----------------------------------------------------------


async def test_resending_a_first_message_returns_the_same_conversation(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    payload = {
        "customer": {"id": dana.id},
        "body": "hi",
        "channel": "email",
        "channel_message_id": "<m1@mail>",
    }
    first = await client.post(f"{API}/conversations", json=payload, headers=world.bob.headers)
    second = await client.post(f"{API}/conversations", json=payload, headers=world.bob.headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert await count(world.db, Conversation) == 1
    assert await count(world.db, Message) == 1
    # The same id on another channel is another message.
    other = {**payload, "channel": "telegram"}
    third = await client.post(f"{API}/conversations", json=other, headers=world.bob.headers)
    assert third.status_code == 201 and third.json()["id"] != first.json()["id"]


async def test_resending_a_message_returns_the_stored_one(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    cid = (await open_conversation(client, world.bob.headers, dana))["id"]
    as_dana = bearer(await world.customer_token(dana))
    first = await reply(client, as_dana, cid, "any news?", channel_message_id="w-7")
    second = await reply(client, as_dana, cid, "any news?", channel_message_id="w-7")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert await count(world.db, Message, Message.conversation_id == cid) == 2
    state = (await client.get(f"{API}/conversations/{cid}", headers=as_dana)).json()
    assert state["message_count"] == 2
    events = await client.get(f"{API}/conversations/{cid}/events", headers=world.bob.headers)
    assert [e["kind"] for e in events.json()] == ["created"], "a replay changes nothing"


async def test_a_channel_message_id_never_reveals_another_customers_conversation(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    erin = await world.make_customer("Erin")
    as_dana = bearer(await world.customer_token(dana))
    as_erin = bearer(await world.customer_token(erin))
    danas = await client.post(
        f"{API}/conversations",
        json={"body": "my seed words are ...", "channel_message_id": "k1"},
        headers=as_dana,
    )
    assert danas.status_code == 201
    guessed = await client.post(
        f"{API}/conversations", json={"body": "x", "channel_message_id": "k1"}, headers=as_erin
    )
    assert_error(guessed, 409, "another conversation")
    assert "seed" not in guessed.text
    erins = await open_conversation(client, as_erin, body="mine")
    into_other = await reply(client, as_erin, erins["id"], "x", channel_message_id="k1")
    assert_error(into_other, 409, "another conversation")
    # Nor an internal note, resent as a public message of the same conversation.
    did = danas.json()["id"]
    note = await reply(
        client, world.bob.headers, did, "fraud suspected", internal=True, channel_message_id="n1"
    )
    assert note.status_code == 201
    replayed = await reply(client, as_dana, did, "x", channel_message_id="n1")
    assert_error(replayed, 409)
    assert "fraud" not in replayed.text
    # And an agent outside a private team does not reach its conversation this way.
    secret = await open_conversation(
        client, world.carol.headers, erin, team_id=world.security.id, channel_message_id="s1"
    )
    peek = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": erin.id}, "body": "x", "channel_message_id": "s1"},
        headers=world.bob.headers,
    )
    assert_error(peek, 404)
    assert str(secret["subject"]) not in peek.text
    assert await count(world.db, Message) == 4


async def test_ten_concurrent_identical_deliveries_store_one_message(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    bob = world.bob.headers
    payload = {"customer": {"id": dana.id}, "body": "hi", "channel_message_id": "burst-1"}
    created = await asyncio.gather(
        *(client.post(f"{API}/conversations", json=payload, headers=bob) for _ in range(10))
    )
    assert sorted(r.status_code for r in created) == [200] * 9 + [201], [r.text for r in created]
    assert len({r.json()["id"] for r in created}) == 1
    assert await count(world.db, Conversation) == 1
    assert await count(world.db, Message, Message.channel_message_id == "burst-1") == 1

    cid = created[0].json()["id"]
    sent = await asyncio.gather(
        *(reply(client, bob, cid, "same", channel_message_id="burst-2") for _ in range(10))
    )
    assert sorted(r.status_code for r in sent) == [200] * 9 + [201], [r.text for r in sent]
    assert len({r.json()["id"] for r in sent}) == 1
    assert await count(world.db, Message, Message.channel_message_id == "burst-2") == 1
    state = (await client.get(f"{API}/conversations/{cid}", headers=bob)).json()
    assert state["message_count"] == 2


async def test_ten_concurrent_first_messages_from_a_new_email_make_one_customer(
    client: httpx.AsyncClient, world: World
) -> None:
    payload = {
        "customer": {"email": "newcomer@example.com"},
        "body": "hi",
        "channel_message_id": "e-1",
    }
    created = await asyncio.gather(
        *(
            client.post(f"{API}/conversations", json=payload, headers=world.bob.headers)
            for _ in range(10)
        )
    )
    assert sorted(r.status_code for r in created) == [200] * 9 + [201], [r.text for r in created]
    assert await count(world.db, Customer) == 1
    assert await count(world.db, CustomerIdentity) == 1
    assert await count(world.db, Message) == 1


async def test_concurrent_replies_are_all_counted(client: httpx.AsyncClient, world: World) -> None:
    dana = await world.make_customer("Dana")
    cid = (await open_conversation(client, world.bob.headers, dana))["id"]
    agents = [world.alice, world.bob, world.carol]
    sent = await asyncio.gather(
        *(reply(client, agents[i % 3].headers, cid, f"answer {i}") for i in range(12))
    )
    assert [r.status_code for r in sent] == [201] * 12
    state = (await client.get(f"{API}/conversations/{cid}", headers=world.bob.headers)).json()
    assert state["message_count"] == 13 == await count(world.db, Message)
    events = await client.get(f"{API}/conversations/{cid}/events", headers=world.bob.headers)
    to_open = [e for e in events.json() if e["kind"] == "status_changed"]
    assert len(to_open) == 1, "only one reply takes the conversation from new to open"


async def test_messages_page_forward_by_id(client: httpx.AsyncClient, world: World) -> None:
    dana = await world.make_customer("Dana")
    cid = (await open_conversation(client, world.bob.headers, dana))["id"]
    for i in range(4):
        assert (await reply(client, world.bob.headers, cid, f"m{i}")).status_code == 201
    url = f"{API}/conversations/{cid}/messages"
    page = (await client.get(f"{url}?limit=2", headers=world.bob.headers)).json()
    assert [m["body"] for m in page] == ["Where is my USDT deposit?", "m0"]
    rest = await client.get(f"{url}?after_id={page[-1]['id']}", headers=world.bob.headers)
    assert [m["body"] for m in rest.json()] == ["m1", "m2", "m3"]
