"""Web chat throughput, delivery latency and loss, over real WebSockets.

Simulated customers write to their conversations at a fixed total rate (open
loop: sends are scheduled, not paced by replies) while an agent connection
listens to the stream. Each message carries its send time; latency is customer
send to agent receive, over the timed run; each customer's first message, which
opens its conversation and is sent with all the others at once before the run, is
reported on its own line. At the end every message is counted: lost (acked by the
server but never delivered to the agent, or missing from the database) and
duplicated (delivered twice, or stored twice) must both be 0.

    python bench/chat_bench.py                               # both set-ups below
    python bench/chat_bench.py --setup sqlite --rate 500 --seconds 10
    python bench/chat_bench.py --setup postgres --rate 1500 --reconnects

Set-ups: "sqlite" is one process on SQLite (the embedded default); "postgres" is
two processes on PostgreSQL with Redis, customers spread over both and the
agent on the second. ``--agents N`` opens N-1 more agent connections (consoles)
that receive every message too. The server CPU per message (all server
processes, from /proc) is steadier than messages/s on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ledgerdesk.accounts.actions import do_create_agent, do_create_api_token
from ledgerdesk.accounts.principal import AGENT_SCOPES
from ledgerdesk.cli import run_migrations
from ledgerdesk.conversations.models import Message
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork

sys.path.insert(0, str(Path(__file__).parent))
from api_bench import free_port, fresh_postgres_database, server_cpu_seconds, wait_until_up
from machine import describe

REDIS_URL = os.environ.get("LEDGERDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Tally:
    sent_at: dict[str, float] = field(default_factory=dict)  # client_id -> send time
    acked: set[str] = field(default_factory=set)
    delivered: dict[str, int] = field(default_factory=dict)  # client_id -> times seen
    latencies_ms: list[float] = field(default_factory=list)  # messages of the timed run
    # The first message of each customer, all sent at once before the timed run to open
    # the conversations: a burst, not the rate asked for, so reported on its own.
    opening_latencies_ms: list[float] = field(default_factory=list)
    timed_from: float = float("inf")
    reconnects: int = 0
    # Server CPU (all server processes) over the timed run, and the messages it carried.
    server_cpu_seconds: float = float("nan")
    timed_messages: int = 0


async def prepare(url: str, customers: int) -> tuple[str, list[str]]:
    await asyncio.to_thread(run_migrations, url)
    db = Database(url)
    try:
        async with UnitOfWork(db.write_sessionmaker()) as uow:
            agent = await do_create_agent(
                uow,
                actor=None,
                email="agent@example.org",
                name="Agent",
                password=secrets.token_urlsafe(16),
            )
            agent_token, _ = await do_create_api_token(
                uow, actor=None, name="bench", scopes=sorted(AGENT_SCOPES - {"admin"}), agent=agent
            )
            tokens = []
            for number in range(customers):
                customer = await do_create_customer(
                    uow, actor=None, name=f"Visitor {number}", email=f"v{number}@example.org"
                )
                token, _ = await do_create_api_token(
                    uow,
                    actor=None,
                    name="widget",
                    customer_id=customer.id,
                    scopes=["conversations:read", "conversations:write"],
                )
                tokens.append(token)
            await uow.commit()
        return agent_token, tokens
    finally:
        await db.dispose()


async def hello(url: str, token: str, last_event_id: int | None) -> ClientConnection:
    socket = await connect(url, max_queue=None, compression=None)
    frame: dict[str, Any] = {"type": "hello", "token": token}
    if last_event_id is not None:
        frame["last_event_id"] = last_event_id
    await socket.send(json.dumps(frame))
    while json.loads(await socket.recv())["type"] != "ready":
        pass
    return socket


class Agent:
    """Listens to the stream and resumes from its last event id after a drop."""

    def __init__(self, url: str, token: str, tally: Tally) -> None:
        self.url, self.token, self.tally = url, token, tally
        self.last_event_id: int | None = None
        self.socket: ClientConnection | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.socket = await hello(self.url, self.token, self.last_event_id)
                async for raw in self.socket:
                    frame = json.loads(raw)
                    if frame["type"] != "event":
                        continue
                    self.last_event_id = frame["id"]
                    message = frame["data"].get("message")
                    if message and message["author_kind"] == "customer" and message["client_id"]:
                        self.seen(message)
            except (ConnectionClosed, OSError):
                self.tally.reconnects += 1
                await asyncio.sleep(0.05)

    def seen(self, message: dict[str, Any]) -> None:
        client_id = message["client_id"]
        count = self.tally.delivered.get(client_id, 0) + 1
        self.tally.delivered[client_id] = count
        sent = self.tally.sent_at.get(client_id)
        if count == 1 and sent is not None:
            latency = (time.perf_counter() - sent) * 1000
            timed = sent >= self.tally.timed_from
            (self.tally.latencies_ms if timed else self.tally.opening_latencies_ms).append(latency)


class Customer:
    """Sends at its share of the rate; after a drop, reconnects and resends what is unacked."""

    def __init__(self, name: str, url: str, token: str, tally: Tally) -> None:
        self.name, self.url, self.token, self.tally = name, url, token, tally
        self.conversation_id: int | None = None
        self.unacked: dict[str, dict[str, Any]] = {}
        self.socket: ClientConnection | None = None
        self.sequence = 0

    async def connect(self) -> None:
        self.socket = await hello(self.url, self.token, None)
        asyncio.get_running_loop().create_task(self.read(self.socket))
        for frame in list(self.unacked.values()):
            await self.socket.send(json.dumps(frame))

    async def read(self, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                frame = json.loads(raw)
                if frame["type"] == "ack":
                    self.unacked.pop(frame["client_id"], None)
                    self.tally.acked.add(frame["client_id"])
                    self.conversation_id = frame["conversation_id"]
                elif frame["type"] == "error":
                    print(f"  error for {self.name}: {frame}")
        except ConnectionClosed:
            pass

    async def send_one(self) -> None:
        if self.conversation_id is None and self.unacked:
            return  # the first message (which opens the conversation) is still on its way
        self.sequence += 1
        client_id = f"{self.name}-{self.sequence}"
        frame: dict[str, Any] = {"type": "send", "client_id": client_id, "body": f"msg {client_id}"}
        if self.conversation_id is not None:
            frame["conversation_id"] = self.conversation_id
        self.unacked[client_id] = frame
        self.tally.sent_at[client_id] = time.perf_counter()
        if self.socket is None:
            return
        with contextlib.suppress(ConnectionClosed):  # resent after the reconnect
            await self.socket.send(json.dumps(frame))

    async def reconnect(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        self.tally.reconnects += 1
        await self.connect()


async def load(
    ws_urls: list[str],
    agent_token: str,
    tokens: list[str],
    args: argparse.Namespace,
    server_cpu: Callable[[], float] = lambda: float("nan"),
) -> Tally:
    tally = Tally()
    stop = asyncio.Event()
    agent = Agent(ws_urls[-1], agent_token, tally)
    agent_task = asyncio.create_task(agent.run(stop))
    # More consoles, spread over the processes; counted separately.
    extras = [
        Agent(ws_urls[i % len(ws_urls)], agent_token, Tally()) for i in range(args.agents - 1)
    ]
    extra_tasks = [asyncio.create_task(extra.run(stop)) for extra in extras]
    customers = [
        Customer(f"c{i}", ws_urls[i % len(ws_urls)], token, tally) for i, token in enumerate(tokens)
    ]
    await asyncio.gather(*(customer.connect() for customer in customers))
    for customer in customers:  # open each conversation before the timed run
        await customer.send_one()
    while any(customer.conversation_id is None for customer in customers):  # noqa: ASYNC110
        await asyncio.sleep(0.01)

    rng = random.Random(3)
    interval = 1.0 / args.rate
    total = int(args.rate * args.seconds)
    cpu_before = server_cpu()
    began = tally.timed_from = time.perf_counter()
    for number in range(total):
        target = began + number * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await customers[number % len(customers)].send_one()
        if args.reconnects and number and number % max(1, total // 20) == 0:
            # Drop a customer's connection, and now and then the agent's, mid-run.
            asyncio.get_running_loop().create_task(rng.choice(customers).reconnect())
            if number % max(1, total // 5) == 0 and agent.socket is not None:
                asyncio.get_running_loop().create_task(agent.socket.close())
    send_seconds = time.perf_counter() - began

    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        pending = any(customer.unacked for customer in customers)
        undelivered = len(tally.acked - set(tally.delivered))
        if not pending and not undelivered:
            break
        if pending:  # a send lost with a dropped socket is resent on reconnect; nudge stragglers
            await asyncio.sleep(0.5)
            for customer in customers:
                if customer.unacked and customer.socket is not None:
                    for frame in list(customer.unacked.values()):
                        try:
                            await customer.socket.send(json.dumps(frame))
                        except ConnectionClosed:
                            await customer.reconnect()
        await asyncio.sleep(0.1)
    # CPU per message is steadier than messages/s on a machine shared with others.
    tally.server_cpu_seconds = server_cpu() - cpu_before
    tally.timed_messages = total
    print(
        f"  sent {total} messages in {send_seconds:.1f} s "
        f"(asked for {args.rate}/s, achieved {total / send_seconds:.0f}/s)"
    )
    if extras:
        seen = [len(set(extra.tally.delivered) & tally.acked) for extra in extras]
        print(f"  {len(extras)} more agents received {min(seen)} to {max(seen)} of the messages")
    stop.set()
    for listener in [agent, *extras]:
        if listener.socket is not None:
            await listener.socket.close()
    for task in [agent_task, *extra_tasks]:
        task.cancel()
    for customer in customers:
        if customer.socket is not None:
            await customer.socket.close()
    return tally


async def count_stored(url: str) -> tuple[int, int]:
    db = Database(url)
    try:
        async with db.sessionmaker() as session:
            total = (await session.execute(select(func.count(Message.id)))).scalar_one()
            distinct = (
                await session.execute(select(func.count(func.distinct(Message.channel_message_id))))
            ).scalar_one()
        return int(total), int(distinct)
    finally:
        await db.dispose()


def report(label: str, tally: Tally, stored: tuple[int, int]) -> None:
    delivered = set(tally.delivered)
    lost_delivery = len(tally.acked - delivered)
    duplicated = sum(count - 1 for count in tally.delivered.values())
    total_stored, distinct_stored = stored
    latencies = sorted(tally.latencies_ms)
    p50 = latencies[len(latencies) // 2] if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else float("nan")
    print(f"  {label}")
    print(
        f"    acked {len(tally.acked)}, delivered to the agent {len(delivered)}, "
        f"stored {total_stored} ({distinct_stored} distinct client ids)"
    )
    print(
        f"    lost {lost_delivery + (len(tally.acked) - distinct_stored)}, "
        f"duplicated {duplicated + (total_stored - distinct_stored)}, "
        f"reconnects {tally.reconnects}"
    )
    mean = statistics.fmean(latencies) if latencies else float("nan")
    print(f"    delivery latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, mean {mean:.1f} ms")
    if tally.opening_latencies_ms:
        opening = sorted(tally.opening_latencies_ms)
        print(
            f"    (the {len(opening)} opening messages, sent at once before the timed run: "
            f"p50 {opening[len(opening) // 2]:.1f} ms, slowest {opening[-1]:.1f} ms)"
        )
    if tally.timed_messages:
        per_message = 1000 * tally.server_cpu_seconds / tally.timed_messages
        print(f"    server CPU {per_message:.2f} ms per message (all server processes)")


async def run_setup(setup: str, args: argparse.Namespace) -> None:
    workers = 1 if setup == "sqlite" else 2
    if setup == "sqlite":
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='ledgerdesk-chat-')}/chat.db"
    else:
        url = await fresh_postgres_database()
    print(
        f"\n== {setup}: {workers} process(es), {args.customers} customers, "
        f"{args.rate} messages/s for {args.seconds} s, "
        f"reconnects {'on' if args.reconnects else 'off'} =="
    )
    agent_token, tokens = await prepare(url, args.customers)
    env = {
        **os.environ,
        "LEDGERDESK_ENVIRONMENT": "production",
        "LEDGERDESK_SECRET_KEY": secrets.token_urlsafe(48),
        "LEDGERDESK_DATABASE_URL": url,
        "LEDGERDESK_DATA_DIR": tempfile.mkdtemp(prefix="ledgerdesk-chat-data-"),
        "LEDGERDESK_LOG_LEVEL": "warning",
        # All simulated visitors come from one address and write fast: the limits
        # that protect a real site would measure the limiter, not the chat path.
        "LEDGERDESK_WIDGET_SENDS_PER_MINUTE_PER_VISITOR": "100000",
        "LEDGERDESK_WIDGET_SENDS_PER_MINUTE_PER_IP": "100000",
    }
    if setup == "postgres":
        env["LEDGERDESK_REDIS_URL"] = REDIS_URL
        env["LEDGERDESK_REDIS_CHANNEL_PREFIX"] = f"bench-{secrets.token_hex(4)}:"
    servers = []
    urls = []
    try:
        for _ in range(workers):
            port = free_port()
            servers.append(
                subprocess.Popen(  # noqa: ASYNC220, S603 (our own CLI, started once)
                    [sys.executable, "-m", "ledgerdesk.cli", "serve", "--port", str(port)], env=env
                )
            )
            await wait_until_up(f"http://127.0.0.1:{port}")
            urls.append(f"ws://127.0.0.1:{port}/api/v1/realtime")
        pids = [server.pid for server in servers]
        tally = await load(
            urls, agent_token, tokens, args, lambda: sum(server_cpu_seconds(p) for p in pids)
        )
        report(setup, tally, await count_stored(url))
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--setup", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--rate", type=float, default=500, help="messages per second, in total")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--reconnects", action="store_true", help="drop connections mid-run")
    parser.add_argument("--agents", type=int, default=1, help="agent connections listening")
    args = parser.parse_args()
    print(describe())
    for setup in ["sqlite", "postgres"] if args.setup == "both" else [args.setup]:
        await run_setup(setup, args)


if __name__ == "__main__":
    asyncio.run(main())
