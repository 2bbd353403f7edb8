"""A real HTTP endpoint for webhook tests: uvicorn on a loopback port, in the test's loop.

It checks each request's ``Ledgerdesk-Signature`` the way a customer's receiver
would (automation/signing.verify over the raw body), answers 500 to the first
``fail_first`` requests (to exercise retries), then 200, and keeps what it saw.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from ledgerdesk.automation.signing import HEADER, verify


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    secret: str = ""
    fail_first: int = 0
    seen: list[Received] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        verified = bool(self.secret) and verify(self.secret, body, headers.get(HEADER.lower(), ""))
        self.seen.append(Received(headers, body, verified))
        status = 500 if len(self.seen) <= self.fail_first else (200 if verified else 401)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok" if status == 200 else b"no"})

    async def wait_for(self, n: int, within: float = 30.0) -> list[Received]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(self.seen) < n:
            if loop.time() > deadline:
                raise AssertionError(f"the receiver got {len(self.seen)} requests, not {n}")
            await asyncio.sleep(0.02)
        return self.seen


@asynccontextmanager
async def webhook_receiver(fail_first: int = 0) -> AsyncIterator[Receiver]:
    receiver = Receiver(fail_first=fail_first)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        receiver, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no started event)
        await asyncio.sleep(0.01)
    receiver.url = f"http://127.0.0.1:{port}/hooks/ledgerdesk"
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
