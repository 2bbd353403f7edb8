"""Attachments from the widget: real images and PDFs only, decided by their bytes, served
back to their owner and to agents only."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerdesk.app import create_app
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.settings import Settings
from tests.conftest import World
from tests.webchat_support import (
    EVIL,
    Chat,
    assert_error,
    bearer,
    make_chat,
    pdf_bytes,
    png_bytes,
    visitor,
)


@pytest.fixture
async def chat(app: Any, world: World) -> Chat:
    return await make_chat(app.state.ledgerdesk, world)


def _stored_files(data_dir: Path) -> list[Path]:
    return [path for path in (data_dir / "attachments").rglob("*") if path.is_file()]


def _upload(
    http: httpx.AsyncClient,
    token: str,
    data: bytes,
    filename: str = "file.bin",
    content_type: str = "application/octet-stream",
    origin: str | None = "https://harbor.example",
) -> Any:
    return http.post(
        "/widget/v1/attachments",
        files={"file": (filename, data, content_type)},
        headers=bearer(token, origin),
    )


async def test_a_real_png_is_accepted_stored_by_its_hash_and_served_to_its_owner(
    client: httpx.AsyncClient, chat: Chat, settings: Settings
) -> None:
    session = await visitor(client, chat)
    image = png_bytes(4, 3)

    uploaded = await _upload(client, session["token"], image, "screenshot.png", "image/png")

    assert uploaded.status_code == 201, uploaded.text
    sha = hashlib.sha256(image).hexdigest()
    assert uploaded.json() == {
        "filename": "screenshot.png",
        "content_type": "image/png",
        "size": len(image),
        "url": f"/widget/v1/attachments/{sha}",
    }
    assert uploaded.headers["access-control-allow-origin"] == "https://harbor.example"
    stored = settings.data_dir / "attachments" / sha[:2] / sha[2:4] / sha
    assert stored.read_bytes() == image
    fetched = await client.get(uploaded.json()["url"], headers=bearer(session["token"]))
    assert fetched.status_code == 200
    assert fetched.content == image
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.headers["x-content-type-options"] == "nosniff"
    assert fetched.headers["content-disposition"].startswith('inline; filename="screenshot.png"')


async def test_a_pdf_is_accepted_whatever_the_browser_declared_and_downloads_as_a_file(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    session = await visitor(client, chat)
    document = pdf_bytes()
    uploaded = await _upload(client, session["token"], document, "报告 2024.pdf", "text/plain")
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["content_type"] == "application/pdf"
    assert uploaded.json()["filename"] == "报告 2024.pdf"
    fetched = await client.get(uploaded.json()["url"], headers=bearer(session["token"]))
    assert fetched.content == document
    disposition = fetched.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E6%8A%A5%E5%91%8A%202024.pdf" in disposition


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"<!doctype html><script>alert(document.cookie)</script>", "cute-cat.png"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.svg"),
        (b"MZ\x90\x00\x03 this is a windows program", "receipt.pdf"),
        (b"PK\x03\x04 a zip archive", "statement.jpg"),
        (b"\x89PN", "truncated.png"),
    ],
)
async def test_a_file_that_is_not_really_an_image_or_pdf_is_refused(
    client: httpx.AsyncClient, chat: Chat, data: bytes, filename: str
) -> None:
    session = await visitor(client, chat)
    refused = await _upload(client, session["token"], data, filename, "image/png")
    assert_error(refused, 415, "whatever its name says")


async def test_an_empty_file_a_missing_field_and_a_non_multipart_body_are_refused(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    token = (await visitor(client, chat))["token"]
    empty = await _upload(client, token, b"", "empty.png", "image/png")
    wrong_field = await client.post(
        "/widget/v1/attachments",
        files={"upload": ("a.png", png_bytes(), "image/png")},
        headers=bearer(token),
    )
    raw = await client.post(
        "/widget/v1/attachments",
        content=png_bytes(),
        headers={**bearer(token), "Content-Type": "image/png"},
    )
    two_files = await client.post(
        "/widget/v1/attachments",
        files=[("file", ("a.png", png_bytes(), "image/png")), ("file", ("b.pdf", pdf_bytes()))],
        headers=bearer(token),
    )
    broken = await client.post(
        "/widget/v1/attachments",
        content=b"--xyz\r\nnot a real part",
        headers={**bearer(token), "Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert_error(empty, 422, "empty")
    assert_error(wrong_field, 422, "'file'")
    assert_error(raw, 415, "multipart/form-data")
    assert two_files.status_code == 400 and "error" in two_files.json()
    assert 400 <= broken.status_code < 500 and "error" in broken.json()


@pytest.fixture
async def small_limit_client(
    settings: Settings, db: Database, bus: MemoryEventBus
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The app with a 4 KiB upload limit."""
    app = create_app(settings.model_copy(update={"widget_max_upload_bytes": 4096}), db=db, bus=bus)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http, app


async def test_an_oversize_file_is_refused_before_and_while_it_streams_in(
    small_limit_client: tuple[httpx.AsyncClient, Any], world: World
) -> None:
    http, app = small_limit_client
    chat = await make_chat(app.state.ledgerdesk, world)
    token = (await visitor(http, chat))["token"]

    just_over = await _upload(http, token, png_bytes(padding=4200), "big.png", "image/png")
    huge = await _upload(http, token, png_bytes(padding=200_000), "huge.png", "image/png")
    fits = await _upload(http, token, png_bytes(padding=3000), "fits.png", "image/png")

    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        # No Content-Length: the limit must hold while the body streams in.
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n\r\n'
        for _ in range(2000):
            sent += 1
            yield b"\x89PNG" + b"x" * 1020

    streamed = await http.post(
        "/widget/v1/attachments",
        content=endless(),
        headers={**bearer(token), "Content-Type": "multipart/form-data; boundary=b"},
    )

    assert_error(just_over, 413, "larger than 4 KiB")
    assert_error(huge, 413)
    assert_error(streamed, 413)
    assert "content-length" not in streamed.request.headers
    assert sent < 100, "the server stopped reading soon after the limit (4 KiB + envelope)"
    assert fits.status_code == 201


async def test_another_visitor_cannot_fetch_a_file_but_an_agent_can(
    client: httpx.AsyncClient, chat: Chat, world: World
) -> None:
    owner = await visitor(client, chat)
    stranger = await visitor(client, chat)
    image = png_bytes(2, 2)
    url = (await _upload(client, owner["token"], image, "id-card.png", "image/png")).json()["url"]

    assert_error(await client.get(url, headers=bearer(stranger["token"])), 404)
    assert_error(await client.get(url), 401)
    as_agent = await client.get(url, headers=world.bob.headers)
    assert as_agent.status_code == 200 and as_agent.content == image


async def test_the_same_file_from_two_visitors_is_stored_once_and_each_may_fetch_it(
    client: httpx.AsyncClient, chat: Chat, settings: Settings
) -> None:
    image = png_bytes(5, 5)
    first, second = await visitor(client, chat), await visitor(client, chat)
    for who in (first, second):
        assert (await _upload(client, who["token"], image, "same.png")).status_code == 201
    sha = hashlib.sha256(image).hexdigest()
    files = _stored_files(settings.data_dir)
    assert [p.name for p in files] == [sha]
    for who in (first, second):
        assert (
            await client.get(f"/widget/v1/attachments/{sha}", headers=bearer(who["token"]))
        ).status_code == 200


async def test_uploads_and_downloads_from_a_foreign_site_are_refused(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    token = (await visitor(client, chat))["token"]
    refused = await _upload(client, token, png_bytes(), "a.png", origin=EVIL)
    assert_error(refused, 403, "allowed origins")
    url = (await _upload(client, token, png_bytes(), "a.png")).json()["url"]
    assert_error(await client.get(url, headers=bearer(token, EVIL)), 403)


async def test_bad_attachment_addresses_and_agent_uploads_get_4xx(
    client: httpx.AsyncClient, chat: Chat, world: World
) -> None:
    token = (await visitor(client, chat))["token"]
    assert_error(await client.get("/widget/v1/attachments/not-a-hash", headers=bearer(token)), 422)
    assert_error(await client.get("/widget/v1/attachments/" + "0" * 64, headers=bearer(token)), 404)
    assert_error(await client.get("/widget/v1/attachments/" + "A" * 64, headers=bearer(token)), 422)
    agent_upload = await client.post(
        "/widget/v1/attachments",
        files={"file": ("a.png", png_bytes(), "image/png")},
        headers=world.bob.headers,
    )
    assert_error(agent_upload, 403, "visitor")


async def test_a_file_missing_from_the_store_is_a_clear_404(
    client: httpx.AsyncClient, chat: Chat, settings: Settings
) -> None:
    token = (await visitor(client, chat))["token"]
    url = (await _upload(client, token, png_bytes(7, 7), "a.png")).json()["url"]
    for path in _stored_files(settings.data_dir):
        path.unlink()
    assert_error(await client.get(url, headers=bearer(token)), 404, "missing")
