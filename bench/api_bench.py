"""REST API throughput and latency against a real server with production settings.

For each database it starts ``ledgerdesk serve`` in a subprocess, then 16 concurrent
clients (aiohttp, keep-alive) run three phases:

1. create conversations (POST /api/v1/conversations),
2. post messages to them (POST /api/v1/conversations/{id}/messages),
3. once 10,000 conversations exist, list the first page of open ones
   (GET /api/v1/conversations?status=open).

It prints requests/s, p50/p99 latency and the server's CPU time per request (all its
processes, from /proc: steadier than requests/s on a shared machine) per operation,
and the machine.

    python bench/api_bench.py                      # SQLite and PostgreSQL
    python bench/api_bench.py --database sqlite --requests 5000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
from sqlalchemy import insert

from ledgerdesk.accounts.actions import do_create_agent, do_create_api_token
from ledgerdesk.accounts.principal import AGENT_SCOPES
from ledgerdesk.cli import run_migrations
from ledgerdesk.conversations.models import Conversation, Message
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe

POSTGRES_ADMIN_DSN = os.environ.get(
    "LEDGERDESK_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
LIST_TARGET = 10_000


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants, from /proc.

    On a machine shared with others (and with this load generator), requests/s move
    with the neighbours; the server's CPU time per request hardly does. NaN off Linux.
    """
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, pending, seen = 0.0, [pid], 0
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            seen += 1
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue  # gone in the meantime, or no /proc
    return total if seen else float("nan")


@dataclass
class PhaseResult:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    server_cpu_seconds: float = float("nan")
    # This load generator's own CPU time: what of the machine's cores the server did
    # not get (the generator and the server share them).
    client_cpu_seconds: float = float("nan")

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def line(self) -> str:
        return (
            f"  {self.name:<28} {self.rate:8.1f} req/s   p50 {self.percentile(0.50):6.1f} ms"
            f"   p99 {self.percentile(0.99):6.1f} ms"
            f"   mean {statistics.fmean(self.latencies_ms):6.1f} ms   errors {self.errors}"
            f"   server CPU {1e6 * self.server_cpu_seconds / self.requests:6.0f} µs/req"
            f"   client CPU {1e6 * self.client_cpu_seconds / self.requests:4.0f} µs/req"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def prepare(url: str) -> tuple[str, int]:
    """Migrate, then make an admin token and one customer; returns (token, customer id)."""
    await asyncio.to_thread(run_migrations, url)
    db = Database(url)
    try:
        async with UnitOfWork(db.write_sessionmaker()) as uow:
            agent = await do_create_agent(
                uow,
                actor=None,
                email="bench@example.org",
                name="Bench",
                password=secrets.token_urlsafe(16),
                role="admin",
            )
            token, _ = await do_create_api_token(
                uow, actor=None, name="bench", scopes=sorted(AGENT_SCOPES), agent=agent
            )
            customer = await do_create_customer(
                uow, actor=None, name="Load Tester", email="load@example.org"
            )
            await uow.commit()
        return token, customer.id
    finally:
        await db.dispose()


async def fill_conversations(url: str, customer_id: int, total: int) -> None:
    """Top the table up to ``total`` conversations, a third of them open, in bulk."""
    db = Database(url)
    try:
        async with db.write_sessionmaker() as session:
            from sqlalchemy import func, select

            existing = (await session.execute(select(func.count(Conversation.id)))).scalar_one()
            missing = total - existing
            now = datetime.now(UTC)
            statuses = ["open", "pending", "solved"]
            for start in range(0, max(missing, 0), 2000):
                rows = [
                    {
                        "subject": f"Withdrawal pending #{start + i}",
                        "channel": "api",
                        "customer_id": customer_id,
                        "status": statuses[(start + i) % 3],
                        "priority": "normal",
                        "custom_fields": {},
                        "message_count": 1,
                        "created_at": now,
                        "updated_at": now,
                        "last_message_at": now,
                    }
                    for i in range(min(2000, missing - start))
                ]
                await session.execute(insert(Conversation), rows)
            await session.commit()
            count = (await session.execute(select(func.count(Conversation.id)))).scalar_one()
            messages = (await session.execute(select(func.count(Message.id)))).scalar_one()
            print(f"  table holds {count} conversations, {messages} messages")
    finally:
        await db.dispose()


async def run_phase(
    name: str,
    total: int,
    clients: int,
    request: Callable[[aiohttp.ClientSession, int], Awaitable[int]],
    base_url: str,
    token: str,
    server_pid: int | None = None,
) -> PhaseResult:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=clients)

    async with aiohttp.ClientSession(base_url, headers=headers, connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            for index in counter:
                started = time.perf_counter()
                status = await request(session, index)
                latencies.append((time.perf_counter() - started) * 1000)
                if status >= 400:
                    errors += 1

        cpu_before = server_cpu_seconds(server_pid) if server_pid else float("nan")
        client_before = time.process_time()
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
        client_cpu = time.process_time() - client_before
        cpu = (server_cpu_seconds(server_pid) if server_pid else float("nan")) - cpu_before
    return PhaseResult(name, total, elapsed, latencies, errors, cpu, client_cpu)


async def bench_database(
    label: str, url: str, workers: int, args: argparse.Namespace
) -> list[PhaseResult]:
    print(f"\n== {label}: {workers} web process(es), {args.clients} clients ==")
    token, customer_id = await prepare(url)
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="ledgerdesk-bench-")
    env = {
        **os.environ,
        "LEDGERDESK_ENVIRONMENT": "production",
        "LEDGERDESK_SECRET_KEY": secrets.token_urlsafe(48),
        "LEDGERDESK_DATABASE_URL": url,
        "LEDGERDESK_DATA_DIR": data_dir,
        "LEDGERDESK_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LEDGERDESK_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(  # noqa: ASYNC220, S603 (our own CLI, started once)
        [
            sys.executable,
            "-m",
            "ledgerdesk.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(base_url)
        created_ids: list[int] = []
        rng = random.Random(7)

        async def create(session: aiohttp.ClientSession, index: int) -> int:
            body = {
                "customer": {"id": customer_id},
                "subject": f"Deposit not credited {index}",
                "body": "I sent 120 USDT on TRC-20 an hour ago and it has not arrived yet.",
                "tags": ["deposit"],
            }
            async with session.post("/api/v1/conversations", json=body) as response:
                if response.status == 201:
                    created_ids.append((await response.json())["id"])
                return response.status

        async def reply(session: aiohttp.ClientSession, index: int) -> int:
            conversation_id = rng.choice(created_ids)
            body = {"body": f"Thanks for waiting, we are checking transaction {index} now."}
            path = f"/api/v1/conversations/{conversation_id}/messages"
            async with session.post(path, json=body) as response:
                await response.read()
                return response.status

        async def list_open(session: aiohttp.ClientSession, index: int) -> int:
            async with session.get("/api/v1/conversations?status=open&limit=25") as response:
                await response.read()
                return response.status

        pid = server.pid
        await run_phase("warm-up", 200, args.clients, create, base_url, token)
        results = [
            await run_phase(
                "create conversation", args.requests, args.clients, create, base_url, token, pid
            ),
            await run_phase(
                "post message", args.requests, args.clients, reply, base_url, token, pid
            ),
        ]
        await fill_conversations(url, customer_id, LIST_TARGET)
        results.append(
            await run_phase(
                f"list open, {LIST_TARGET // 1000}k in table",
                args.requests,
                args.clients,
                list_open,
                base_url,
                token,
                pid,
            )
        )
        for result in results:
            print(result.line())
        return results
    finally:
        server.terminate()
        server.wait(timeout=30)


async def wait_until_up(base_url: str) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{base_url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not start within 30 s")


async def fresh_postgres_database() -> str:
    name = "ledgerdesk_bench"
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=3000, help="requests per phase")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="web processes (default: 1 on SQLite, the embedded default; 2 on PostgreSQL)",
    )
    args = parser.parse_args()
    print(describe())
    if args.database in ("sqlite", "both"):
        directory = tempfile.mkdtemp(prefix="ledgerdesk-bench-sqlite-")
        url = f"sqlite+aiosqlite:///{directory}/bench.db"
        await bench_database("SQLite", url, args.workers or 1, args)
    if args.database in ("postgres", "both"):
        await bench_database("PostgreSQL", await fresh_postgres_database(), args.workers or 2, args)


if __name__ == "__main__":
    asyncio.run(main())
