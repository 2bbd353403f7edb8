"""What the bare web stack serves on this machine, for scale next to api_bench.py.

The same server (uvicorn with uvloop and httptools, one process), framework
(FastAPI, a Pydantic body) and load generator (aiohttp, 16 keep-alive clients on
the same machine) as ``api_bench.py``, around an endpoint that does almost
nothing: ``--mode none`` answers at once, ``--mode sqlite`` inserts one row and
commits (sqlite3 on the event loop, WAL, synchronous=NORMAL, as ledgerdesk's inline
SQLite). Whatever ledgerdesk does per request (authentication, secret redaction,
SLA clocks, routing, rules, the real-time outbox, the ORM) comes on top of this.

    python bench/stack_floor_bench.py            # both modes, 5,000 requests each
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from fastapi import FastAPI
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe

CLIENTS = 16


class Body(BaseModel):
    subject: str
    body: str
    tags: list[str] = []


def make_app() -> FastAPI:
    """The server side: built in the uvicorn subprocess from the environment."""
    mode = os.environ["FLOOR_MODE"]
    app = FastAPI()
    db: sqlite3.Connection | None = None
    if mode == "sqlite":
        db = sqlite3.connect(os.environ["FLOOR_DB"], isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, subject TEXT, body TEXT)")

    @app.post("/x", status_code=201)
    async def create(payload: Body) -> dict[str, object]:
        row_id = 0
        if db is not None:
            db.execute("BEGIN IMMEDIATE")
            cursor = db.execute(
                "INSERT INTO t (subject, body) VALUES (?, ?)", (payload.subject, payload.body)
            )
            db.execute("COMMIT")
            row_id = int(cursor.lastrowid or 0)
        return {"id": row_id, "subject": payload.subject}

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _load(url: str, requests: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for index in counter:
                body = {"subject": f"Deposit {index}", "body": "120 USDT on TRC-20", "tags": ["x"]}
                started = time.perf_counter()
                async with session.post(url, json=body) as response:
                    await response.read()
                    if response.status != 201:
                        raise RuntimeError(f"status {response.status}")
                latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        return time.perf_counter() - began, latencies


async def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start within 30 s")


async def run(mode: str, requests: int) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "FLOOR_MODE": mode,
        "FLOOR_DB": str(Path(tempfile.mkdtemp(prefix="ledgerdesk-floor-")) / "floor.db"),
        "PYTHONPATH": str(Path(__file__).parent),
    }
    server = subprocess.Popen(  # noqa: ASYNC220, S603 (uvicorn, started once)
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "stack_floor_bench:make_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}/x"
    try:
        await _wait_until_up(f"http://127.0.0.1:{port}/docs")
        await _load(url, 500)  # warm-up
        seconds, latencies = await _load(url, requests)
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(f"  {mode:<7} {requests / seconds:8.0f} req/s   p50 {p50:5.1f} ms   p99 {p99:5.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--mode", choices=["none", "sqlite", "both"], default="both")
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    print(describe())
    print(f"one uvicorn process, {CLIENTS} clients (aiohttp, same machine)")
    for mode in ("none", "sqlite") if args.mode == "both" else (args.mode,):
        await run(mode, args.requests)


if __name__ == "__main__":
    asyncio.run(main())
