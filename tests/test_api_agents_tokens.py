"""Agents, teams, API tokens, the current agent and the security policy, over the API."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from ledgerdesk.accounts.actions import do_create_api_token
from ledgerdesk.accounts.models import Agent, ApiToken, Team
from ledgerdesk.db.uow import UnitOfWork
from tests.api_support import API, Headers, assert_error, bearer, count
from tests.conftest import World

# The current agent -------------------------------------------------------------


async def test_an_agent_reads_and_changes_their_own_profile(
    client: httpx.AsyncClient, world: World
) -> None:
    me = await client.get(f"{API}/me", headers=world.bob.headers)
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["email"], me.json()["role"], me.json()["language"]) == (
        world.bob.agent.id,
        "bob@example.org",
        "agent",
        "en",
    )
    changed = await client.patch(
        f"{API}/me", json={"language": "zh_Hans", "name": " Bob B. "}, headers=world.bob.headers
    )
    assert changed.status_code == 200, changed.text
    again = await client.get(f"{API}/me", headers=world.bob.headers)
    assert (again.json()["language"], again.json()["name"]) == ("zh_Hans", "Bob B.")
    assert_error(
        await client.patch(f"{API}/me", json={"language": "fr"}, headers=world.bob.headers),
        422,
        "language",
    )
    # Nobody promotes themselves through their profile.
    escalate = await client.patch(f"{API}/me", json={"role": "admin"}, headers=world.bob.headers)
    assert_error(escalate, 422, "role")
    assert (await client.get(f"{API}/me", headers=world.bob.headers)).json()["role"] == "agent"


async def test_a_customer_token_is_not_an_agent(client: httpx.AsyncClient, world: World) -> None:
    dana = await world.make_customer("Dana")
    as_dana = bearer(await world.customer_token(dana))
    for method, path in [
        ("GET", "/me"),
        ("GET", "/agents"),
        ("GET", "/teams"),
        ("GET", "/tokens"),
        ("GET", "/security"),
    ]:
        assert_error(await client.request(method, f"{API}{path}", headers=as_dana), 403, "agents")
    made = await client.post(
        f"{API}/tokens", json={"name": "more", "scopes": ["conversations:read"]}, headers=as_dana
    )
    assert_error(made, 403)


# Agents ------------------------------------------------------------------------


async def test_an_admin_creates_an_agent(client: httpx.AsyncClient, world: World) -> None:
    created = await client.post(
        f"{API}/agents",
        json={
            "email": " Mallory@Example.org ",
            "name": "Mallory",
            "password": "a long enough passphrase",
            "role": "supervisor",
            "language": "zh_Hans",
        },
        headers=world.alice.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["email"], body["role"], body["language"], body["is_active"]) == (
        "mallory@example.org",
        "supervisor",
        "zh_Hans",
        True,
    )
    assert "password" not in created.text and "password_hash" not in body
    listed = await client.get(f"{API}/agents", headers=world.bob.headers)
    assert "mallory@example.org" in [agent["email"] for agent in listed.json()]
    one = await client.get(f"{API}/agents/{body['id']}", headers=world.bob.headers)
    assert one.json() == body
    async with world.db.sessionmaker() as session:
        stored = await session.get(Agent, body["id"])
        assert stored is not None
        assert "a long enough passphrase" not in stored.password_hash


async def test_agent_creation_refuses_weak_passwords_duplicates_and_non_admins(
    client: httpx.AsyncClient, world: World
) -> None:
    def agent(**fields: Any) -> dict[str, Any]:
        return {"email": "new@example.org", "name": "New", "password": "long enough!", **fields}

    async def post(payload: dict[str, Any], headers: Headers) -> httpx.Response:
        return await client.post(f"{API}/agents", json=payload, headers=headers)

    alice = world.alice.headers
    before = await count(world.db, Agent)
    assert_error(await post(agent(password="short"), alice), 422, "password", "10")
    assert_error(
        await post(agent(email="pass@example.org", password="PASS@example.org"), alice),
        422,
        "differ from the email",
    )
    assert_error(await post(agent(email="BOB@example.org"), alice), 409, "bob@example.org")
    assert_error(await post(agent(email="not-an-address"), alice), 422, "not an email address")
    assert_error(await post(agent(role="owner"), alice), 422, "role")
    assert_error(await post(agent(language="fr"), alice), 422, "language")
    assert_error(await post(agent(email="x" * 250 + "@example.org"), alice), 422, "email")
    assert_error(await post(agent(), world.bob.headers), 403, "admin")
    assert_error(await post(agent(), world.victor.headers), 403)
    assert_error(await post(agent(), world.carol.headers), 403)
    assert await count(world.db, Agent) == before


async def test_only_an_admin_changes_roles_and_nobody_demotes_themselves(
    client: httpx.AsyncClient, world: World
) -> None:
    bob_url = f"{API}/agents/{world.bob.agent.id}"
    promote = await client.patch(bob_url, json={"role": "admin"}, headers=world.bob.headers)
    assert_error(promote, 403, "admin")
    rename_other = await client.patch(
        f"{API}/agents/{world.alice.agent.id}", json={"name": "x"}, headers=world.bob.headers
    )
    assert_error(rename_other, 403)
    self_demote = await client.patch(
        f"{API}/agents/{world.alice.agent.id}", json={"role": "agent"}, headers=world.alice.headers
    )
    assert_error(self_demote, 422, "themselves")
    promoted = await client.patch(
        f"{API}/agents/{world.victor.agent.id}", json={"role": "agent"}, headers=world.alice.headers
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "agent"
    assert (await client.get(bob_url, headers=world.bob.headers)).json()["role"] == "agent"
    assert_error(await client.get(f"{API}/agents/424242", headers=world.bob.headers), 404)


# Teams -------------------------------------------------------------------------


async def test_an_admin_creates_teams_and_adds_members(
    client: httpx.AsyncClient, world: World
) -> None:
    made = await client.post(
        f"{API}/teams",
        json={"name": " Compliance ", "is_private": True},
        headers=world.alice.headers,
    )
    assert made.status_code == 201, made.text
    assert (made.json()["name"], made.json()["is_private"], made.json()["member_ids"]) == (
        "Compliance",
        True,
        [],
    )
    duplicate = await client.post(
        f"{API}/teams", json={"name": "Compliance"}, headers=world.alice.headers
    )
    assert_error(duplicate, 409, "Compliance")
    blank = await client.post(f"{API}/teams", json={"name": "   "}, headers=world.alice.headers)
    assert_error(blank, 422, "empty")
    assert_error(
        await client.post(f"{API}/teams", json={"name": "Mine"}, headers=world.bob.headers),
        403,
        "admin",
    )
    tid = made.json()["id"]
    member_url = f"{API}/teams/{tid}/members"
    by_bob = await client.post(
        member_url, json={"agent_id": world.bob.agent.id}, headers=world.bob.headers
    )
    assert_error(by_bob, 403)
    added = await client.post(
        member_url, json={"agent_id": world.bob.agent.id}, headers=world.alice.headers
    )
    assert added.status_code == 200 and added.json()["member_ids"] == [world.bob.agent.id]
    twice = await client.post(
        member_url, json={"agent_id": world.bob.agent.id}, headers=world.alice.headers
    )
    assert twice.json()["member_ids"] == [world.bob.agent.id]
    ghost = await client.post(member_url, json={"agent_id": 424242}, headers=world.alice.headers)
    assert_error(ghost, 422, "424242")
    no_team = await client.post(
        f"{API}/teams/424242/members",
        json={"agent_id": world.bob.agent.id},
        headers=world.alice.headers,
    )
    assert_error(no_team, 404, "424242")
    teams = await client.get(f"{API}/teams", headers=world.bob.headers)
    assert [t["name"] for t in teams.json()] == ["Compliance", "Security", "Support"]
    assert await count(world.db, Team) == 3


async def test_joining_a_private_team_reveals_its_conversations(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana")
    opened = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": dana.id}, "body": "hacked", "team_id": world.security.id},
        headers=world.carol.headers,
    )
    cid = opened.json()["id"]
    assert_error(await client.get(f"{API}/conversations/{cid}", headers=world.bob.headers), 404)
    joined = await client.post(
        f"{API}/teams/{world.security.id}/members",
        json={"agent_id": world.bob.agent.id},
        headers=world.alice.headers,
    )
    assert joined.status_code == 200
    assert (await client.get(f"{API}/conversations/{cid}", headers=world.bob.headers)).is_success


# Tokens ------------------------------------------------------------------------


async def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(
    client: httpx.AsyncClient, world: World
) -> None:
    made = await client.post(
        f"{API}/tokens",
        json={"name": "ci", "scopes": ["conversations:read", "conversations:read"]},
        headers=world.bob.headers,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    token = body["token"]
    assert token.startswith("ldk_") and len(token) > 40
    assert body["prefix"] == token[:8]
    assert (body["scopes"], body["agent_id"], body["customer_id"]) == (
        ["conversations:read"],
        world.bob.agent.id,
        None,
    )
    async with world.db.sessionmaker() as session:
        rows = (await session.execute(text("SELECT * FROM api_tokens"))).mappings().all()
        audit = (await session.execute(text("SELECT * FROM audit_log"))).mappings().all()
        stored = await session.get(ApiToken, body["id"])
    secret_part = token[8:]
    for row in [*rows, *audit]:
        for column, value in row.items():
            assert secret_part not in str(value), f"the token is readable in column {column}"
    assert stored is not None
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()

    listed = await client.get(f"{API}/tokens", headers=world.bob.headers)
    assert body["id"] in [t["id"] for t in listed.json()]
    assert "token" not in listed.json()[0]
    assert secret_part not in listed.text
    # It works, with only the scopes it was given.
    assert (await client.get(f"{API}/conversations", headers=bearer(token))).status_code == 200
    assert_error(await client.get(f"{API}/customers", headers=bearer(token)), 403, "customers:read")


async def test_token_scopes_must_be_allowed_for_their_owner(
    client: httpx.AsyncClient, world: World
) -> None:
    async def make(headers: Headers, **fields: Any) -> httpx.Response:
        return await client.post(f"{API}/tokens", json={"name": "t", **fields}, headers=headers)

    before = await count(world.db, ApiToken)
    unknown = await make(world.bob.headers, scopes=["conversations:read", "superpowers"])
    assert_error(unknown, 422, "superpowers", "allowed:", "customers:write")
    assert_error(await make(world.bob.headers, scopes=[]), 422, "scopes")
    assert_error(await make(world.bob.headers, scopes=["admin"]), 422, "admin")
    dana = await world.make_customer("Dana")
    by_agent = await make(world.bob.headers, scopes=["conversations:read"], customer_id=dana.id)
    assert_error(by_agent, 403, "admin")
    admin_scope = await make(
        world.alice.headers, scopes=["conversations:read", "admin"], customer_id=dana.id
    )
    assert_error(admin_scope, 422, "admin", "allowed: conversations:read, conversations:write")
    customer_read = await make(world.alice.headers, scopes=["customers:read"], customer_id=dana.id)
    assert_error(customer_read, 422, "customers:read")
    missing = await make(world.alice.headers, scopes=["conversations:read"], customer_id=424242)
    assert_error(missing, 404, "424242")
    past = await make(
        world.bob.headers, scopes=["conversations:read"], expires_at="2001-01-01T00:00:00Z"
    )
    assert_error(past, 422, "expires_at", "future")
    far = await make(
        world.bob.headers, scopes=["conversations:read"], expires_at="9999-12-31T23:59:59-05:00"
    )
    assert_error(far, 422, "expires_at")
    assert await count(world.db, ApiToken) == before

    widget = await make(
        world.alice.headers,
        scopes=["conversations:read", "conversations:write"],
        customer_id=dana.id,
    )
    assert widget.status_code == 201, widget.text
    assert (widget.json()["customer_id"], widget.json()["agent_id"]) == (dana.id, None)
    as_dana = bearer(widget.json()["token"])
    opened = await client.post(f"{API}/conversations", json={"body": "hi"}, headers=as_dana)
    assert opened.status_code == 201 and opened.json()["customer_id"] == dana.id


async def test_a_token_with_a_future_expiry_works_until_then(
    client: httpx.AsyncClient, world: World
) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    made = await client.post(
        f"{API}/tokens",
        json={"name": "short-lived", "scopes": ["conversations:read"], "expires_at": soon},
        headers=world.bob.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["expires_at"].startswith(soon[:16]), "a time without zone is UTC"
    assert (
        await client.get(f"{API}/conversations", headers=bearer(made.json()["token"]))
    ).is_success


async def test_revoked_and_expired_tokens_are_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    made = await client.post(
        f"{API}/tokens",
        json={"name": "temp", "scopes": ["conversations:read"]},
        headers=world.bob.headers,
    )
    token, token_id = made.json()["token"], made.json()["id"]
    assert (await client.get(f"{API}/conversations", headers=bearer(token))).is_success

    alices = (await client.get(f"{API}/tokens", headers=world.alice.headers)).json()[0]["id"]
    by_bob = await client.delete(f"{API}/tokens/{alices}", headers=world.bob.headers)
    assert_error(by_bob, 403, "admin")
    assert (await client.get(f"{API}/me", headers=world.alice.headers)).is_success
    assert_error(await client.delete(f"{API}/tokens/424242", headers=world.bob.headers), 404)

    revoked = await client.delete(f"{API}/tokens/{token_id}", headers=world.bob.headers)
    assert revoked.status_code == 204
    refused = await client.get(f"{API}/conversations", headers=bearer(token))
    assert_error(refused, 401, "revoked")
    listed = await client.get(f"{API}/tokens", headers=world.bob.headers)
    assert [t["revoked_at"] is not None for t in listed.json() if t["id"] == token_id] == [True]

    async with UnitOfWork(world.db.write_sessionmaker()) as uow:
        expired, _ = await do_create_api_token(
            uow,
            actor=None,
            name="old",
            scopes=["conversations:read"],
            agent=world.bob.agent,
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        )
        await uow.commit()
    assert_error(await client.get(f"{API}/me", headers=bearer(expired)), 401, "expired")

    # An admin may revoke anyone's token.
    carols = (await client.get(f"{API}/tokens", headers=world.carol.headers)).json()[0]["id"]
    by_alice = await client.delete(f"{API}/tokens/{carols}", headers=world.alice.headers)
    assert by_alice.status_code == 204
    assert_error(await client.get(f"{API}/me", headers=world.carol.headers), 401)


async def test_a_deactivated_agents_tokens_stop_working(
    client: httpx.AsyncClient, world: World
) -> None:
    off = await client.patch(
        f"{API}/agents/{world.bob.agent.id}", json={"is_active": False}, headers=world.alice.headers
    )
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert_error(await client.get(f"{API}/me", headers=world.bob.headers), 401, "deactivated")
    on = await client.patch(
        f"{API}/agents/{world.bob.agent.id}", json={"is_active": True}, headers=world.alice.headers
    )
    assert on.status_code == 200
    assert (await client.get(f"{API}/me", headers=world.bob.headers)).is_success


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Bearer nope",
        "Bearer ldk_" + "x" * 43,
        "Bearer " + "y" * 500,
        "Basic YWxpY2U6c2VjcmV0",
        "Token abc",
        "bearer-abc",
    ],
)
async def test_a_missing_or_garbage_authorization_is_refused(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in [("GET", "/conversations"), ("GET", "/me"), ("POST", "/customers")]:
        response = await client.request(method, f"{API}{path}", headers=headers, json={})
        error = assert_error(response, 401)
        assert error["code"] == "not_authenticated"


async def test_every_api_endpoint_requires_authentication(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/openapi.json")).json()
    checked = 0
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        concrete = path.replace("{", "").replace("}", "")
        for part in ("conversation_id", "customer_id", "agent_id", "team_id", "token_id"):
            concrete = concrete.replace(part, "1")
        for method, operation in operations.items():
            if not {"conversations", "customers", "agents"} & set(operation.get("tags", [])):
                continue
            response = await client.request(method.upper(), concrete, json={})
            assert response.status_code == 401, (method, path, response.text)
            checked += 1
    assert checked >= 25


# The security policy -----------------------------------------------------------


async def test_only_an_admin_changes_the_security_policy(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"{API}/security"
    assert (await client.get(url, headers=world.bob.headers)).json() == {"require_2fa": False}
    by_bob = await client.put(url, json={"require_2fa": False}, headers=world.bob.headers)
    assert_error(by_bob, 403, "admin")
    by_victor = await client.put(url, json={"require_2fa": True}, headers=world.victor.headers)
    assert_error(by_victor, 403)
    without_own_2fa = await client.put(url, json={"require_2fa": True}, headers=world.alice.headers)
    assert_error(without_own_2fa, 422, "two-factor")
    kept = await client.put(url, json={"require_2fa": False}, headers=world.alice.headers)
    assert kept.status_code == 200 and kept.json() == {"require_2fa": False}
    assert_error(
        await client.put(url, json={"require_2fa": "maybe"}, headers=world.alice.headers), 422
    )
    assert (await client.get(url, headers=world.bob.headers)).json() == {"require_2fa": False}
