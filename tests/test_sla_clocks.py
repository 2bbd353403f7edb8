"""SLA clocks follow the conversation: started, stopped, paused and resumed by the same
actions people use, and shown on the conversation in the API."""

from __future__ import annotations

from datetime import timedelta

import httpx

from ledgerdesk.db.engine import Database
from tests.api_support import API, assert_error, bearer
from tests.conftest import World
from tests.sla_support import clock, clocks_of, make_policy, shift_clock

MINUTE = timedelta(minutes=1)


async def _vip(client: httpx.AsyncClient, world: World) -> int:
    customer = await world.make_customer("Vera VIP")
    response = await client.patch(
        f"{API}/customers/{customer.id}", json={"tier": "vip"}, headers=world.alice.headers
    )
    assert response.status_code == 200, response.text
    return customer.id


async def _open(client: httpx.AsyncClient, world: World, customer_id: int, **fields: object) -> int:
    response = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": customer_id}, "body": "My withdrawal is stuck", **fields},
        headers=world.bob.headers,
    )
    assert response.status_code == 201, response.text
    number: int = response.json()["id"]
    return number


async def _say(client: httpx.AsyncClient, headers: dict[str, str], number: int, **fields: object):  # type: ignore[no-untyped-def]
    response = await client.post(
        f"{API}/conversations/{number}/messages", json={"body": "…", **fields}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response


async def _status(client: httpx.AsyncClient, world: World, number: int, status: str) -> None:
    response = await client.patch(
        f"{API}/conversations/{number}", json={"status": status}, headers=world.bob.headers
    )
    assert response.status_code == 200, response.text


async def test_a_new_conversation_runs_the_clocks_of_the_first_matching_policy(
    client: httpx.AsyncClient, world: World
) -> None:
    await make_policy(
        client,
        world.alice.headers,
        name="VIP",
        position=0,
        conditions={"tiers": ["vip"]},
        first_response_minutes=15,
        resolution_minutes=24 * 60,
    )
    await make_policy(
        client, world.alice.headers, name="Everyone", position=5, first_response_minutes=240
    )
    vip = await _open(client, world, await _vip(client, world))
    plain = await _open(client, world, (await world.make_customer()).id)

    shown = (await client.get(f"{API}/conversations/{vip}", headers=world.bob.headers)).json()
    assert [(c["metric"], c["state"], c["policy_name"]) for c in shown["sla"]] == [
        ("first_response", "active", "VIP"),
        ("resolution", "active", "VIP"),
    ]
    first = await clock(world.db, vip, "first_response")
    assert first.due_at - first.started_at == 15 * MINUTE
    assert first.warn_at - first.started_at == 12 * MINUTE  # the default share, 0.8
    assert first.next_check_at == first.warn_at

    other = (await client.get(f"{API}/conversations/{plain}", headers=world.bob.headers)).json()
    assert [(c["metric"], c["policy_name"], c["target_minutes"]) for c in other["sla"]] == [
        ("first_response", "Everyone", 240)
    ]


async def test_without_a_matching_policy_there_are_no_clocks(
    client: httpx.AsyncClient, world: World
) -> None:
    await make_policy(client, world.alice.headers, conditions={"channels": ["email"]})
    number = await _open(client, world, (await world.make_customer()).id, channel="api")
    assert await clocks_of(world.db, number) == []
    shown = (await client.get(f"{API}/conversations/{number}", headers=world.bob.headers)).json()
    assert shown["sla"] == []


async def test_an_agent_reply_meets_first_response_and_the_customer_starts_next_response(
    client: httpx.AsyncClient, world: World
) -> None:
    await make_policy(client, world.alice.headers, next_response_minutes=30)
    customer = await world.make_customer()
    number = await _open(client, world, customer.id)

    await _say(client, world.bob.headers, number, body="internal", internal=True)
    assert (await clock(world.db, number, "first_response")).stopped_at is None

    await _say(client, world.bob.headers, number)
    first = await clock(world.db, number, "first_response")
    assert first.stopped_at is not None and first.met is True
    assert first.next_check_at is None

    token = await world.customer_token(customer)
    await _say(client, bearer(token), number)
    waiting = await clock(world.db, number, "next_response")
    assert waiting.stopped_at is None
    assert waiting.due_at - waiting.started_at == 30 * MINUTE
    await _say(client, bearer(token), number)  # a second message does not restart it
    assert [c.id for c in await clocks_of(world.db, number) if c.metric == "next_response"] == [
        waiting.id
    ]

    await _say(client, world.bob.headers, number)
    answered = await clock(world.db, number, "next_response")
    assert answered.met is True
    await _say(client, bearer(token), number)
    assert len([c for c in await clocks_of(world.db, number) if c.metric == "next_response"]) == 2


async def test_a_reply_after_the_due_time_is_recorded_as_missed(
    client: httpx.AsyncClient, world: World
) -> None:
    await make_policy(client, world.alice.headers, first_response_minutes=15)
    number = await _open(client, world, (await world.make_customer()).id)
    await shift_clock(world.db, (await clock(world.db, number, "first_response")).id, 20 * MINUTE)

    shown = (await client.get(f"{API}/conversations/{number}", headers=world.bob.headers)).json()
    assert shown["sla"][0]["state"] == "breached"  # read from the times, before any sweep

    await _say(client, world.bob.headers, number)
    first = await clock(world.db, number, "first_response")
    assert first.met is False
    shown = (await client.get(f"{API}/conversations/{number}", headers=world.bob.headers)).json()
    assert shown["sla"][0]["state"] == "breached"


async def test_waiting_on_the_customer_pauses_and_their_reply_moves_the_due_time_back(
    client: httpx.AsyncClient, world: World
) -> None:
    await make_policy(
        client, world.alice.headers, first_response_minutes=None, resolution_minutes=600
    )
    customer = await world.make_customer()
    number = await _open(client, world, customer.id)
    before = await clock(world.db, number, "resolution")

    await _status(client, world, number, "pending")
    paused = await clock(world.db, number, "resolution")
    assert paused.paused_at is not None and paused.next_check_at is None
    shown = (await client.get(f"{API}/conversations/{number}", headers=world.bob.headers)).json()
    assert shown["sla"][0]["state"] == "paused"

    # As if the customer took 45 minutes to answer.
    await shift_clock(world.db, paused.id, timedelta(0), paused_at=paused.paused_at - 45 * MINUTE)
    await _say(client, bearer(await world.customer_token(customer)), number)
    resumed = await clock(world.db, number, "resolution")
    assert resumed.paused_at is None
    assert resumed.paused_us >= 45 * 60 * 1_000_000
    moved = resumed.due_at - before.due_at
    assert moved == timedelta(microseconds=resumed.paused_us)  # 24/7: paused time is business time
    assert resumed.next_check_at == resumed.warn_at


async def test_solving_stops_the_clocks_and_a_reopen_resumes_resolution(
    client: httpx.AsyncClient, world: World
) -> None:
    await make_policy(client, world.alice.headers, resolution_minutes=600)
    customer = await world.make_customer()
    number = await _open(client, world, customer.id)

    await _status(client, world, number, "solved")
    solved = await clocks_of(world.db, number)
    assert all(c.stopped_at is not None and c.met is True for c in solved)
    resolution_id = (await clock(world.db, number, "resolution")).id

    await _say(client, bearer(await world.customer_token(customer)), number)
    reopened = await clock(world.db, number, "resolution")
    assert reopened.id == resolution_id
    assert reopened.stopped_at is None and reopened.met is None
    assert reopened.next_check_at is not None
    # first_response was settled by solving; the customer's message after it starts nothing
    # until someone answered, so only the resolution clock runs.
    running = [c.metric for c in await clocks_of(world.db, number) if c.stopped_at is None]
    assert running == ["resolution"]


async def test_raising_the_priority_applies_the_tighter_policy_from_the_original_start(
    client: httpx.AsyncClient, world: World
) -> None:
    await make_policy(
        client,
        world.alice.headers,
        name="Urgent",
        position=0,
        conditions={"priorities": ["urgent"]},
        first_response_minutes=10,
        resolution_minutes=120,
    )
    normal = await make_policy(
        client, world.alice.headers, name="Normal", position=1, first_response_minutes=240
    )
    number = await _open(client, world, (await world.make_customer()).id)
    started = (await clock(world.db, number, "first_response")).started_at
    assert [c.metric for c in await clocks_of(world.db, number)] == ["first_response"]

    response = await client.patch(
        f"{API}/conversations/{number}", json={"priority": "urgent"}, headers=world.bob.headers
    )
    shown = response.json()
    assert [(c["metric"], c["policy_name"]) for c in shown["sla"]] == [
        ("first_response", "Urgent"),
        ("resolution", "Urgent"),
    ]
    first = await clock(world.db, number, "first_response")
    assert first.started_at == started
    assert first.due_at == started + 10 * MINUTE

    # Back to normal: resolution (which Normal lacks) is cancelled, not judged.
    await client.patch(
        f"{API}/conversations/{number}", json={"priority": "normal"}, headers=world.bob.headers
    )
    resolution = await clock(world.db, number, "resolution")
    assert resolution.stopped_at is not None and resolution.met is None
    assert (await clock(world.db, number, "first_response")).policy_id == normal["id"]


async def test_customers_do_not_see_the_teams_targets(
    client: httpx.AsyncClient, world: World
) -> None:
    await make_policy(client, world.alice.headers)
    customer = await world.make_customer()
    number = await _open(client, world, customer.id)
    token = await world.customer_token(customer)
    shown = await client.get(f"{API}/conversations/{number}", headers=bearer(token))
    assert shown.status_code == 200
    assert shown.json()["sla"] == []


async def test_an_archived_policy_stops_matching_but_its_clocks_keep_running(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    policy = await make_policy(client, world.alice.headers)
    first = await _open(client, world, (await world.make_customer()).id)
    url = f"{API}/sla/policies/{policy['id']}"
    archived = await client.delete(url, headers=world.alice.headers)
    assert archived.status_code == 200 and archived.json()["is_active"] is False
    second = await _open(client, world, (await world.make_customer()).id)
    assert await clocks_of(db, second) == []
    assert (await clock(db, first, "first_response")).stopped_at is None
    refused = await client.delete(url, headers=world.bob.headers)
    assert_error(refused, 403, "admin")


async def test_the_create_response_shows_the_clocks_a_later_read_shows(
    client: httpx.AsyncClient, world: World
) -> None:
    """The created conversation's clocks come from the unit of work, not a read-back."""
    await make_policy(
        client, world.alice.headers, first_response_minutes=30, resolution_minutes=600
    )
    customer = await world.make_customer()
    created = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": customer.id}, "body": "My withdrawal is stuck"},
        headers=world.bob.headers,
    )
    assert created.status_code == 201, created.text
    number = created.json()["id"]
    shown = (await client.get(f"{API}/conversations/{number}", headers=world.bob.headers)).json()
    assert [c["metric"] for c in created.json()["sla"]] == ["first_response", "resolution"]
    assert created.json()["sla"] == shown["sla"]

    token = await world.customer_token(customer)
    own = await client.post(
        f"{API}/conversations", json={"body": "Another question"}, headers=bearer(token)
    )
    assert own.status_code == 201, own.text
    assert own.json()["sla"] == [], "customers do not see the team's targets"
    assert len(await clocks_of(world.db, own.json()["id"])) == 2


async def test_the_create_response_follows_a_rule_that_changes_the_policy(
    client: httpx.AsyncClient, world: World
) -> None:
    """A rule on creation raises the priority: its clocks are retargeted to the urgent
    policy and a clock it adds starts; the answer shows them as a later read does."""
    await make_policy(
        client, world.alice.headers, name="Normal", position=5, first_response_minutes=60
    )
    await make_policy(
        client,
        world.alice.headers,
        name="Urgent",
        position=0,
        conditions={"priorities": ["urgent"]},
        first_response_minutes=15,
        resolution_minutes=120,
    )
    rule = await client.post(
        f"{API}/automation/rules",
        json={
            "name": "everything is urgent",
            "trigger": "conversation.created",
            "actions": [{"type": "set_priority", "priority": "urgent"}],
        },
        headers=world.alice.headers,
    )
    assert rule.status_code == 201, rule.text
    answered = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": (await world.make_customer("Eve")).id}, "body": "Help"},
        headers=world.bob.headers,
    )
    assert answered.status_code == 201, answered.text
    assert answered.json()["priority"] == "urgent"
    shown = (
        await client.get(f"{API}/conversations/{answered.json()['id']}", headers=world.bob.headers)
    ).json()
    assert [(c["metric"], c["policy_name"]) for c in shown["sla"]] == [
        ("first_response", "Urgent"),
        ("resolution", "Urgent"),
    ]
    assert answered.json()["sla"] == shown["sla"]
