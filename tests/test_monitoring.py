"""GET /metrics: request latency by route template, the job queue, WebSocket connections,
the assistant's latency, and who may read it."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from websockets.asyncio.client import connect

from ledgerdesk.app import create_app
from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.jobs import do_enqueue_job
from ledgerdesk.monitoring.metrics import observe_assistant_answer
from ledgerdesk.settings import Settings
from tests.api_support import API
from tests.conftest import LiveServer, World

HISTOGRAM = "ledgerdesk_http_request_duration_seconds"
CONVERSATION_ROUTE = "/api/v1/conversations/{conversation_id}"


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _value(text: str, name: str, labels: str = "") -> float | None:
    """A sample's value in the exposition text, or None when absent."""
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


async def _client(settings: Settings, db: Database, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    app = create_app(settings, db=db, bus=MemoryEventBus())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _conversation(client: httpx.AsyncClient, world: World) -> int:
    customer = await world.make_customer("Mei")
    response = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": customer.id}, "body": "Where is my deposit?"},
        headers=world.alice.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_requests_are_counted_under_their_route_template_never_the_raw_path(
    client: httpx.AsyncClient, world: World
) -> None:
    first = await _conversation(client, world)
    second = await _conversation(client, world)
    ok = {"method": "GET", "route": CONVERSATION_ROUTE, "status": "2xx"}
    missing = {"method": "GET", "route": CONVERSATION_ROUTE, "status": "4xx"}
    before_ok = _sample(f"{HISTOGRAM}_count", **ok)
    before_missing = _sample(f"{HISTOGRAM}_count", **missing)
    for conversation_id in (first, second, first):
        response = await client.get(
            f"{API}/conversations/{conversation_id}", headers=world.alice.headers
        )
        assert response.status_code == 200
    absent = await client.get(f"{API}/conversations/987654321", headers=world.alice.headers)
    assert absent.status_code == 404
    await client.get("/no/such/page/abc123secret")

    assert _sample(f"{HISTOGRAM}_count", **ok) == before_ok + 3
    assert _sample(f"{HISTOGRAM}_count", **missing) == before_missing + 1
    text = (await client.get("/metrics")).text
    assert f'route="{CONVERSATION_ROUTE}"' in text
    routes = set(re.findall(r'route="([^"]*)"', text))
    for route in routes:
        assert route == "<unmatched>" or route.startswith("/"), route
        segments = route.split("/")
        assert str(first) not in segments and str(second) not in segments, route
        for raw in ("987654321", "abc123secret", world.alice.token):
            assert raw not in route, route
    assert 'route="<unmatched>"' in text


async def test_an_unusual_method_does_not_become_a_label_of_its_own(
    client: httpx.AsyncClient,
) -> None:
    before = _sample(f"{HISTOGRAM}_count", method="OTHER", route="/healthz", status="4xx")
    response = await client.request("BREW", "/healthz")
    assert response.status_code == 405
    assert _sample(f"{HISTOGRAM}_count", method="OTHER", route="/healthz", status="4xx") == (
        before + 1
    )


async def test_the_queue_depth_and_age_reflect_the_jobs_waiting(
    client: httpx.AsyncClient, db: Database
) -> None:
    text = (await client.get("/metrics")).text
    assert _value(text, "ledgerdesk_job_queue_depth", 'kind="monitoring.probe"') is None
    assert _value(text, "ledgerdesk_job_queue_oldest_age_seconds") == 0.0

    now = utcnow()
    async with db.writer() as session, UnitOfWork(session) as uow:
        await do_enqueue_job(uow, "monitoring.probe", {"n": 1}, run_at=now - timedelta(minutes=2))
        await do_enqueue_job(uow, "monitoring.probe", {"n": 2})
        await do_enqueue_job(uow, "monitoring.probe", {"n": 3})
        await do_enqueue_job(uow, "monitoring.other", {})
        # Scheduled for later: not waiting yet.
        await do_enqueue_job(uow, "monitoring.probe", {"n": 4}, delay=timedelta(hours=1))
        await uow.commit()

    text = (await client.get("/metrics")).text
    assert _value(text, "ledgerdesk_job_queue_depth", 'kind="monitoring.probe"') == 3.0
    assert _value(text, "ledgerdesk_job_queue_depth", 'kind="monitoring.other"') == 1.0
    age = _value(text, "ledgerdesk_job_queue_oldest_age_seconds")
    assert age is not None and 120.0 <= age < 600.0


async def test_websocket_connections_move_the_gauge(live_server: LiveServer, world: World) -> None:
    gauge = "ledgerdesk_websocket_connections"
    before = _sample(gauge)
    async with connect(live_server.ws_url) as first, connect(live_server.ws_url) as second:
        for socket in (first, second):
            await socket.send(json.dumps({"type": "hello", "token": world.bob.token}))
            while json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] != "ready":
                pass
        assert _sample(gauge) == before + 2
        async with httpx.AsyncClient() as http:
            text = (await http.get(live_server.url + "/metrics")).text
        assert _value(text, gauge) == before + 2
    for _ in range(200):
        if _sample(gauge) == before:
            break
        await asyncio.sleep(0.02)
    assert _sample(gauge) == before


def test_assistant_answers_are_timed_by_outcome() -> None:
    name = "ledgerdesk_assistant_answer_seconds_count"
    before = _sample(name, outcome="handoff")
    observe_assistant_answer(0.0, handoff=True)
    assert _sample(name, outcome="handoff") == before + 1


async def test_without_a_token_only_direct_loopback_clients_may_read(
    settings: Settings, db: Database
) -> None:
    async with await _client(settings, db) as local:
        response = await local.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert "ledgerdesk_http_request_duration_seconds" in response.text
        proxied = await local.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
        assert proxied.status_code == 403
        assert "proxy" in proxied.text and "LEDGERDESK_METRICS_TOKEN" in proxied.text
    async with await _client(settings, db, ip="203.0.113.9") as remote:
        response = await remote.get("/metrics")
        assert response.status_code == 403
        assert "loopback" in response.text


@pytest.mark.parametrize("ip", ["127.0.0.1", "203.0.113.9"])
async def test_with_a_token_set_the_token_is_required_from_everywhere(
    settings: Settings, db: Database, ip: str
) -> None:
    secured = settings.model_copy(
        update={"metrics_token": SecretStr("s3cret-metrics-token-0123456789")}
    )
    async with await _client(secured, db, ip=ip) as client:
        missing = await client.get("/metrics")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in missing.text
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403 and "wrong metrics token" in wrong.text
        basic = await client.get("/metrics", headers={"Authorization": "Basic czNjcmV0"})
        assert basic.status_code == 403
        right = await client.get(
            "/metrics", headers={"Authorization": "Bearer s3cret-metrics-token-0123456789"}
        )
        assert right.status_code == 200
        assert "ledgerdesk_job_queue_oldest_age_seconds" in right.text
        assert "s3cret" not in right.text
