"""Outbound webhooks against a real local HTTP receiver (tests/webhook_receiver.py):
signatures, retries with the same idempotency key, the delivery log, the SSRF guard."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from ledgerdesk.app import create_app
from ledgerdesk.automation.models import WebhookDelivery, WebhookSubscription
from ledgerdesk.automation.signing import sign, verify
from ledgerdesk.automation.urls import check_url
from ledgerdesk.db.engine import Database
from ledgerdesk.errors import InvalidInput
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.jobs.service import create_job_runner
from ledgerdesk.settings import Settings
from tests.api_support import API, assert_error
from tests.automation_support import make_rule, open_conversation
from tests.conftest import World
from tests.jobs_support import FAST_JOB_SETTINGS
from tests.webhook_receiver import webhook_receiver

# Signatures, without I/O -------------------------------------------------------------


@given(secret=st.text(min_size=1, max_size=40), body=st.binary(max_size=300))
def test_a_signature_verifies_over_the_same_body_and_secret_only(secret: str, body: bytes) -> None:
    now = 1_800_000_000
    header = sign(secret, body, now)
    assert verify(secret, body, header, now=now)
    assert not verify(secret + "x", body, header, now=now)
    assert not verify(secret, body + b" ", header, now=now)


def test_an_old_or_malformed_signature_is_refused() -> None:
    body = b'{"id":"evt_1"}'
    header = sign("whsec_a", body, 1_800_000_000)
    assert not verify("whsec_a", body, header, now=1_800_000_000 + 301)
    assert verify("whsec_a", body, header, now=1_800_000_000 + 299)
    assert not verify("whsec_a", body, "t=abc,v1=00", now=1_800_000_000)
    assert not verify("whsec_a", body, "", now=1_800_000_000)
    assert header.startswith("t=1800000000,v1=") and len(header.split("v1=")[1]) == 64


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "https://10.0.0.5/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://192.168.1.1/x",
        "http://printer.local/x",
        "ftp://example.com/x",
        "https://user:pw@example.com/x",
    ],
)
def test_private_and_odd_urls_are_refused_in_production(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_url(url, allow_private=False)


def test_public_urls_pass_and_private_ones_pass_when_allowed() -> None:
    assert check_url("https://hooks.example.com/in", allow_private=False)
    assert check_url("https://8.8.8.8/in", allow_private=False)
    assert check_url("http://127.0.0.1:9/in", allow_private=True)


# Deliveries, end to end ------------------------------------------------------------


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={**FAST_JOB_SETTINGS, "webhook_allow_private_urls": True, "job_queue": "sql"}
    )


@pytest.fixture
async def hook_client(
    hook_settings: Settings, db: Database, bus: MemoryEventBus
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(hook_settings, db=db, bus=bus)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _subscribe(
    client: httpx.AsyncClient, world: World, url: str, events: list[str], **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/webhooks",
        json={"name": "crm", "url": url, "events": events, **extra},
        headers=world.alice.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["secret"].startswith("whsec_")
    return body


async def _deliveries(db: Database) -> list[WebhookDelivery]:
    async with db.session() as session:
        found = await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))
        return list(found.scalars())


async def _wait_status(db: Database, status: str, within: float = 30.0) -> list[WebhookDelivery]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        rows = await _deliveries(db)
        if rows and all(row.status == status for row in rows):
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries are {[r.status for r in await _deliveries(db)]}")


async def test_a_new_conversation_is_delivered_signed_after_two_failures(
    hook_client: httpx.AsyncClient,
    hook_settings: Settings,
    world: World,
    db: Database,
    bus: MemoryEventBus,
) -> None:
    async with webhook_receiver(fail_first=2) as receiver:
        hook = await _subscribe(hook_client, world, receiver.url, ["conversation.created"])
        receiver.secret = hook["secret"]
        dana = await world.make_customer("Dana")
        opened = await open_conversation(hook_client, world.alice.headers, dana.id, "hello")
        runner = create_job_runner(hook_settings, db, bus)
        await runner.start()
        try:
            seen = await receiver.wait_for(3)
            rows = await _wait_status(db, "delivered")
        finally:
            await runner.stop()
    assert len(seen) == 3 and all(r.verified for r in seen)
    assert len({r.headers["idempotency-key"] for r in seen}) == 1
    event = seen[-1].json
    assert event["type"] == "conversation.created"
    assert event["id"] == seen[-1].headers["idempotency-key"] == rows[0].event_id
    assert event["data"]["conversation"]["id"] == opened["id"]
    assert event["data"]["message"]["body"] == "hello"
    assert (rows[0].attempts, rows[0].status_code, rows[0].last_error) == (3, 200, None)
    log = await hook_client.get(
        f"{API}/webhooks/{hook['id']}/deliveries", headers=world.alice.headers
    )
    assert log.status_code == 200
    assert [(d["status"], d["attempts"]) for d in log.json()] == [("delivered", 3)]
    assert "secret" not in log.text and hook["secret"] not in log.text


async def test_a_receiver_that_keeps_failing_leaves_a_failed_delivery_with_the_status(
    hook_client: httpx.AsyncClient,
    hook_settings: Settings,
    world: World,
    db: Database,
    bus: MemoryEventBus,
) -> None:
    async with webhook_receiver(fail_first=1000) as receiver:
        hook = await _subscribe(hook_client, world, receiver.url, ["message.created"])
        receiver.secret = hook["secret"]
        dana = await world.make_customer()
        opened = await open_conversation(hook_client, world.alice.headers, dana.id, "hi")
        reply = await hook_client.post(
            f"{API}/conversations/{opened['id']}/messages",
            json={"body": "we are on it"},
            headers=world.alice.headers,
        )
        assert reply.status_code == 201, reply.text
        runner = create_job_runner(hook_settings, db, bus)
        await runner.start()
        try:
            rows = await _wait_status(db, "failed", within=60)
        finally:
            await runner.stop()
    assert [(r.event_kind, r.attempts, r.status_code, r.last_error) for r in rows] == [
        ("message.created", 8, 500, "HTTP 500")
    ]


async def test_a_rule_calls_its_webhook_and_only_admins_manage_webhooks(
    hook_client: httpx.AsyncClient,
    hook_settings: Settings,
    world: World,
    db: Database,
    bus: MemoryEventBus,
) -> None:
    async with webhook_receiver() as receiver:
        hook = await _subscribe(hook_client, world, receiver.url, ["note.created"])
        receiver.secret = hook["secret"]
        await make_rule(
            hook_client,
            world.alice.headers,
            conditions=[{"field": "text", "op": "contains", "value": "hacked"}],
            actions=[{"type": "call_webhook", "subscription_id": hook["id"]}],
        )
        dana = await world.make_customer()
        await open_conversation(hook_client, world.alice.headers, dana.id, "I was hacked")
        await open_conversation(hook_client, world.alice.headers, dana.id, "hello")
        runner = create_job_runner(hook_settings, db, bus)
        await runner.start()
        try:
            seen = await receiver.wait_for(1)
            await _wait_status(db, "delivered")
        finally:
            await runner.stop()
    assert [r.json["type"] for r in seen] == ["automation.rule"]
    refused = await hook_client.get(f"{API}/webhooks", headers=world.bob.headers)
    assert_error(refused, 403)


async def test_production_settings_refuse_a_loopback_webhook(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    response = await client.post(
        f"{API}/webhooks",
        json={"name": "x", "url": "http://127.0.0.1:9/x", "events": ["message.created"]},
        headers=world.alice.headers,
    )
    assert_error(response, 422, "loopback")
    unknown = await client.post(
        f"{API}/webhooks",
        json={"name": "x", "url": "https://example.com/x", "events": ["everything"]},
        headers=world.alice.headers,
    )
    assert unknown.status_code == 422
    async with db.session() as session:
        assert (await session.execute(select(WebhookSubscription))).first() is None


async def test_the_secret_is_stored_encrypted_and_rotating_it_returns_a_new_one(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    created = await _subscribe(client, world, "https://hooks.example.com/in", ["message.created"])
    async with db.session() as session:
        row = await session.get(WebhookSubscription, created["id"])
    assert row is not None and created["secret"] not in row.secret_encrypted
    same = await client.put(
        f"{API}/webhooks/{created['id']}",
        json={"name": "crm", "url": "https://hooks.example.com/in", "events": ["message.created"]},
        headers=world.alice.headers,
    )
    assert same.status_code == 200 and same.json()["secret"] is None
    rotated = await client.put(
        f"{API}/webhooks/{created['id']}",
        json={
            "name": "crm",
            "url": "https://hooks.example.com/in",
            "events": ["message.created"],
            "rotate_secret": True,
        },
        headers=world.alice.headers,
    )
    assert rotated.json()["secret"] not in (None, created["secret"])
