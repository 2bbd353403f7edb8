"""Instructions per API request, counted by valgrind: a figure this shared machine's
noise does not move.

Requests/s and even CPU time per request drift by 10-30% between minutes here, and by
about three times between sessions, which hides a 5-15% change. Valgrind's callgrind
counts the instructions the process executes: the same code, inputs and start-up give
the same count whatever else the machine does. The app runs in process (raw ASGI
calls, no sockets, no HTTP parsing; the embedded job worker off), with production
settings on a SQLite file. The process runs twice, with ``--small`` and ``--large``
requests after the same start-up and warm-up; the difference divided by the extra
requests is the cost of one request, start-up cancelled out.

    python bench/instructions_bench.py --operation post          # about 10 minutes
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


async def _child(operation: str, requests: int) -> None:
    """Start the app, warm it up, then make ``requests`` requests of ``operation``."""
    from api_bench import prepare

    data_dir = tempfile.mkdtemp(prefix="ledgerdesk-instructions-")
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
        }
    )
    from ledgerdesk.app import create_app

    token, customer_id = await prepare(url)
    app = create_app()
    conversation_ids: list[int] = []

    async def create(index: int) -> None:
        body = {
            "customer": {"id": customer_id},
            "subject": f"Deposit not credited {index}",
            "body": "I sent 120 USDT on TRC-20 an hour ago and it has not arrived yet.",
            "tags": ["deposit"],
        }
        created = await _call(app, "POST", "/api/v1/conversations", body, token)
        conversation_ids.append(created["id"])

    async def post(index: int) -> None:
        conversation_id = conversation_ids[index % WARM_UP]
        body = {"body": f"Thanks for waiting, we are checking transaction {index} now."}
        path = f"/api/v1/conversations/{conversation_id}/messages"
        await _call(app, "POST", path, body, token)

    try:
        async with app.router.lifespan_context(app):
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
    parser.add_argument("--operation", choices=["create", "post"], default="post")
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
