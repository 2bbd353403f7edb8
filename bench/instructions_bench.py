"""Instructions per API request, counted by valgrind: a figure this shared machine's
noise does not move.

Requests/s and even CPU time per request drift by 10-30% between minutes here, and by
about three times between sessions, which hides a 5-15% change. Valgrind's callgrind
counts the instructions the process executes: the same code, inputs and start-up give
the same count whatever else the machine does. The app runs in process (raw ASGI
calls, no sockets, no HTTP parsing; the embedded job worker off), with production
settings on a SQLite file. ``--operation chat`` counts a web chat message instead: a
customer's ``send`` frame over an in-process WebSocket until its ack, and the agent
connection's delivery of it (the real-time hub's read included). The process runs
twice, with ``--small`` and ``--large`` requests after the same start-up and warm-up;
the difference divided by the extra requests is the cost of one request, start-up
cancelled out.

    python bench/instructions_bench.py --operation post          # about 10 minutes
    python bench/instructions_bench.py --operation chat
    PYTHONPATH=/path/to/other/tree/src python bench/instructions_bench.py  # compare trees

Needs valgrind (Debian: ``apt-get install valgrind``). Under valgrind a request runs
about a hundred times slower, and start-up (imports, migrations, an argon2 hash)
takes about five minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe

WARM_UP = 20


async def _call(app: Any, method: str, path: str, body: dict[str, Any], token: str) -> Any:
    raw = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    response: dict[str, Any] = {"body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            response["status"] = message["status"]
        elif message["type"] == "http.response.body":
            response["body"] += message.get("body", b"")

    await app(scope, receive, send)
    status = response.get("status")
    if status != 201:
        raise RuntimeError(f"{method} {path} answered {status}: {response['body']!r}")
    return json.loads(response["body"])


class _Socket:
    """An in-process WebSocket client of the ASGI app (no sockets, no frame parsing)."""

    def __init__(self, app: Any, path: str) -> None:
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000")],
            "client": ("127.0.0.1", 50001),
            "server": ("127.0.0.1", 8000),
            "subprotocols": [],
            "state": {},
        }
        self._to_app.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.get_running_loop().create_task(
            app(scope, self._to_app.get, self._from_app.put)
        )

    async def send(self, frame: dict[str, Any]) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": json.dumps(frame)})

    async def receive(self) -> dict[str, Any]:
        """The next text frame (accept and other messages are skipped)."""
        while True:
            message = await self._from_app.get()
            if message["type"] == "websocket.close":
                raise RuntimeError(f"the server closed the connection: {message}")
            if message["type"] == "websocket.send" and message.get("text"):
                frame: dict[str, Any] = json.loads(message["text"])
                return frame

    async def hello(self, token: str) -> None:
        await self.send({"type": "hello", "token": token})
        while (await self.receive())["type"] != "ready":
            pass


async def _chat(app: Any, url: str, requests: int) -> None:
    """Warm up, then ``requests`` customer messages, each until acked and delivered."""
    from chat_bench import prepare as prepare_chat

    agent_token, (customer_token,) = await prepare_chat(url, 1)
    agent = _Socket(app, "/api/v1/realtime")
    await agent.hello(agent_token)
    customer = _Socket(app, "/api/v1/realtime")
    await customer.hello(customer_token)
    conversation_id: int | None = None

    async def message(index: int) -> None:
        nonlocal conversation_id
        client_id = f"c-{index}"
        frame: dict[str, Any] = {
            "type": "send",
            "client_id": client_id,
            "body": f"Is my deposit {index} there yet?",
        }
        if conversation_id is not None:
            frame["conversation_id"] = conversation_id
        await customer.send(frame)
        while True:
            answer = await customer.receive()
            if answer["type"] == "error":
                raise RuntimeError(f"the message was refused: {answer}")
            if answer["type"] == "ack" and answer["client_id"] == client_id:
                conversation_id = answer["conversation_id"]
                break
        while True:  # the agent's connection receives it through the hub
            event = await agent.receive()
            sent = event.get("data", {}).get("message") if event["type"] == "event" else None
            if sent and sent.get("client_id") == client_id:
                return

    for index in range(WARM_UP):
        await message(index)
    for index in range(requests):
        await message(WARM_UP + index)
    for socket in (customer, agent):
        socket.task.cancel()


def use_bench_environment(data_dir: str) -> str:
    """Production settings on a SQLite file in ``data_dir``, the embedded job worker
    off, for an app run in this process; returns the database URL."""
    url = f"sqlite+aiosqlite:///{data_dir}/bench.db"
    os.environ.update(
        {
            "LEDGERDESK_ENVIRONMENT": "production",
            "LEDGERDESK_SECRET_KEY": secrets.token_urlsafe(48),
            "LEDGERDESK_DATABASE_URL": url,
            "LEDGERDESK_DATA_DIR": data_dir,
            "LEDGERDESK_PUBLIC_URL": "http://127.0.0.1:8000",
            "LEDGERDESK_LOG_LEVEL": "warning",
            "LEDGERDESK_JOB_WORKER_IN_SERVER": "false",
            # One visitor sends every chat message, as fast as it can (as in chat_bench).
            "LEDGERDESK_WIDGET_SENDS_PER_MINUTE_PER_VISITOR": "100000",
            "LEDGERDESK_WIDGET_SENDS_PER_MINUTE_PER_IP": "100000",
        }
    )
    return url


def conversation_body(customer_id: int, index: int) -> dict[str, Any]:
    """The body of api_bench's create, for the same work in process."""
    return {
        "customer": {"id": customer_id},
        "subject": f"Deposit not credited {index}",
        "body": "I sent 120 USDT on TRC-20 an hour ago and it has not arrived yet.",
        "tags": ["deposit"],
    }


def reply_body(index: int) -> dict[str, Any]:
    return {"body": f"Thanks for waiting, we are checking transaction {index} now."}


async def _child(operation: str, requests: int) -> None:
    """Start the app, warm it up, then make ``requests`` requests of ``operation``."""
    from api_bench import prepare

    data_dir = tempfile.mkdtemp(prefix="ledgerdesk-instructions-")
    url = use_bench_environment(data_dir)
    from ledgerdesk.app import create_app

    token, customer_id = await prepare(url)
    app = create_app()
    conversation_ids: list[int] = []

    async def create(index: int) -> None:
        body = conversation_body(customer_id, index)
        created = await _call(app, "POST", "/api/v1/conversations", body, token)
        conversation_ids.append(created["id"])

    async def post(index: int) -> None:
        conversation_id = conversation_ids[index % WARM_UP]
        path = f"/api/v1/conversations/{conversation_id}/messages"
        await _call(app, "POST", path, reply_body(index), token)

    try:
        async with app.router.lifespan_context(app):
            if operation == "chat":
                await _chat(app, url, requests)
                return
            for index in range(WARM_UP):
                await create(index)
                await post(index)
            run = create if operation == "create" else post
            for index in range(requests):
                await run(WARM_UP + index)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _count(operation: str, requests: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        str(requests),
        "--operation",
        operation,
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if finished.returncode != 0:
        raise SystemExit(f"the run under valgrind failed:\n{finished.stderr[-3000:]}")
    found = re.search(r"Collected : (\d+)", finished.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no instruction count:\n{finished.stderr[-3000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operation", choices=["create", "post", "chat"], default="post")
    parser.add_argument("--small", type=int, default=20, help="requests in the first run")
    parser.add_argument("--large", type=int, default=120, help="requests in the second run")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        asyncio.run(_child(args.operation, args.child))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    if args.large <= args.small:
        raise SystemExit("--large must be more than --small")
    print(describe())
    import ledgerdesk

    print(f"code: {Path(ledgerdesk.__file__).parent}")
    small = _count(args.operation, args.small)
    large = _count(args.operation, args.large)
    per_request = (large - small) / (args.large - args.small)
    print(
        f"{args.operation}: {small:,} instructions with {args.small} requests, "
        f"{large:,} with {args.large}: {per_request / 1e6:.3f} million a request"
    )


if __name__ == "__main__":
    main()
