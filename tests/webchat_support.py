"""Helpers shared by the web chat tests: a web chat inbox, sessions, real files, and a
widget's connection to the real-time endpoint of a live server."""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import connect

from ledgerdesk.channels.webchat.actions import do_create_webchat_inbox
from ledgerdesk.channels.webchat.identity import user_hash
from ledgerdesk.conversations.models import Inbox
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.server.state import AppState
from tests.api_support import assert_error as assert_api_error
from tests.conftest import LiveServer, World

SITE = "https://harbor.example"
EVIL = "https://harb0r-support.example"


@dataclass
class Chat:
    """A web chat inbox of the Support team, embeddable on https://harbor.example."""

    inbox: Inbox
    key: str
    secret: str

    def signed(self, user_id: str) -> dict[str, str]:
        return {"user_id": user_id, "user_hash": user_hash(self.secret, user_id)}


async def make_chat(
    state: AppState, world: World, name: str = "Harbor web chat", origins: list[str] | None = None
) -> Chat:
    async with UnitOfWork(world.db.write_sessionmaker()) as uow:
        inbox, secret = await do_create_webchat_inbox(
            uow,
            actor=None,
            box=state.box,
            name=name,
            default_team_id=world.support.id,
            allowed_origins=[SITE] if origins is None else origins,
            greetings={"en": "Hello from Harbor", "zh-Hans": "你好，这里是 Harbor"},
        )
        await uow.commit()
    assert inbox.widget_key is not None
    return Chat(inbox, inbox.widget_key, secret)


async def start_session(
    http: httpx.AsyncClient, chat: Chat, origin: str | None = SITE, **fields: Any
) -> httpx.Response:
    headers = {"Origin": origin} if origin else {}
    return await http.post(
        "/widget/v1/session", json={"inbox": chat.key, **fields}, headers=headers
    )


async def visitor(http: httpx.AsyncClient, chat: Chat, **fields: Any) -> dict[str, Any]:
    response = await start_session(http, chat, **fields)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str, origin: str | None = SITE) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if origin:
        headers["Origin"] = origin
    return headers


def png_bytes(width: int = 1, height: int = 1, padding: int = 0) -> bytes:
    """A real PNG (decodable by any viewer), optionally padded with a text chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\x1f\x5e\xff" * width for _ in range(height))
    extra = chunk(b"tEXt", b"Comment\x00" + b"x" * padding) if padding else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + extra
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def pdf_bytes() -> bytes:
    """A minimal one-page PDF with a valid cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return out


def assert_error(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """The project's JSON error shape (see api_support), served as JSON to the widget."""
    assert response.headers["content-type"].startswith("application/json")
    return assert_api_error(response, status, *words)


TIMEOUT = 5.0


class Socket:
    """A widget's (or a console's) real-time connection, read frame by frame."""

    def __init__(self, socket: Any, timeout: float = TIMEOUT) -> None:
        self.socket = socket
        self.timeout = timeout

    async def send(self, **frame: Any) -> None:
        await self.socket.send(json.dumps(frame))

    async def _frame(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.socket.recv(), self.timeout)
        frame: dict[str, Any] = json.loads(raw)
        return frame

    async def next(self, *types: str) -> dict[str, Any]:
        while True:
            frame = await self._frame()
            if frame["type"] in types:
                return frame

    async def next_event(self, kind: str) -> dict[str, Any]:
        while True:
            frame = await self._frame()
            if frame["type"] == "event" and frame["kind"] == kind:
                return frame


@asynccontextmanager
async def realtime(
    server: LiveServer, token: str, frame_wait: float = TIMEOUT
) -> AsyncIterator[Socket]:
    async with connect(server.ws_url) as raw:
        socket = Socket(raw, frame_wait)
        await socket.send(type="hello", token=token)
        await socket.next("ready")
        yield socket


@asynccontextmanager
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client
