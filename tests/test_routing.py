"""Routing on real conversations: round-robin, capacity, presence, skills, security
cases and the hand-off when an agent goes offline."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import httpx
from mnemonic import Mnemonic
from sqlalchemy import update

from ledgerdesk.accounts.actions import do_add_team_member, do_create_agent
from ledgerdesk.accounts.models import Agent
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.routing.tasks import run_handoff
from tests.api_support import API, assert_error
from tests.automation_support import conversation, open_conversation, set_online
from tests.conftest import PASSWORD, World


async def _agent(world: World, name: str) -> Agent:
    async with UnitOfWork(world.db.write_sessionmaker()) as uow:
        agent = await do_create_agent(
            uow,
            actor=None,
            email=f"{name.lower()}@example.org",
            name=name,
            password=PASSWORD,
            role="agent",
        )
        await do_add_team_member(uow, actor=None, team=world.support, agent=agent)
        await uow.commit()
    return agent


async def _route(client: httpx.AsyncClient, world: World, team_id: int, **fields: object) -> None:
    response = await client.put(
        f"{API}/routing/teams/{team_id}", json=fields, headers=world.alice.headers
    )
    assert response.status_code == 200, response.text


async def test_round_robin_alternates_between_online_members_only(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    dave = await _agent(world, "Dave")
    erin = await _agent(world, "Erin")
    await set_online(db, world.bob.agent, dave)
    await set_online(db, erin, online=False)
    await _route(client, world, world.support.id, strategy="round_robin")
    dana = await world.make_customer()
    given = Counter()
    for n in range(6):
        opened = await open_conversation(
            client, world.alice.headers, dana.id, f"q{n}", team_id=world.support.id
        )
        assert opened["status"] == "open"
        given[opened["assignee_id"]] += 1
    assert given == {world.bob.agent.id: 3, dave.id: 3}


async def test_least_loaded_respects_capacity_and_then_leaves_work_in_the_queue(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    dave = await _agent(world, "Dave")
    await set_online(db, world.bob.agent, dave)
    await _route(client, world, world.support.id, strategy="least_loaded")
    for agent, capacity in ((world.bob.agent, 1), (dave, 2)):
        saved = await client.put(
            f"{API}/routing/agents/{agent.id}",
            json={"capacity": capacity},
            headers=world.alice.headers,
        )
        assert saved.status_code == 200, saved.text
    dana = await world.make_customer()
    assigned = [
        (
            await open_conversation(
                client, world.alice.headers, dana.id, f"q{n}", team_id=world.support.id
            )
        )["assignee_id"]
        for n in range(4)
    ]
    assert Counter(assigned) == {world.bob.agent.id: 1, dave.id: 2, None: 1}


async def test_skills_send_a_chinese_vip_to_the_agent_who_fits(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    dave = await _agent(world, "Dave")
    await set_online(db, world.bob.agent, dave)
    await _route(client, world, world.support.id, strategy="round_robin", use_skills=True)
    await client.put(
        f"{API}/routing/agents/{dave.id}",
        json={"languages": ["zh-Hans"], "tiers": ["vip"]},
        headers=world.alice.headers,
    )
    await client.put(
        f"{API}/routing/agents/{world.bob.agent.id}",
        json={"languages": ["en"]},
        headers=world.alice.headers,
    )
    dana = await world.make_customer()
    async with db.writer() as session:
        await session.execute(update(Customer).where(Customer.id == dana.id).values(tier="vip"))
        await session.commit()
    for n in range(3):
        zh = await open_conversation(
            client,
            world.alice.headers,
            dana.id,
            f"提现 {n}",
            team_id=world.support.id,
            language="zh-CN",
        )
        assert zh["assignee_id"] == dave.id
    de = await open_conversation(
        client,
        world.alice.headers,
        dana.id,
        "Auszahlung",
        team_id=world.support.id,
        language="de",
    )
    assert de["assignee_id"] is None


async def test_a_shared_seed_phrase_sends_the_case_to_the_security_team_as_urgent(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await set_online(db, world.carol.agent)
    await _route(client, world, world.security.id, strategy="round_robin")
    dana = await world.make_customer()
    token = {"Authorization": f"Bearer {await world.customer_token(dana)}"}
    opened = await client.post(
        f"{API}/conversations", json={"body": "my card was charged twice"}, headers=token
    )
    cid = opened.json()["id"]
    assert (await conversation(db, cid)).team_id is None
    phrase = Mnemonic("english").generate(128)
    sent = await client.post(
        f"{API}/conversations/{cid}/messages", json={"body": f"here: {phrase}"}, headers=token
    )
    assert sent.status_code == 201, sent.text
    found = await conversation(db, cid)
    assert (found.team_id, found.priority) == (world.security.id, "urgent")
    assert found.assignee_id == world.carol.agent.id
    hidden = await client.get(f"{API}/conversations/{cid}", headers=world.bob.headers)
    assert_error(hidden, 404)


async def test_an_offline_agents_work_goes_back_to_the_queue_or_to_a_colleague(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    dave = await _agent(world, "Dave")
    await set_online(db, world.bob.agent, dave)
    await _route(
        client, world, world.support.id, strategy="round_robin", offline_handoff="reassign"
    )
    dana = await world.make_customer()
    mine = await open_conversation(
        client,
        world.alice.headers,
        dana.id,
        "x",
        team_id=world.support.id,
        assignee_id=world.bob.agent.id,
    )
    await set_online(db, world.bob.agent, online=False)
    assert await run_handoff(db, None, datetime.now(UTC)) == 1
    assert (await conversation(db, mine["id"])).assignee_id == dave.id
    await _route(client, world, world.support.id, strategy="round_robin", offline_handoff="queue")
    await set_online(db, dave, online=False)
    assert await run_handoff(db, None, datetime.now(UTC)) == 1
    back = await conversation(db, mine["id"])
    assert (back.assignee_id, back.team_id) == (None, world.support.id)


async def test_routing_settings_are_admin_only_and_validated(
    client: httpx.AsyncClient, world: World
) -> None:
    refused = await client.put(
        f"{API}/routing/teams/{world.support.id}",
        json={"strategy": "round_robin"},
        headers=world.bob.headers,
    )
    assert_error(refused, 403)
    bad = await client.put(
        f"{API}/routing/teams/{world.support.id}",
        json={"strategy": "random"},
        headers=world.alice.headers,
    )
    assert bad.status_code == 422
    zero = await client.put(
        f"{API}/routing/agents/{world.bob.agent.id}",
        json={"capacity": 0},
        headers=world.alice.headers,
    )
    assert zero.status_code == 422
    missing = await client.put(
        f"{API}/routing/teams/999999", json={"strategy": "manual"}, headers=world.alice.headers
    )
    assert_error(missing, 404)
    security = await client.get(f"{API}/routing/security-team", headers=world.bob.headers)
    assert security.json() == {"team": "Security", "team_id": world.security.id}
