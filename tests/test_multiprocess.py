"""Two server processes on PostgreSQL and Redis behave as one: the deployment at scale.

Each process is a real `ledgerdesk serve` subprocess; the customer talks to one,
the agent to the other.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ledgerdesk.accounts.actions import do_create_agent, do_create_api_token
from ledgerdesk.accounts.principal import AGENT_SCOPES
from ledgerdesk.cli import run_migrations
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from tests.conftest import (
    PASSWORD,
    REDIS_URL,
    LiveServer,
    _create_postgres_database,
    _drop_postgres_database,
    require_redis,
)
from tests.test_realtime import client


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


class Cluster:
    def __init__(self, servers: list[LiveServer], agent_token: str, customer_token: str) -> None:
        self.servers = servers
        self.agent_token = agent_token
        self.customer_token = customer_token


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    await require_redis()
    name, url = await _create_postgres_database()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(run_migrations, url)
        db = Database(url)
        async with UnitOfWork(db.write_sessionmaker()) as uow:
            agent = await do_create_agent(
                uow, actor=None, email="wang@example.cn", name="Wang Fang", password=PASSWORD
            )
            agent_token, _ = await do_create_api_token(
                uow, actor=None, name="t", scopes=sorted(AGENT_SCOPES - {"admin"}), agent=agent
            )
            customer = await do_create_customer(uow, actor=None, name="Li", email="li@example.cn")
            customer_token, _ = await do_create_api_token(
                uow,
                actor=None,
                name="w",
                customer_id=customer.id,
                scopes=["conversations:read", "conversations:write"],
            )
            await uow.commit()
        await db.dispose()
        env = {
            **os.environ,
            "LEDGERDESK_ENVIRONMENT": "production",
            "LEDGERDESK_SECRET_KEY": secrets.token_urlsafe(48),
            "LEDGERDESK_DATABASE_URL": url,
            "LEDGERDESK_REDIS_URL": REDIS_URL,
            "LEDGERDESK_REDIS_CHANNEL_PREFIX": f"test-{uuid.uuid4().hex[:8]}:",
            "LEDGERDESK_DATA_DIR": str(tmp_path),
            "LEDGERDESK_LOG_LEVEL": "warning",
        }
        servers = []
        for _ in range(2):
            port = _free_port()
            process = subprocess.Popen(  # noqa: ASYNC220, S603 (our own CLI, started once)
                [sys.executable, "-m", "ledgerdesk.cli", "serve", "--port", str(port)], env=env
            )
            processes.append(process)
            servers.append(LiveServer(f"http://127.0.0.1:{port}"))
            await _wait_up(servers[-1].url, process)
        yield Cluster(servers, agent_token, customer_token)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.to_thread(process.wait, 20)
        await _drop_postgres_database(name)


async def test_a_customer_and_an_agent_on_different_processes_hear_each_other(
    cluster: Cluster,
) -> None:
    one, two = cluster.servers
    async with client(one, cluster.customer_token) as li, client(two, cluster.agent_token) as wang:
        await li.send(type="send", client_id="li-1", body="提现一直在处理中，怎么回事？")
        ack = await li.next("ack")
        created = await wang.event("conversation.created")
        assert created["data"]["message"]["body"] == "提现一直在处理中，怎么回事？"
        await wang.send(
            type="send",
            client_id="wang-1",
            conversation_id=ack["conversation_id"],
            body="您好，我们正在核实链上记录。",
        )
        assert (await wang.next("ack"))["duplicate"] is False
        reply = await li.event("message.created")
        assert reply["data"]["message"]["body"] == "您好，我们正在核实链上记录。"
        await li.send(type="typing", conversation_id=ack["conversation_id"])
        assert (await wang.next("typing"))["who"] == "customer"


async def test_a_token_revoked_on_one_process_stops_working_on_the_other(
    cluster: Cluster,
) -> None:
    one, two = cluster.servers
    headers = {"Authorization": f"Bearer {cluster.agent_token}"}
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{two.url}/api/v1/me", headers=headers)).status_code == 200
        tokens = (await http.get(f"{one.url}/api/v1/tokens", headers=headers)).json()
        revoked = await http.delete(f"{one.url}/api/v1/tokens/{tokens[0]['id']}", headers=headers)
        assert revoked.status_code == 204
        # The other process had the token cached; Redis tells it to forget.
        for _ in range(50):
            if (await http.get(f"{two.url}/api/v1/me", headers=headers)).status_code == 401:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the other process still accepts a revoked token after 2.5 s")
